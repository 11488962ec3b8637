"""Confirmation in batches: one transaction decides many pending bookings, the earliest
requests first, with every guarantee of deciding one: the window re-checked per booking, no
slot over its capacity, a course all or nothing, each decision announced once. A booking
committed while a confirmation task waits in the queue publishes nothing: it joins the waiting
set, which that task's batch takes.
"""

import random
import time
from datetime import time as clock_time
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.db.models import Count

from bookings import services, tasks
from bookings.errors import NotCancellable, SlotUnavailable
from bookings.models import Booking
from bookings.tests.doses import assert_places_add_up, course_slots, identity, two_dose_campaign
from bookings.tests.factories import BookingFactory
from bookings.tests.threads import in_threads
from campaigns.tests.factories import CampaignFactory
from clinics.models import Slot
from clinics.tests.factories import ClinicFactory, SlotFactory
from vaxbook.celery import app
from vaxbook.notifications.models import Notification


def _requested_in_shuffled_order(slot: Slot, count: int) -> list[Booking]:
    """``count`` pending bookings on ``slot``, requested one second apart, earliest first in
    the list; their ids are in another order, so only the request time can order them."""
    start = slot.campaign.opens_at + timedelta(minutes=1)
    order = list(range(count))
    random.Random(14).shuffle(order)
    made = {n: BookingFactory(slot=slot, requested_at=start + timedelta(seconds=n)) for n in order}
    bookings = [made[n] for n in range(count)]
    assert [b.pk for b in bookings] != sorted(b.pk for b in bookings)
    return bookings


def _announce(bookings: list[Booking]) -> Booking:
    """Each booking announced to the workers as the booking page does once it is committed;
    returns the one whose task was published (the messages themselves are dropped)."""
    app.control.purge()
    for booking in bookings:
        services._enqueue_confirmation(booking.pk)
    app.control.purge()
    return bookings[0]


def _statuses(bookings: list[Booking]) -> list[str]:
    return [Booking.objects.get(pk=b.pk).status for b in bookings]


@pytest.mark.django_db
def test_the_last_places_of_a_slot_go_to_the_earliest_requests_of_a_batch():
    slot = SlotFactory(capacity=3)
    bookings = _requested_in_shuffled_order(slot, 6)
    # committed in another order than requested: the batch still goes by request time
    published = _announce(sorted(bookings, key=lambda b: b.pk))
    services.confirm_booking(published.pk, others=10)  # its task
    assert _statuses(bookings) == ["confirmed"] * 3 + ["rejected"] * 3
    rejected = Booking.objects.filter(status="rejected")
    assert set(rejected.values_list("reject_reason", flat=True)) == {"slot_full"}
    assert set(rejected.values_list("code", flat=True)) == {None}
    slot.refresh_from_db()
    assert slot.booked == 3
    assert Booking.objects.values("decided_at").distinct().count() == 1  # one transaction
    # each decision announced once, by its kind
    kinds = sorted(Notification.objects.values_list("booking_id", "kind"))
    assert kinds == sorted(
        (b.pk, "confirmed" if n < 3 else "rejected") for n, b in enumerate(bookings)
    )


@pytest.mark.django_db
def test_across_batches_the_earliest_requests_still_come_first():
    slot = SlotFactory(capacity=3)
    bookings = BookingFactory.create_batch(7, slot=slot)  # requested and committed in order
    published = _announce(bookings)
    services.confirm_booking(published.pk, others=2)  # its task: two from the set (with it)
    assert _statuses(bookings) == ["confirmed"] * 2 + ["pending"] * 5
    rounds = 0
    while services.confirm_pending_bookings(limit=2):  # the batches that follow
        rounds += 1
    assert rounds == 3
    assert _statuses(bookings) == ["confirmed"] * 3 + ["rejected"] * 4
    slot.refresh_from_db()
    assert slot.booked == 3


