"""The reminder the day before an appointment: once per booking and day, at the campaign's
reminder time (KST), only for confirmed bookings, with what the person needs on the day."""

import threading
import time as time_module
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, time, timedelta

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.urls import reverse

from bookings import services
from bookings.models import Booking
from bookings.tests.factories import BookingFactory
from campaigns.tests.factories import CampaignFactory
from clinics.tests.factories import SlotFactory
from vaxbook.dates import KST
from vaxbook.notifications import reminders
from vaxbook.notifications.models import Notification
from vaxbook.notifications.reminders import send_due_reminders

TODAY = date(2026, 11, 26)
TOMORROW = TODAY + timedelta(days=1)


def at(hour: int, minute: int = 0, day: date = TODAY) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=KST)


def confirmed(slot=None, **fields) -> Booking:
    booking = BookingFactory(slot=slot or tomorrow_slot(), **fields)
    booking.status, booking.code = Booking.Status.CONFIRMED, f"R{booking.pk:07d}"
    booking.decided_at = booking.requested_at
    booking.save(update_fields=["status", "code", "decided_at"])
    return booking


def tomorrow_slot(campaign=None, **fields):
    campaign = campaign or CampaignFactory(
        opens_at=at(9, day=TODAY - timedelta(days=3)), closes_at=at(18, day=TODAY + timedelta(3))
    )
    return SlotFactory(campaign=campaign, date=TOMORROW, start_time=time(14, 30), **fields)


def reminders_sent() -> list[Notification]:
    return list(Notification.objects.filter(kind=Notification.Kind.REMINDER).order_by("pk"))


@pytest.mark.django_db
def test_a_confirmed_booking_for_tomorrow_is_reminded_once_from_the_reminder_time():
    booking = confirmed()
    with time_machine.travel(at(9, 59), tick=False):
        assert send_due_reminders() == []
    with time_machine.travel(at(10, 0), tick=False):
        [key] = send_due_reminders()
        assert send_due_reminders() == []  # the next run: nothing more
    with time_machine.travel(at(16, 0), tick=False):
        assert send_due_reminders() == []
    [reminder] = reminders_sent()
    assert reminder.key == key == f"booking:{booking.pk}:reminder:{TOMORROW.isoformat()}:sms"
    assert reminder.booking == booking and reminder.recipient == booking.phone
    assert reminder.status == Notification.Status.QUEUED


@pytest.mark.django_db
def test_the_reminder_says_when_where_what_to_bring_and_how_to_cancel():
    booking = confirmed(language="en")
    with time_machine.travel(at(10, 5), tick=False):
        send_due_reminders()
    [reminder] = reminders_sent()
    clinic = booking.slot.clinic
    assert reminder.language == "en"
    assert booking.code in reminder.text
    assert clinic.name in reminder.text and clinic.address in reminder.text
    assert "14:30" in reminder.text and "KST" in reminder.text
    link = settings.VAXBOOK_SITE_URL + reverse(
        "bookings:status", kwargs={"public_id": booking.public_id}
    )
    assert link in reminder.text
    assert booking.birth_date.strftime("%y%m%d") not in reminder.text  # no registration number


@pytest.mark.django_db
def test_the_reminder_is_in_the_language_of_the_booking():
    slot = tomorrow_slot()
    confirmed(slot=slot, language="ko")
    confirmed(slot=slot, language="en")
    with time_machine.travel(at(10, 5), tick=False):
        send_due_reminders()
    texts = {n.language: n.text for n in reminders_sent()}
    assert set(texts) == {"ko", "en"}
    assert "예약" in texts["ko"] and "예약" not in texts["en"]


@pytest.mark.django_db
def test_only_confirmed_bookings_of_tomorrow_are_reminded():
    slot = tomorrow_slot()
    due = confirmed(slot=slot)
    BookingFactory(slot=slot)  # pending
    cancelled = confirmed(slot=slot)
    services.cancel_booking(cancelled.pk)
    BookingFactory(slot=slot, status=Booking.Status.REJECTED, reject_reason="slot_full")
    campaign = slot.campaign
    confirmed(slot=SlotFactory(campaign=campaign, date=TODAY, start_time=time(15, 0)))
    confirmed(slot=SlotFactory(campaign=campaign, date=TOMORROW + timedelta(days=1)))
    confirmed(slot=SlotFactory(campaign=campaign, date=TODAY - timedelta(days=1)))
    with time_machine.travel(at(10, 5), tick=False):
        send_due_reminders()
    assert [n.booking_id for n in reminders_sent()] == [due.pk]


@pytest.mark.django_db
def test_a_booking_cancelled_after_its_reminder_gets_no_second_one():
    booking = confirmed()
    with time_machine.travel(at(10, 5), tick=False):
        send_due_reminders()
        services.cancel_booking(booking.pk)
        send_due_reminders()
    assert len(reminders_sent()) == 1


@pytest.mark.django_db
def test_each_campaign_reminds_at_its_own_time():
    early = confirmed(slot=tomorrow_slot())
    late_campaign = CampaignFactory(
        opens_at=at(9, day=TODAY - timedelta(days=3)),
        closes_at=at(18, day=TODAY + timedelta(3)),
        reminder_time=time(18, 0),
    )
    late = confirmed(slot=tomorrow_slot(campaign=late_campaign))
    with time_machine.travel(at(17, 59), tick=False):
        send_due_reminders()
    assert [n.booking_id for n in reminders_sent()] == [early.pk]
    with time_machine.travel(at(18, 0), tick=False):
        send_due_reminders()
    assert [n.booking_id for n in reminders_sent()] == [early.pk, late.pk]


