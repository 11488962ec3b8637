"""Closing a clinic's day: never a first dose without its second, a later dose lost after the
first was given can be booked again, and the closure neither deadlocks with people's moves and
confirmations nor runs twice (found by a red-team pass; each seen failing before the fix)."""

import threading
import time as clock
from datetime import datetime, time, timedelta

import pytest
import time_machine
from django.db import connection, transaction
from django.db.models import F

from bookings import services
from bookings.models import Booking
from bookings.tests.doses import assert_places_add_up, book_course, course_slots, two_dose_campaign
from bookings.tests.factories import BookingFactory
from clinics.models import Slot
from clinics.tests.factories import SlotFactory, UserFactory
from vaxbook.dates import KST


def _someone_waits_for_a_lock(timeout: float = 4.0) -> bool:
    with connection.cursor() as cursor:
        end = clock.monotonic() + timeout
        while clock.monotonic() < end:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
            if cursor.fetchone()[0]:
                return True
            clock.sleep(0.02)
    return False


@pytest.mark.django_db
def test_closing_the_second_dose_day_rejects_a_course_whose_first_dose_is_still_to_come():
    campaign = two_dose_campaign()
    firsts, seconds = course_slots(campaign, times=(time(9, 0),), capacity=1)
    booking = book_course(campaign, firsts[0], 1)
    services.close_clinic_day(
        seconds[0].clinic, seconds[0].date, reason="delivery late", actor=UserFactory()
    )
    booking.refresh_from_db()
    assert booking.status == Booking.Status.REJECTED
    assert booking.reject_reason == Booking.RejectReason.CLINIC_CLOSED
    assert booking.later_doses.get().status == Booking.Status.REJECTED
    assert_places_add_up()
    # the person books again (a rejected booking's rebook)
    other = SlotFactory(
        campaign=campaign, clinic=firsts[0].clinic, date=firsts[0].date, start_time=time(11, 0)
    )
    SlotFactory(
        campaign=campaign, clinic=firsts[0].clinic, date=seconds[0].date + timedelta(days=1)
    )
    again = services.rebook(booking, slot_id=other.pk)
    services.confirm_booking(again.pk)
    again.refresh_from_db()
    assert again.status == Booking.Status.CONFIRMED
    assert again.later_doses.get().status == Booking.Status.CONFIRMED


@pytest.mark.django_db
def test_a_second_dose_lost_to_a_closed_day_after_the_first_was_given_is_booked_by_a_move():
    campaign = two_dose_campaign()
    firsts, seconds = course_slots(campaign, times=(time(9, 0),), capacity=1)
    booking = book_course(campaign, firsts[0], 1)
    staff = UserFactory()
    with time_machine.travel(datetime.combine(firsts[0].date, time(9, 30), tzinfo=KST)):
        services.check_in_booking(booking.pk, by=staff)
        services.close_clinic_day(seconds[0].clinic, seconds[0].date, reason="x", actor=staff)
        second = booking.later_doses.get()
        assert (second.status, second.reject_reason) == ("rejected", "clinic_closed")
        assert services.check_booking_movable(booking) == [second]
        extra = SlotFactory(
            campaign=campaign, clinic=firsts[0].clinic, date=seconds[0].date + timedelta(days=2)
        )
        services.move_booking(booking.pk, slot_id=extra.pk)
    second.refresh_from_db()
    assert (second.status, second.slot_id) == ("confirmed", extra.pk)
    assert_places_add_up()


