"""The booking API and multi-dose courses: every appointment in the booking's JSON, the later
doses' slots chosen by the client or the server, and the move endpoint — guarded like a new
booking, for the person who proves the registration number, all or nothing."""

import time
from datetime import date, timedelta
from datetime import time as clock

import pytest
import time_machine
from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from bookings import services
from bookings.models import Booking
from bookings.tests.doses import (
    RECOMMENDED,
    assert_places_add_up,
    book_course,
    course_slots,
    first_day,
    two_dose_campaign,
)
from bookings.tests.factories import rrn_for
from campaigns import services as campaign_services
from campaigns import waiting_room
from campaigns.models import BookingWindow
from clinics.models import Slot
from clinics.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db

PERSON = 1  # rrn_for(1): born 1963-01-01


@pytest.fixture
def api():
    return APIClient()


def _create(api, campaign, slot, **overrides):
    body = {
        "name": "Kim Minsu",
        "rrn": rrn_for(PERSON),
        "phone": "010-1234-5678",
        "slot": slot.pk,
        **overrides,
    }
    url = reverse("api:booking-create", kwargs={"campaign": campaign.slug})
    return api.post(url, body, format="json")


def _move_url(booking: Booking, campaign=None) -> str:
    slug = (campaign or booking.campaign).slug
    return reverse("api:booking-move", kwargs={"campaign": slug, "public_id": booking.public_id})


def _move(api, booking: Booking, slot, *, rrn: str | None = None, headers=None, **extra):
    body = {"rrn": rrn or rrn_for(PERSON), "slot": slot.pk, **extra}
    return api.post(_move_url(booking), body, format="json", headers=headers)


def _status(api, booking: Booking) -> dict:
    return api.get(reverse("api:booking-status", kwargs={"public_id": booking.public_id})).json()


def _booked(*slots: Slot) -> list[int]:
    return [Slot.objects.get(pk=slot.pk).booked for slot in slots]


def _where(booking: Booking) -> list[tuple[int, int, object]]:
    """(dose, slot id, moved_at) of every appointment of the course."""
    rows = Booking.objects.filter(pk=booking.pk) | booking.later_doses.all()
    return list(rows.order_by("dose").values_list("dose", "slot_id", "moved_at"))


def _appointment(row: Booking) -> dict:
    return {
        "dose": row.dose,
        "code": row.code,
        "status": row.status,
        "slot": row.slot_id,
        "date": row.slot.date.isoformat(),
        "start_time": row.slot.start_time.strftime("%H:%M"),
        "clinic_code": row.slot.clinic.code,
        "checked_in": row.checked_in_at is not None,
    }


# The booking's JSON


def test_a_one_dose_booking_lists_its_one_appointment_and_keeps_its_keys(api):
    slot = SlotFactory(capacity=2)
    response = _create(api, slot.campaign, slot)
    assert response.status_code == 202
    pending = response.json()
    booking = Booking.objects.get()
    assert pending["doses"] == [_appointment(booking)]
    assert pending["doses"][0]["status"] == "pending" and pending["doses"][0]["code"] is None
    services.confirm_booking(booking.pk)
    booking.refresh_from_db()
    answer = _status(api, booking)
    assert set(answer) == {
        "id",
        "campaign",
        "status",
        "code",
        "reject_reason",
        "clinic",
        "clinic_code",
        "address",
        "date",
        "start_time",
        "rrn",
        "requested_at",
        "decided_at",
        "doses",
    }
    assert (answer["status"], answer["code"], answer["start_time"]) == (
        "confirmed",
        booking.code,
        "09:00",
    )
    assert answer["doses"] == [_appointment(booking)]


def test_a_two_dose_booking_lists_both_appointments_with_the_server_choosing_the_second(api):
    campaign = two_dose_campaign()
    firsts, seconds = course_slots(campaign)
    response = _create(api, campaign, firsts[1])
    assert response.status_code == 202
    booking = Booking.objects.get(dose=1)
    services.confirm_booking(booking.pk)
    booking.refresh_from_db()
    second = booking.later_doses.get()
    answer = _status(api, booking)
    assert answer["code"] == booking.code and answer["date"] == firsts[1].date.isoformat()
    assert answer["doses"] == [_appointment(booking), _appointment(second)]
    assert answer["doses"][1]["slot"] == seconds[1].pk  # the recommended day, the same time
    assert answer["doses"][1]["code"] == f"{booking.code}-2"
    second.checked_in_at = timezone.now()  # as the clinic would, on the day
    second.save(update_fields=["checked_in_at"])
    assert [d["checked_in"] for d in _status(api, booking)["doses"]] == [False, True]


def test_the_client_may_choose_the_later_dose_slot(api):
    campaign = two_dose_campaign()
    firsts, seconds = course_slots(campaign)
    response = _create(api, campaign, firsts[0], later_slots=[seconds[1].pk])
    assert response.status_code == 202
    assert [d["slot"] for d in response.json()["doses"]] == [firsts[0].pk, seconds[1].pk]


