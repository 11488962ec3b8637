from datetime import timedelta

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.utils import timezone

from bookings import services
from bookings.models import Booking
from bookings.tests.factories import BookingFactory
from clinics.models import Slot
from clinics.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db


def test_confirm_takes_a_place_and_gives_a_short_code():
    booking = BookingFactory(slot=SlotFactory(capacity=2))
    services.confirm_booking(booking.pk)
    booking.refresh_from_db()
    booking.slot.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED
    assert len(booking.code) == 8 and booking.code.isalnum()
    assert booking.slot.booked == 1
    assert booking.decided_at is not None


def test_a_full_slot_rejects_the_booking_and_books_nothing():
    slot = SlotFactory(capacity=1)
    first, second = BookingFactory(slot=slot), BookingFactory(slot=slot)
    services.confirm_booking(first.pk)
    services.confirm_booking(second.pk)
    second.refresh_from_db()
    slot.refresh_from_db()
    assert second.status == Booking.Status.REJECTED
    assert second.reject_reason == Booking.RejectReason.SLOT_FULL
    assert second.code is None
    assert slot.booked == 1


def test_confirming_twice_changes_nothing():
    booking = BookingFactory(slot=SlotFactory(capacity=5))
    services.confirm_booking(booking.pk)
    booking.refresh_from_db()
    code = booking.code
    services.confirm_booking(booking.pk)
    booking.refresh_from_db()
    booking.slot.refresh_from_db()
    assert booking.code == code
    assert booking.slot.booked == 1


def test_a_cancelled_pending_booking_is_left_alone_by_the_worker():
    booking = BookingFactory(slot=SlotFactory(capacity=5))
    services.cancel_booking(booking.pk)
    services.confirm_booking(booking.pk)
    booking.refresh_from_db()
    booking.slot.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED
    assert booking.slot.booked == 0


def test_a_booking_requested_outside_the_window_is_rejected_by_the_worker():
    slot = SlotFactory()
    early = BookingFactory(slot=slot, requested_at=slot.campaign.opens_at - timedelta(seconds=1))
    services.confirm_booking(early.pk)
    early.refresh_from_db()
    slot.refresh_from_db()
    assert early.status == Booking.Status.REJECTED
    assert early.reject_reason == Booking.RejectReason.OUTSIDE_WINDOW
    assert slot.booked == 0


def test_a_booking_requested_in_time_is_confirmed_even_when_decided_after_closing():
    slot = SlotFactory()
    booking = BookingFactory(slot=slot, requested_at=slot.campaign.closes_at - timedelta(seconds=1))
    services.confirm_booking(booking.pk, now=slot.campaign.closes_at + timedelta(minutes=1))
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED


def test_confirm_of_a_deleted_booking_is_a_no_op():
    assert services.confirm_booking(987654321) is None


def test_the_database_refuses_overbooking_even_for_code_that_forgets():
    slot = SlotFactory(capacity=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Slot.objects.filter(pk=slot.pk).update(booked=2)
    with pytest.raises(IntegrityError), transaction.atomic():
        Slot.objects.filter(pk=slot.pk).update(booked=-1)


def test_the_database_refuses_a_second_active_booking_of_one_person():
    booking = BookingFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        BookingFactory(slot=booking.slot, rrn_hmac=booking.rrn_hmac)
    booking.status = Booking.Status.REJECTED
    booking.save()
    BookingFactory(slot=booking.slot, rrn_hmac=booking.rrn_hmac)  # a rejected one does not count


def test_the_sweep_decides_bookings_whose_message_was_lost():
    slot = SlotFactory(capacity=5)
    with time_machine.travel(timezone.now() - timedelta(minutes=10), tick=False):
        stale = BookingFactory(slot=slot)
    fresh = BookingFactory(slot=slot)
    assert services.sweep_pending_bookings() == 1
    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert stale.status == Booking.Status.CONFIRMED
    assert fresh.status == Booking.Status.PENDING


def test_cancelling_a_past_appointment_is_refused():
    booking = services.confirm_booking(BookingFactory(slot=SlotFactory(capacity=2)).pk)
    the_day_after = timezone.now() + timedelta(days=3)  # the slot is in two days

    # an active booking: only the appointment's day can refuse it
    with pytest.raises(services.NotCancellable) as refused:
        services.cancel_booking(booking.pk, now=the_day_after)
    assert refused.value.reason == "past"

    booking.refresh_from_db()
    booking.slot.refresh_from_db()
    assert (booking.status, booking.slot.booked) == (Booking.Status.CONFIRMED, 1)
    # before its day, the same booking is cancelled and its place given back
    assert services.cancel_booking(booking.pk).status == Booking.Status.CANCELLED