@pytest.mark.django_db(transaction=True)
def test_two_closures_of_one_day_at_once_close_it_once():
    slot = SlotFactory(capacity=5)
    services.confirm_booking(BookingFactory(slot=slot).pk)
    official = UserFactory()
    barrier = threading.Barrier(2)
    results = []

    def close():
        try:
            barrier.wait()
            services.close_clinic_day(slot.clinic, slot.date, reason="x", actor=official)
            results.append("done")
        except ValueError as refused:
            results.append(f"refused: {refused}")
        finally:
            connection.close()

    threads = [threading.Thread(target=close) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == ["done", "refused: closed"]


@pytest.mark.django_db(transaction=True)
def test_a_closure_and_a_move_taking_slots_in_id_order_do_not_deadlock():
    base = SlotFactory(capacity=5)
    campaign, clinic, day = base.campaign, base.clinic, base.date
    base.delete()

    def slot(on, at):
        return SlotFactory(campaign=campaign, clinic=clinic, date=on, start_time=at, capacity=5)

    # the closure moves the 08:00 appointment to the day before (low id) and the 09:00 one to
    # the day after (high id); a person's move from the low slot to the high one runs between
    low = slot(day - timedelta(days=1), time(8, 0))
    at_nine, at_eight = slot(day, time(9, 0)), slot(day, time(8, 0))
    high = slot(day + timedelta(days=1), time(9, 0))
    for taken in (at_nine, at_eight):
        services.confirm_booking(BookingFactory(slot=taken).pk)
    services.confirm_booking(BookingFactory(slot=low).pk)
    official = UserFactory()
    errors, holding_low = {}, threading.Event()

    def closure():
        try:
            services.close_clinic_day(clinic, day, reason="sick", actor=official)
        except Exception as failed:  # noqa: BLE001 - the test reports any failure
            errors["closure"] = repr(failed)
        finally:
            connection.close()

    def move():
        # a move's two slot updates, in move_booking's order (id order), with a pause between
        try:
            with transaction.atomic():
                Slot.objects.filter(pk=low.pk).update(booked=F("booked") - 1)
                holding_low.set()
                _someone_waits_for_a_lock()
                Slot.objects.filter(pk=high.pk).update(booked=F("booked") + 1)
        except Exception as failed:  # noqa: BLE001
            errors["move"] = repr(failed)
        finally:
            connection.close()

    mover = threading.Thread(target=move)
    mover.start()
    holding_low.wait(5)
    closer = threading.Thread(target=closure)
    closer.start()
    closer.join(30)
    mover.join(30)
    assert not errors, errors


@pytest.mark.django_db(transaction=True)
def test_a_booking_confirmed_while_its_day_closes_does_not_deadlock_with_the_closure(monkeypatch):
    slot = SlotFactory(capacity=5)
    services.confirm_booking(BookingFactory(slot=slot).pk)  # somebody to move
    SlotFactory(campaign=slot.campaign, clinic=slot.clinic, date=slot.date + timedelta(days=1))
    official = UserFactory()
    original, calls, errors, made = services._lock_courses, [], {}, {}
    first_look, created, second_look = threading.Event(), threading.Event(), threading.Event()

    def paused(heads, **options):
        # between the closure's two looks a citizen's booking commits, and the worker starts
        # confirming it just as the closure takes its second look
        calls.append(set(heads))
        if len(calls) == 2:
            second_look.set()
            clock.sleep(0.5)
        locked = original(heads, **options)
        if len(calls) == 1:
            first_look.set()
            created.wait(10)
        return locked

    monkeypatch.setattr(services, "_lock_courses", paused)

    def closure():
        try:
            services.close_clinic_day(slot.clinic, slot.date, reason="x", actor=official)
        except Exception as failed:  # noqa: BLE001
            errors["closure"] = repr(failed)
        finally:
            connection.close()

    def worker():
        second_look.wait(10)
        try:
            services.confirm_booking(made["pk"])
        except Exception as failed:  # noqa: BLE001
            errors["confirm"] = repr(failed)
        finally:
            connection.close()

    closer, confirmer = threading.Thread(target=closure), threading.Thread(target=worker)
    closer.start()
    confirmer.start()
    first_look.wait(10)
    made["pk"] = BookingFactory(slot=slot).pk
    created.set()
    closer.join(30)
    confirmer.join(30)
    assert not errors, errors
    # the day closed around it: the late booking found it full
    assert Booking.objects.get(pk=made["pk"]).status == Booking.Status.REJECTED
    assert_places_add_up()
