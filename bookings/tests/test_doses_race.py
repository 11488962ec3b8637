"""Many two-dose courses race for the last places of one second-dose slot (their first-dose
slot has plenty of room), each worker on its own database connection.

``confirm_booking`` takes every dose's place in one transaction, all or none: the slots' counts
stay equal to the confirmed appointments and no first dose is confirmed without its second. The
control shows the race is real: the same threads confirming one dose at a time (the first with
the conditional UPDATE and committed, then the second in a step of its own) leave first doses
confirmed whose second never got a place. A second race moves many courses into the last places
of one time: the ones that get no place keep theirs.
"""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import time

import pytest
from django.db import connection, transaction
from django.db.models import F

from bookings import services
from bookings.errors import SlotUnavailable
from bookings.models import Booking
from bookings.tests.doses import (
    assert_places_add_up,
    book_course,
    course_slots,
    identity,
    two_dose_campaign,
)
from clinics.models import Slot

pytestmark = pytest.mark.django_db(transaction=True)

RACERS = 30
SECOND_CAPACITY = 10
ALREADY_CONFIRMED = 7  # three second-dose places are left when the race starts
ROOMY = 100


def _courses_racing_for_the_last_second_doses() -> tuple[Slot, Slot, list[Booking]]:
    """(first-dose slot, second-dose slot, the racers' pending courses)."""
    campaign = two_dose_campaign()
    [first], [second] = course_slots(
        campaign, times=(time(9, 0),), capacity=ROOMY, second_capacity=SECOND_CAPACITY
    )
    for n in range(ALREADY_CONFIRMED):
        book_course(campaign, first, n)
    racers = [
        services.request_booking(campaign, identity=identity(n), slot_id=first.pk)
        for n in range(ALREADY_CONFIRMED, ALREADY_CONFIRMED + RACERS)
    ]
    assert all(racer.later_doses.get().slot_id == second.pk for racer in racers)
    return first, second, racers


def _race(work, ids: list[int]) -> list:
    barrier = threading.Barrier(len(ids))

    def run(booking_id: int):
        try:
            return work(booking_id, barrier)
        finally:
            connection.close()  # each thread had its own connection

    with ThreadPoolExecutor(max_workers=len(ids)) as pool:
        return list(pool.map(run, ids))


def _first_doses_without_their_second() -> int:
    return (
        Booking.objects.filter(first_dose__isnull=True, status=Booking.Status.CONFIRMED)
        .exclude(later_doses__status=Booking.Status.CONFIRMED)
        .count()
    )


def test_racing_confirmations_take_both_places_or_neither():
    first, second, racers = _courses_racing_for_the_last_second_doses()

    def confirm(booking_id, barrier):
        barrier.wait()
        services.confirm_booking(booking_id)

    _race(confirm, [racer.pk for racer in racers])
    first.refresh_from_db()
    second.refresh_from_db()
    assert second.booked == SECOND_CAPACITY
    assert first.booked == SECOND_CAPACITY  # 7 + the 3 racers whose second dose got a place
    winners = Booking.objects.filter(pk__in=[r.pk for r in racers], status=Booking.Status.CONFIRMED)
    assert winners.count() == SECOND_CAPACITY - ALREADY_CONFIRMED
    losers = Booking.objects.filter(pk__in=[r.pk for r in racers], status=Booking.Status.REJECTED)
    assert set(losers.values_list("reject_reason", flat=True)) == {
        Booking.RejectReason.LATER_DOSE_FULL
    }
    assert not Booking.objects.filter(status=Booking.Status.PENDING).exists()
    assert _first_doses_without_their_second() == 0
    assert_places_add_up()


def test_control_one_dose_at_a_time_leaves_first_doses_without_their_second():
    first, second, racers = _courses_racing_for_the_last_second_doses()

    def take(slot_id: int) -> bool:
        return bool(
            Slot.objects.filter(pk=slot_id, booked__lt=F("capacity")).update(booked=F("booked") + 1)
        )

    def naive_confirm(booking_id, barrier):
        head = Booking.objects.get(pk=booking_id)
        later = head.later_doses.get()
        with transaction.atomic():  # the first dose, committed on its own
            if take(head.slot_id):
                Booking.objects.filter(pk=head.pk).update(
                    status=Booking.Status.CONFIRMED, code=f"N{head.pk}"
                )
        barrier.wait()  # every racer holds its first dose before any takes a second
        with transaction.atomic():  # then the second, in a step of its own
            if take(later.slot_id):
                Booking.objects.filter(pk=later.pk).update(
                    status=Booking.Status.CONFIRMED, code=f"N{head.pk}-2"
                )
            else:
                Booking.objects.filter(pk=later.pk).update(
                    status=Booking.Status.REJECTED,
                    reject_reason=Booking.RejectReason.LATER_DOSE_FULL,
                )

    _race(naive_confirm, [racer.pk for racer in racers])
    second.refresh_from_db()
    assert second.booked == SECOND_CAPACITY  # each slot on its own is never overbooked...
    stranded = _first_doses_without_their_second()
    # ...but every racer but three holds a first dose whose second never got a place
    assert stranded == RACERS - (SECOND_CAPACITY - ALREADY_CONFIRMED), stranded
    with pytest.raises(AssertionError):
        assert_places_add_up()


def test_racing_moves_into_the_last_places_of_one_time_never_overbook_it():
    campaign = two_dose_campaign()
    firsts, seconds = course_slots(campaign, capacity=ROOMY)
    courses = [book_course(campaign, firsts[0], n) for n in range(RACERS)]
    target = firsts[1]
    Slot.objects.filter(pk=target.pk).update(capacity=3)

    def move(booking_id, barrier):
        barrier.wait()
        try:
            services.move_booking(booking_id, slot_id=target.pk)
        except SlotUnavailable as refused:
            return refused.reason
        return "moved"

    outcomes = _race(move, [course.pk for course in courses])
    assert sorted(set(outcomes)) == ["full", "moved"]
    assert outcomes.count("moved") == 3
    assert Slot.objects.get(pk=target.pk).booked == 3
    assert Slot.objects.get(pk=firsts[0].pk).booked == RACERS - 3
    assert Slot.objects.get(pk=seconds[0].pk).booked == RACERS  # the seconds stayed put
    assert _first_doses_without_their_second() == 0
    assert_places_add_up()