@pytest.mark.django_db
def test_a_batch_rechecks_each_window_and_keeps_courses_whole_across_campaigns():
    # one campaign of a single dose: one request from before its opening, two in time
    single = SlotFactory(capacity=5)
    early = BookingFactory(slot=single, requested_at=single.campaign.opens_at - timedelta(1))
    in_time = BookingFactory.create_batch(2, slot=single)
    # a two-dose campaign whose second-dose time has one place left for two courses
    two_doses = two_dose_campaign()
    [first], [second] = course_slots(
        two_doses, times=(clock_time(9, 0),), capacity=5, second_capacity=1
    )
    courses = [
        services.request_booking(two_doses, identity=identity(n), slot_id=first.pk) for n in (1, 2)
    ]
    # a third campaign, its slot full already
    full = SlotFactory(capacity=1, campaign=CampaignFactory())
    taken = services.confirm_booking(BookingFactory(slot=full).pk)
    too_late = BookingFactory(slot=full)

    bookings = sorted([early, *in_time, *courses, too_late], key=lambda b: b.pk)
    services.confirm_booking(_announce(bookings).pk, others=20)

    def outcome(booking):
        booking.refresh_from_db()
        return booking.status, booking.reject_reason

    assert outcome(early) == ("rejected", "outside_window")
    assert [outcome(b) for b in in_time] == [("confirmed", "")] * 2
    assert outcome(too_late) == ("rejected", "slot_full")
    assert outcome(courses[0]) == ("confirmed", "")
    assert outcome(courses[1]) == ("rejected", "later_dose_full")
    assert courses[0].later_doses.get().status == "confirmed"
    assert courses[1].later_doses.get().status == "rejected"
    confirmed = courses[0]
    assert confirmed.later_doses.get().code == f"{confirmed.code}-2"
    for slot, booked in ((single, 2), (first, 1), (second, 1), (full, 1)):
        slot.refresh_from_db()
        assert slot.booked == booked
    assert_places_add_up()
    # one message per decided course (its first dose), none per later dose
    per_booking = Notification.objects.values("booking").annotate(n=Count("pk"))
    assert sorted(row["booking"] for row in per_booking) == sorted(
        b.pk for b in [taken, early, *in_time, too_late, *courses]
    )
    assert {row["n"] for row in per_booking} == {1}


@pytest.mark.django_db
def test_the_sweep_decides_in_batches_oldest_first_and_leaves_fresh_bookings(settings):
    settings.VAXBOOK_CONFIRM_BATCH = 1  # batches of two
    slot = SlotFactory(capacity=3)
    stale = _requested_in_shuffled_order(slot, 5)
    fresh = BookingFactory(slot=slot)
    later = stale[-1].requested_at + timedelta(seconds=settings.VAXBOOK_PENDING_SWEEP_AFTER + 1)
    Booking.objects.filter(pk=fresh.pk).update(requested_at=later)
    assert services.sweep_pending_bookings(now=later) == 5
    assert _statuses(stale) == ["confirmed"] * 3 + ["rejected"] * 2
    assert _statuses([fresh]) == ["pending"]


@pytest.mark.django_db
def test_a_booking_made_while_a_confirmation_waits_in_the_queue_publishes_nothing(
    broker,
):
    slot = SlotFactory(capacity=5)
    first, second = BookingFactory.create_batch(2, slot=slot)
    services._enqueue_confirmation(first.pk)
    assert broker.llen(services.CONFIRMATION_QUEUE) == 1
    services._enqueue_confirmation(second.pk)  # the task queued will take it
    assert broker.llen(services.CONFIRMATION_QUEUE) == 1

    # that task (run here): it takes the mark off, then decides what is pending
    services.confirm_booking(first.pk, others=10)
    assert _statuses([first, second]) == ["confirmed", "confirmed"]
    third = BookingFactory(slot=slot)
    services._enqueue_confirmation(third.pk)  # no task waits: it gets its own
    assert broker.llen(services.CONFIRMATION_QUEUE) == 2


# -- many batches at once, with moves and cancellations --------------------------------------


