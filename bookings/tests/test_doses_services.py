"""The services of a multi-dose course: both doses confirmed together or neither, cancelling
every dose not given, moving atomically, the no-show sweep and a closed clinic day."""

from datetime import datetime, time, timedelta

import pytest
import time_machine
from django.utils import timezone, translation

from bookings import services
from bookings.errors import NotCancellable, NotMovable, SlotUnavailable, WindowClosed
from bookings.models import Booking
from bookings.tests.doses import (
    RECOMMENDED,
    assert_places_add_up,
    book_course,
    course_slots,
    identity,
    two_dose_campaign,
)
from clinics.models import ClinicDayClosure, Slot
from clinics.tests.factories import SlotFactory, UserFactory
from vaxbook.auditlog.models import AuditEvent
from vaxbook.dates import KST, format_slot
from vaxbook.notifications.models import Notification

pytestmark = pytest.mark.django_db


def _later(booking: Booking) -> Booking:
    return booking.later_doses.get()


def test_a_two_dose_booking_confirms_both_appointments_with_one_code():
    campaign = two_dose_campaign()
    firsts, seconds = course_slots(campaign)
    booking = book_course(campaign, firsts[1], 1)
    second = _later(booking)
    assert booking.status == second.status == Booking.Status.CONFIRMED
    assert (booking.dose, second.dose) == (1, 2)
    assert second.slot == seconds[1]  # the recommended day, the same time
    assert second.code == f"{booking.code}-2"
    assert_places_add_up()
    message = Notification.objects.get(booking=booking, kind="confirmed")
    with translation.override(booking.language):
        assert format_slot(booking.slot.date, booking.slot.start_time) in message.text
        assert format_slot(second.slot.date, second.slot.start_time) in message.text


def test_the_second_dose_goes_to_the_nearest_time_when_the_same_time_is_full():
    campaign = two_dose_campaign()
    firsts, seconds = course_slots(campaign, second_capacity=1)
    book_course(campaign, firsts[0], 1)  # takes the 09:00 second-dose place
    booking = book_course(campaign, firsts[0], 2)
    assert _later(booking).slot == seconds[1]


def test_a_full_second_dose_slot_rejects_the_whole_course_and_takes_no_first_dose_place():
    campaign = two_dose_campaign()
    firsts, seconds = course_slots(campaign, times=(time(9, 0),))
    booking = book_course(campaign, firsts[0], 1, confirm=False)
    Slot.objects.filter(pk=seconds[0].pk).update(booked=10)  # filled meanwhile
    services.confirm_booking(booking.pk)
    booking.refresh_from_db()
    assert booking.status == Booking.Status.REJECTED
    assert booking.reject_reason == Booking.RejectReason.LATER_DOSE_FULL
    assert _later(booking).status == Booking.Status.REJECTED
    firsts[0].refresh_from_db()
    assert firsts[0].booked == 0


def test_no_second_dose_place_refuses_the_request():
    campaign = two_dose_campaign()
    slot = SlotFactory(campaign=campaign, date=timezone.localdate() + timedelta(days=3))
    with pytest.raises(SlotUnavailable) as refused:
        book_course(campaign, slot, 1)
    assert refused.value.reason == "no_later_dose"
    assert not Booking.objects.exists()


def test_cancelling_cancels_every_dose_and_frees_both_places():
    campaign = two_dose_campaign()
    firsts, _ = course_slots(campaign)
    booking = book_course(campaign, firsts[0], 1)
    services.cancel_booking(booking.pk)
    assert set(Booking.objects.values_list("status", flat=True)) == {"cancelled"}
    assert_places_add_up()
    assert sum(Slot.objects.values_list("booked", flat=True)) == 0