@pytest.mark.parametrize("which", ["too soon", "full", "unknown"])
def test_a_later_dose_slot_that_does_not_fit_is_refused_and_writes_nothing(api, which):
    campaign = two_dose_campaign()
    firsts, seconds = course_slots(campaign, second_capacity=1)
    if which == "too soon":
        later = SlotFactory(
            campaign=campaign, clinic=firsts[0].clinic, date=firsts[0].date + timedelta(days=2)
        )
    elif which == "full":
        book_course(campaign, firsts[1], 2)  # takes the 10:00 second-dose place
        later = seconds[1]
    else:
        later = Slot(pk=seconds[1].pk + 1000)
    before = Booking.objects.count()
    response = _create(api, campaign, firsts[0], later_slots=[later.pk])
    assert response.status_code == 400
    assert (response.json()["code"], response.json()["reason"]) == (
        "slot_unavailable",
        "later_changed",
    )
    assert Booking.objects.count() == before


@pytest.mark.parametrize("later_slots", ["3", [0], [1, 2, 3], ["x"], {"a": 1}])
def test_malformed_later_slots_are_400_with_the_field(api, later_slots):
    slot = SlotFactory()
    response = _create(api, slot.campaign, slot, later_slots=later_slots)
    assert response.status_code == 400 and "later_slots" in response.json()
    assert not Booking.objects.exists()


# Moving


@pytest.fixture
def course():
    """Person 1's confirmed course: first dose at 09:00 on the first day, second on the
    recommended day at 09:00. Slots with capacity 2 at 09:00 and 10:00 on both days."""
    campaign = two_dose_campaign()
    firsts, seconds = course_slots(campaign, capacity=2)
    booking = book_course(campaign, firsts[0], PERSON)
    return booking, firsts, seconds


def test_a_move_within_the_interval_moves_the_first_dose_and_keeps_the_second(api, course):
    booking, firsts, seconds = course
    response = _move(api, booking, firsts[1])
    assert response.status_code == 200, response.json()
    answer = response.json()
    assert answer["id"] == str(booking.public_id) and answer["code"] == booking.code
    assert (answer["start_time"], answer["status"]) == ("10:00", "confirmed")
    assert [d["slot"] for d in answer["doses"]] == [firsts[1].pk, seconds[0].pk]
    assert _booked(firsts[0], firsts[1], seconds[0]) == [0, 1, 1]
    assert_places_add_up()


def test_a_move_takes_the_later_slots_given(api, course):
    booking, firsts, seconds = course
    response = _move(api, booking, firsts[1], later_slots=[seconds[1].pk])
    assert response.status_code == 200, response.json()
    assert [d["slot"] for d in response.json()["doses"]] == [firsts[1].pk, seconds[1].pk]
    assert _booked(*firsts, *seconds) == [0, 1, 0, 1]
    assert_places_add_up()


def test_a_move_to_another_day_takes_the_second_dose_along(api, course):
    booking, firsts, seconds = course
    later_day = first_day() + timedelta(days=2)
    new_first = SlotFactory(
        campaign=booking.campaign, clinic=firsts[0].clinic, date=later_day, capacity=2
    )
    new_second = SlotFactory(
        campaign=booking.campaign,
        clinic=firsts[0].clinic,
        date=later_day + timedelta(days=RECOMMENDED),
        capacity=2,
    )
    response = _move(api, booking, new_first)
    assert response.status_code == 200, response.json()
    assert [d["slot"] for d in response.json()["doses"]] == [new_first.pk, new_second.pk]
    assert _booked(firsts[0], seconds[0], new_first, new_second) == [0, 0, 1, 1]
    assert_places_add_up()


def _fill(slot: Slot, *people: int) -> None:
    for n in people:
        book_course(slot.campaign, slot, n)


def test_a_move_to_a_full_slot_is_409_and_changes_nothing(api, course):
    booking, firsts, seconds = course
    _fill(firsts[1], 2, 3)  # 10:00 is full on both days
    before = _where(booking)
    booked = _booked(*firsts, *seconds)
    assert booked == [1, 2, 1, 2]
    response = _move(api, booking, firsts[1])
    assert response.status_code == 409
    assert (response.json()["code"], response.json()["reason"]) == ("slot_unavailable", "full")
    assert response.json()["detail"]
    assert _where(booking) == before
    assert _booked(*firsts, *seconds) == booked
    assert _status(api, booking)["doses"][0]["slot"] == firsts[0].pk
    assert_places_add_up()


def test_a_move_whose_later_slot_is_full_is_409_and_changes_nothing(api, course):
    booking, firsts, seconds = course
    _fill(firsts[1], 2, 3)  # 10:00 is full on both days
    elsewhere = SlotFactory(
        campaign=booking.campaign,
        clinic=firsts[0].clinic,
        date=firsts[0].date,
        start_time=clock(11, 0),
        capacity=2,
    )
    before, booked = _where(booking), _booked(*firsts, *seconds, elsewhere)
    response = _move(api, booking, elsewhere, later_slots=[seconds[1].pk])
    assert response.status_code == 409
    assert response.json()["reason"] == "later_changed"
    assert _where(booking) == before and _booked(*firsts, *seconds, elsewhere) == booked