@pytest.mark.django_db(transaction=True)
def test_parallel_batches_moves_and_cancellations_keep_every_count_true():
    campaign, clinic = CampaignFactory(), ClinicFactory()
    slots = [
        SlotFactory(campaign=campaign, clinic=clinic, start_time=clock_time(9 + n), capacity=8)
        for n in range(4)
    ]
    standing = [BookingFactory(slot=slots[n % 2]) for n in range(12)]
    for booking in standing:
        services.confirm_booking(booking.pk)
    pending = [BookingFactory(slot=slots[n % 4]) for n in range(48)]  # 32 places left for 48
    _announce(pending)  # they wait in the set for the batches below

    def work(item):
        kind, n = item
        if kind == "confirm":
            decided = 0
            while batch := services.confirm_pending_bookings(limit=5):
                decided += batch
            return decided
        booking = standing[n]
        try:
            if kind == "move":
                services.move_booking(booking.pk, slot_id=slots[2 + n % 2].pk)
            else:
                services.cancel_booking(booking.pk)
        except (SlotUnavailable, NotCancellable):
            return 0
        return 1

    jobs = [("confirm", n) for n in range(6)]
    jobs += [("move", n) for n in range(0, 6)] + [("cancel", n) for n in range(6, 12)]
    outcomes = in_threads(work, jobs)

    assert not Booking.objects.filter(status="pending").exists()
    assert sum(outcomes[:6]) == len(pending)  # every booking decided, by one batch each
    assert outcomes[12:] == [1] * 6  # every cancellation went through
    for slot in slots:
        slot.refresh_from_db()
        confirmed = Booking.objects.filter(slot=slot, status="confirmed").count()
        assert slot.booked == confirmed <= slot.capacity, slot
    codes = list(Booking.objects.exclude(code=None).values_list("code", flat=True))
    assert len(codes) == len(set(codes))
    assert not Booking.objects.filter(status="confirmed", code=None).exists()
    assert set(
        Notification.objects.filter(kind__in=["confirmed", "rejected"])
        .values("booking")
        .annotate(n=Count("pk"))
        .values_list("n", flat=True)
    ) == {1}


# -- a real worker ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_worker_decides_a_burst_once_each_despite_duplicate_messages(start_worker):
    campaign, clinic = CampaignFactory(), ClinicFactory()
    slots = [
        SlotFactory(campaign=campaign, clinic=clinic, start_time=clock_time(9 + n), capacity=c)
        for n, c in enumerate([20, 20])
    ]
    bookings = [BookingFactory(slot=slots[n % 2]) for n in range(60)]  # 40 places for 60
    app.control.purge()
    with redis.Redis.from_url(app.conf.broker_url) as broker:
        for booking in bookings:  # as the booking page does once each is committed
            services._enqueue_confirmation(booking.pk)
        published = broker.llen(services.CONFIRMATION_QUEUE)
    assert 1 <= published < len(bookings) // 2
    for booking in bookings[::3]:  # and a duplicate message for every third (a redelivery)
        tasks.confirm_booking.delay(booking.pk)
        tasks.confirm_booking.delay(booking.pk)

    worker = start_worker(pool="prefork", concurrency=2)
    end = time.monotonic() + 90
    while Booking.objects.filter(status="pending").exists():
        assert worker.poll() is None, Path(worker.log_path).read_text()[-3000:]
        assert time.monotonic() < end, Path(worker.log_path).read_text()[-3000:]
        time.sleep(0.1)
    expected = published + 2 * len(bookings[::3])
    while Path(worker.log_path).read_text().count("bookings.tasks.confirm_booking[") < 2 * expected:
        assert time.monotonic() < end, "every confirmation message received and finished"
        time.sleep(0.1)

    for slot in slots:
        slot.refresh_from_db()
        confirmed = Booking.objects.filter(slot=slot, status="confirmed").count()
        assert slot.booked == confirmed == slot.capacity
    assert Booking.objects.filter(status="rejected", reject_reason="slot_full").count() == 20
    codes = list(Booking.objects.exclude(code=None).values_list("code", flat=True))
    assert len(codes) == len(set(codes)) == 40
    decided = Notification.objects.filter(kind__in=["confirmed", "rejected"])
    assert sorted(decided.values_list("booking_id", flat=True)) == sorted(b.pk for b in bookings)