def test_after_the_first_dose_is_given_cancelling_cancels_only_the_second():
    campaign = two_dose_campaign()
    firsts, _ = course_slots(campaign)
    booking = book_course(campaign, firsts[0], 1)
    staff = UserFactory()
    with time_machine.travel(datetime.combine(firsts[0].date, time(9, 5), tzinfo=KST)):
        services.check_in_booking(booking.pk, by=staff)
        services.cancel_booking(booking.pk)
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED and booking.checked_in_at
    assert _later(booking).status == Booking.Status.CANCELLED
    assert_places_add_up()
    with pytest.raises(NotCancellable) as refused:
        services.check_booking_cancellable(booking)
    assert refused.value.reason in {"checked_in", "past"}


def test_a_move_takes_the_new_place_frees_the_old_and_moves_the_second_dose_with_it():
    campaign = two_dose_campaign()
    firsts, _ = course_slots(campaign)
    booking = book_course(campaign, firsts[0], 1)
    later_day = firsts[0].date + timedelta(days=1)
    new_first = SlotFactory(campaign=campaign, clinic=firsts[0].clinic, date=later_day)
    new_second = SlotFactory(
        campaign=campaign,
        clinic=firsts[0].clinic,
        date=later_day + timedelta(days=RECOMMENDED),
    )
    services.move_booking(booking.pk, slot_id=new_first.pk)
    booking.refresh_from_db()
    # the old second dose is 20 days after the new first: below the shortest interval
    assert booking.slot == new_first and _later(booking).slot == new_second
    assert booking.status == Booking.Status.CONFIRMED and booking.moved_at
    assert_places_add_up()
    assert Notification.objects.filter(booking=booking, kind="changed").exists()


def test_a_move_into_a_full_slot_leaves_the_booking_as_it_was():
    campaign = two_dose_campaign()
    firsts, seconds = course_slots(campaign)
    booking = book_course(campaign, firsts[0], 1)
    Slot.objects.filter(pk=firsts[1].pk).update(booked=10)
    with pytest.raises(SlotUnavailable) as refused:
        services.move_booking(booking.pk, slot_id=firsts[1].pk)
    assert refused.value.reason == "full"
    booking.refresh_from_db()
    assert booking.slot == firsts[0] and _later(booking).slot == seconds[0]
    firsts[0].refresh_from_db()
    assert firsts[0].booked == 1


def test_a_move_after_the_deadline_is_refused():
    campaign = two_dose_campaign()
    firsts, _ = course_slots(campaign)
    booking = book_course(campaign, firsts[0], 1)
    day_before = firsts[0].date - timedelta(days=1)
    at_deadline = datetime.combine(day_before, time(18, 0), tzinfo=KST)
    with time_machine.travel(at_deadline), pytest.raises(NotMovable) as refused:
        services.move_booking(booking.pk, slot_id=firsts[1].pk)
    assert refused.value.reason == "deadline"
    with time_machine.travel(datetime.combine(day_before, time(17, 59), tzinfo=KST)):
        services.move_booking(booking.pk, slot_id=firsts[1].pk)


def test_a_move_needs_the_persons_window_open():
    campaign = two_dose_campaign()
    firsts, _ = course_slots(campaign)
    booking = book_course(campaign, firsts[0], 1)
    campaign.closes_at = timezone.now() - timedelta(minutes=1)
    campaign.save()
    with pytest.raises(WindowClosed):
        services.move_booking(booking.pk, slot_id=firsts[1].pk)


def test_the_no_show_sweep_marks_the_missed_first_dose_and_frees_the_second():
    campaign = two_dose_campaign()
    firsts, seconds = course_slots(campaign)
    booking = book_course(campaign, firsts[0], 1)
    after = datetime.combine(firsts[0].date + timedelta(days=1), time(0, 30), tzinfo=KST)
    with time_machine.travel(after):
        assert services.mark_no_shows() == 1
        assert services.mark_no_shows() == 0
    booking.refresh_from_db()
    assert booking.status == Booking.Status.NO_SHOW
    second = _later(booking)
    assert second.status == Booking.Status.CANCELLED
    assert second.cancel_reason == Booking.CancelReason.FIRST_DOSE_MISSED
    assert_places_add_up()
    assert Notification.objects.filter(booking=booking, kind="changed").exists()