def test_outside_the_campaign_window_a_move_is_403_and_changes_nothing(api, course):
    booking, firsts, seconds = course
    campaign = booking.campaign
    campaign.closes_at = timezone.now() + timedelta(hours=1)
    campaign.save(update_fields=["closes_at"])
    before = _where(booking)
    with time_machine.travel(campaign.closes_at + timedelta(seconds=1), tick=False):
        response = _move(api, booking, firsts[1])
    assert response.status_code == 403
    assert response.json()["state"] == "closed"
    assert _where(booking) == before and _booked(*firsts, *seconds) == [1, 0, 1, 0]


def test_when_the_persons_own_window_has_closed_a_move_is_403_and_changes_nothing(api, course):
    booking, firsts, seconds = course
    campaign = booking.campaign
    now = timezone.now()
    # staggered windows: the person's (born 1963 on) closed a minute ago; 1962's still open
    BookingWindow.objects.create(
        campaign=campaign,
        opens_at=campaign.opens_at,
        closes_at=now - timedelta(minutes=1),
        born_from=date(1963, 1, 1),
    )
    BookingWindow.objects.create(
        campaign=campaign,
        opens_at=campaign.opens_at,
        closes_at=campaign.closes_at,
        born_to=date(1962, 12, 31),
    )
    before = _where(booking)
    response = _move(api, booking, firsts[1])
    assert response.status_code == 403
    assert (response.json()["code"], response.json()["reason"]) == ("window_closed", "window")
    assert _where(booking) == before and _booked(*firsts, *seconds) == [1, 0, 1, 0]


def _admission_pass(campaign) -> str:
    config = waiting_room.config_for(campaign.slug)
    ticket = waiting_room.Ticket(
        id="abcdefabcdef0123", opening=int(campaign.opens_at.timestamp()), early=True, number=1
    )
    now = time.time()
    return waiting_room.issue_pass(HttpResponse(), config, ticket, admitted_at=now, now=now)


def test_with_the_waiting_room_on_a_move_needs_an_admission_pass(api, course):
    booking, firsts, seconds = course
    campaign = campaign_services.configure_waiting_room(
        booking.campaign, enabled=True, per_minute=60
    )
    response = _move(api, booking, firsts[1])
    assert response.status_code == 403 and "queue" in response.json()
    assert _booked(*firsts, *seconds) == [1, 0, 1, 0]
    response = _move(
        api, booking, firsts[1], headers={"X-Admission-Pass": _admission_pass(campaign)}
    )
    assert response.status_code == 200, response.json()
    assert _booked(*firsts, *seconds) == [0, 1, 1, 0]


def test_only_the_person_who_proves_the_registration_number_may_move(api, course):
    booking, firsts, seconds = course
    before = _where(booking)
    wrong = _move(api, booking, firsts[1], rrn=rrn_for(2))
    assert wrong.status_code == 404  # a wrong number and an unknown booking look the same
    other = two_dose_campaign()
    url = _move_url(booking, campaign=other)
    body = {"rrn": rrn_for(PERSON), "slot": firsts[1].pk}
    assert api.post(url, body, format="json").status_code == 404  # not that campaign's
    missing = api.post(
        _move_url(booking).replace(str(booking.public_id), "6f1c3a56-9c43-4b7e-8d0c-3d8f3f0d9a11"),
        body,
        format="json",
    )
    assert missing.status_code == 404
    assert _where(booking) == before and _booked(*firsts, *seconds) == [1, 0, 1, 0]


@pytest.mark.parametrize(
    ("body", "field"),
    [({"slot": 1}, "rrn"), ({"rrn": "123", "slot": 1}, "rrn"), ({"rrn": rrn_for(PERSON)}, "slot")],
)
def test_a_malformed_move_is_400_with_the_field(api, course, body, field):
    booking, *_ = course
    response = api.post(_move_url(booking), body, format="json")
    assert response.status_code == 400 and field in response.json()


def test_a_booking_not_confirmed_or_a_slot_not_offered_is_refused(api):
    campaign = two_dose_campaign()
    firsts, seconds = course_slots(campaign)
    pending = book_course(campaign, firsts[0], PERSON, confirm=False)
    response = _move(api, pending, firsts[1])
    assert response.status_code == 409
    assert (response.json()["code"], response.json()["reason"]) == ("not_movable", "not_confirmed")
    services.confirm_booking(pending.pk)
    same = _move(api, pending, firsts[0])
    assert (same.status_code, same.json()["reason"]) == (409, "same")
    foreign = _move(api, pending, SlotFactory())
    assert (foreign.status_code, foreign.json()["reason"]) == (400, "not_offered")
    assert_places_add_up()


@pytest.mark.usefixtures("one_limits_window")
def test_moves_are_limited_per_person(api, course, settings):
    booking, firsts, _ = course
    settings.VAXBOOK_THROTTLE_PER_PERSON = 2
    answers = [_move(api, booking, firsts[0]).status_code for _ in range(3)]
    assert answers == [409, 409, 429]  # "same": refused, but counted
