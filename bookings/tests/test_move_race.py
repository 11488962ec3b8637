"""Moves racing each other and new confirmations, each on its own database connection: the
last places of a slot go to as many as it holds, every loser keeps the booking it had, and
moves in opposite directions between two slots never deadlock."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import time

import pytest
from django.db import connection

from bookings import services
from bookings.errors import SlotUnavailable
from bookings.models import Booking
from bookings.tests.doses import assert_places_add_up
from bookings.tests.factories import BookingFactory
from clinics.models import Slot
from clinics.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db(transaction=True)

RACERS = 30


def _race(work, items) -> list:
    barrier = threading.Barrier(len(items))

    def run(item):
        try:
            barrier.wait()
            return work(item)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(items)) as pool:
        return list(pool.map(run, items))


def _confirmed(slot: Slot, count: int) -> list[Booking]:
    bookings = BookingFactory.create_batch(count, slot=slot)
    for booking in bookings:
        services.confirm_booking(booking.pk)
    return bookings


def test_moves_and_confirmations_racing_for_the_last_places_never_overbook():
    origin = SlotFactory(capacity=RACERS)
    target = SlotFactory(
        campaign=origin.campaign, clinic=origin.clinic, start_time=time(10, 0), capacity=10
    )
    _confirmed(target, 7)  # three places left
    movers = _confirmed(origin, RACERS // 2)
    newcomers = BookingFactory.create_batch(RACERS - len(movers), slot=target)

    def work(item):
        kind, booking = item
        if kind == "confirm":
            return services.confirm_booking(booking.pk).status
        try:
            services.move_booking(booking.pk, slot_id=target.pk)
        except SlotUnavailable as refused:
            return refused.reason
        return "moved"

    outcomes = _race(work, [("move", b) for b in movers] + [("confirm", b) for b in newcomers])
    target.refresh_from_db()
    origin.refresh_from_db()
    assert target.booked == target.capacity == 10
    moved = outcomes.count("moved")
    assert moved + outcomes.count("confirmed") == 3
    assert outcomes.count("full") == len(movers) - moved
    # every mover that lost still holds its old place
    assert origin.booked == len(movers) - moved
    assert Booking.objects.filter(slot=origin, status="confirmed").count() == origin.booked
    assert_places_add_up()


def test_moves_in_opposite_directions_between_two_slots_do_not_deadlock():
    a = SlotFactory(capacity=RACERS)
    b = SlotFactory(campaign=a.campaign, clinic=a.clinic, start_time=time(10, 0), capacity=RACERS)
    from_a, from_b = _confirmed(a, RACERS // 2), _confirmed(b, RACERS // 2)

    def work(item):
        booking, to = item
        services.move_booking(booking.pk, slot_id=to.pk)
        return Booking.objects.get(pk=booking.pk).slot_id

    outcomes = _race(work, [(x, b) for x in from_a] + [(x, a) for x in from_b])
    assert outcomes == [b.pk] * len(from_a) + [a.pk] * len(from_b)
    assert_places_add_up()
