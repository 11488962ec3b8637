"""Many workers race for the last places of one slot, each on its own database connection.

The control shows the race is real: a naive read-check-write done by the same threads
overbooks, while ``confirm_booking``'s conditional UPDATE never does.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, transaction

from bookings import services
from bookings.models import Booking
from bookings.tests.factories import BookingFactory
from clinics.models import Slot
from clinics.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db(transaction=True)

RACERS = 30
CAPACITY = 10
ALREADY_CONFIRMED = 7  # three places are left when the race starts


def _slot_with_last_places() -> tuple[Slot, list[Booking]]:
    slot = SlotFactory(capacity=CAPACITY)
    for booking in BookingFactory.create_batch(ALREADY_CONFIRMED, slot=slot):
        services.confirm_booking(booking.pk)
    return slot, BookingFactory.create_batch(RACERS, slot=slot)


def _race(work, bookings: list[Booking]) -> None:
    barrier = threading.Barrier(len(bookings))

    def run(booking_id: int) -> None:
        try:
            work(booking_id, barrier)
        finally:
            connection.close()  # each thread had its own connection

    with ThreadPoolExecutor(max_workers=len(bookings)) as pool:
        list(pool.map(run, [b.pk for b in bookings]))


def test_racing_workers_never_overbook():
    slot, racers = _slot_with_last_places()

    def confirm(booking_id, barrier):
        barrier.wait()
        services.confirm_booking(booking_id)

    _race(confirm, racers)
    slot.refresh_from_db()
    confirmed = Booking.objects.filter(slot=slot, status=Booking.Status.CONFIRMED).count()
    assert confirmed == CAPACITY == slot.booked
    assert Booking.objects.filter(slot=slot, status=Booking.Status.REJECTED).count() == RACERS - 3
    assert not Booking.objects.filter(status=Booking.Status.PENDING).exists()
    codes = list(Booking.objects.exclude(code=None).values_list("code", flat=True))
    assert len(codes) == len(set(codes)) == CAPACITY


def test_control_a_read_then_write_without_the_conditional_update_overbooks():
    slot, racers = _slot_with_last_places()

    def naive_confirm(booking_id, barrier):
        with transaction.atomic():
            booked = Slot.objects.get(pk=slot.pk).booked
            barrier.wait()  # every racer has read "3 places left"
            if booked < CAPACITY:
                Slot.objects.filter(pk=slot.pk).update(booked=booked + 1)
                Booking.objects.filter(pk=booking_id).update(
                    status=Booking.Status.CONFIRMED, code=f"N{booking_id}"
                )

    _race(naive_confirm, racers)
    slot.refresh_from_db()
    confirmed = Booking.objects.filter(slot=slot, status=Booking.Status.CONFIRMED).count()
    assert confirmed > CAPACITY, "without the protection the race oversells"
    assert slot.booked != confirmed, "and the counter no longer matches the bookings"