@pytest.mark.django_db
def test_a_booking_made_after_the_reminder_time_for_tomorrow_is_reminded_at_the_next_run():
    with time_machine.travel(at(10, 0), tick=False):
        assert send_due_reminders() == []
    with time_machine.travel(at(15, 0), tick=False):
        booking = confirmed()  # confirmed at 15:00 for tomorrow
    with time_machine.travel(at(15, 5), tick=False):
        send_due_reminders()
    assert [n.booking_id for n in reminders_sent()] == [booking.pk]


@pytest.mark.django_db
def test_no_reminder_on_the_day_of_the_appointment_for_one_that_was_missed():
    """Beat was down the whole day before: after midnight the appointment is today, and a
    reminder then could come after it; the confirmation the person holds has to do."""
    booking = confirmed()
    with time_machine.travel(at(0, 5, day=TOMORROW), tick=False):
        send_due_reminders()
    with time_machine.travel(at(15, 0, day=TOMORROW), tick=False):  # after the appointment
        send_due_reminders()
    assert reminders_sent() == []
    assert Booking.objects.get(pk=booking.pk).status == Booking.Status.CONFIRMED


@pytest.mark.django_db
def test_a_booking_moved_to_another_day_is_reminded_of_that_day_too():
    booking = confirmed()
    with time_machine.travel(at(10, 5), tick=False):
        send_due_reminders()
    booking.slot = SlotFactory(campaign=booking.campaign, date=TOMORROW + timedelta(days=1))
    booking.save(update_fields=["slot"])
    with time_machine.travel(at(10, 5, day=TOMORROW), tick=False):
        send_due_reminders()
    assert [n.key.split(":")[3] for n in reminders_sent()] == [
        TOMORROW.isoformat(),
        (TOMORROW + timedelta(days=1)).isoformat(),
    ]


@pytest.mark.django_db
def test_the_candidates_are_one_query_and_the_messages_one_insert(django_assert_num_queries):
    slot = tomorrow_slot()
    for _ in range(3):
        confirmed(slot=slot)
    other = confirmed(slot=tomorrow_slot())
    for _ in range(3):
        confirmed(slot=other.slot)
    # the candidates; then per batch a savepoint, the INSERT and its release
    with time_machine.travel(at(10, 5), tick=False), django_assert_num_queries(4):
        assert len(send_due_reminders()) == 7


@pytest.mark.django_db
def test_batches_of_many_reminders(monkeypatch, django_assert_num_queries):
    monkeypatch.setattr(reminders, "BATCH_SIZE", 2)
    slot = tomorrow_slot()
    for _ in range(5):
        confirmed(slot=slot)
    with time_machine.travel(at(10, 5), tick=False), django_assert_num_queries(1 + 3 * 3):
        assert len(send_due_reminders()) == 5
    assert len(reminders_sent()) == 5


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_write_and_send_each_reminder_once(monkeypatch):
    """Both runs find the same bookings due (the barrier holds each after its query, before
    its INSERT, so neither sees the other's rows: the race is real); the outbox's unique key
    keeps one message per booking, and only the run that wrote a message sends it."""
    slot = tomorrow_slot()
    bookings = [confirmed(slot=slot) for _ in range(5)]
    barrier = threading.Barrier(2)
    attempted: list[list[str]] = []
    write = reminders.notify_batch

    def write_after_both_chose(messages):
        messages = list(messages)
        attempted.append([m.key for m in messages])
        barrier.wait(timeout=10)
        return write(messages)

    monkeypatch.setattr(reminders, "notify_batch", write_after_both_chose)

    def run(_):
        try:
            with time_machine.travel(at(10, 5), tick=False):
                return send_due_reminders()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        first, second = pool.map(run, range(2))
    assert len(attempted) == 2 and sorted(attempted[0]) == sorted(attempted[1])  # both chose all
    assert len(attempted[0]) == len(bookings)
    assert sorted(first + second) == sorted(attempted[0])  # each written, and sent, by one run
    assert sorted(n.booking_id for n in reminders_sent()) == sorted(b.pk for b in bookings)


@pytest.mark.django_db(transaction=True)
def test_a_worker_sends_the_reminders_the_run_wrote(start_worker):
    bookings = [confirmed() for _ in range(2)]
    with time_machine.travel(at(10, 5), tick=False):
        keys = send_due_reminders()  # published when its batch commits
    worker = start_worker()
    deadline = time_module.monotonic() + 60
    while time_module.monotonic() < deadline:
        sent = Notification.objects.filter(key__in=keys, status=Notification.Status.SENT)
        if sent.count() == len(bookings):
            break
        assert worker.poll() is None
        time_module.sleep(0.2)
    else:
        pytest.fail("the reminders were not sent")
    assert all(n.attempts == 1 for n in reminders_sent())  # each handed over once


def test_beat_runs_the_reminders_every_few_minutes():
    [entry] = [
        e
        for e in settings.CELERY_BEAT_SCHEDULE.values()
        if e["task"] == "vaxbook.notifications.tasks.send_due_reminders"
    ]
    assert entry["schedule"] <= 600


@pytest.mark.django_db
def test_officials_cannot_set_a_reminder_time_the_task_could_miss():
    from django.core.exceptions import ValidationError

    campaign = CampaignFactory()
    campaign.reminder_time = time(23, 58)  # between two runs of the task, then "today"
    with pytest.raises(ValidationError) as refused:
        campaign.full_clean()
    assert list(refused.value.message_dict) == ["reminder_time"]
    campaign.reminder_time = time(23, 0)
    campaign.full_clean()