def test_a_checked_in_first_dose_keeps_the_second_through_the_sweep():
    campaign = two_dose_campaign()
    firsts, _ = course_slots(campaign)
    booking = book_course(campaign, firsts[0], 1)
    with time_machine.travel(datetime.combine(firsts[0].date, time(9, 5), tzinfo=KST)):
        services.check_in_booking(booking.pk, by=UserFactory())
    with time_machine.travel(
        datetime.combine(firsts[0].date + timedelta(days=1), time(1, 0), tzinfo=KST)
    ):
        assert services.mark_no_shows() == 0
    assert _later(booking).status == Booking.Status.CONFIRMED


def test_closing_a_clinic_day_moves_its_bookings_or_rejects_them_when_no_place_is_left():
    campaign = two_dose_campaign()
    firsts, seconds = course_slots(campaign, times=(time(9, 0),), capacity=2)
    clinic, day = firsts[0].clinic, firsts[0].date
    spare = SlotFactory(
        campaign=campaign,
        clinic=clinic,
        date=day - timedelta(days=1),
        start_time=time(9, 0),
        capacity=1,
    )
    moved = book_course(campaign, firsts[0], 1)
    stranded = book_course(campaign, firsts[0], 2)
    official = UserFactory()
    closure = services.close_clinic_day(clinic, day, reason="delivery late", actor=official)
    assert (closure.moved, closure.rejected) == (1, 1)
    moved.refresh_from_db()
    stranded.refresh_from_db()
    assert moved.slot == spare and moved.status == Booking.Status.CONFIRMED
    assert _later(moved).slot == seconds[0]  # 22 days after the new first: it stays
    assert stranded.status == Booking.Status.REJECTED
    assert stranded.reject_reason == Booking.RejectReason.CLINIC_CLOSED
    assert _later(stranded).status == Booking.Status.REJECTED
    assert_places_add_up()
    firsts[0].refresh_from_db()
    assert firsts[0].capacity == 0
    assert ClinicDayClosure.objects.filter(clinic=clinic, date=day).exists()
    assert AuditEvent.objects.filter(action="clinic_day_closed").count() == 1
    for booking in (moved, stranded):
        assert Notification.objects.filter(booking=booking, kind="changed").exists()


def test_the_calendar_file_holds_an_event_for_each_dose():
    import icalendar

    from bookings.calendar import booking_event

    campaign = two_dose_campaign()
    firsts, seconds = course_slots(campaign)
    booking = book_course(campaign, firsts[0], 1)
    events = icalendar.Calendar.from_ical(booking_event(booking)).walk("VEVENT")
    starts = sorted(event.decoded("dtstart").astimezone(KST) for event in events)
    assert [(s.date(), s.time()) for s in starts] == [
        (firsts[0].date, firsts[0].start_time),
        (seconds[0].date, seconds[0].start_time),
    ]
    assert len({str(event["uid"]) for event in events}) == 2


def test_each_move_sends_its_own_text_even_within_one_second():
    campaign = two_dose_campaign()
    firsts, _ = course_slots(campaign)
    booking = book_course(campaign, firsts[0], 1)
    with time_machine.travel(timezone.now(), tick=False):
        services.move_booking(booking.pk, slot_id=firsts[1].pk)
        services.move_booking(booking.pk, slot_id=firsts[0].pk)
    assert Notification.objects.filter(booking=booking, kind="changed").count() == 2


def test_times_for_later_doses_of_a_one_dose_vaccine_are_refused():
    slot = SlotFactory()  # the default campaign's vaccine has one dose
    other = SlotFactory(campaign=slot.campaign, clinic=slot.clinic, start_time=time(10, 0))
    with pytest.raises(SlotUnavailable) as refused:
        services.request_booking(
            slot.campaign, identity=identity(1), slot_id=slot.pk, later_slot_ids=[other.pk]
        )
    assert refused.value.reason == "not_offered"
    assert not Booking.objects.exists()
