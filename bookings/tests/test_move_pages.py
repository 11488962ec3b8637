"""Moving a confirmed booking through its pages: choose the new time, review where every dose
goes, confirm. The new places are taken and the old freed, or nothing changes; guarded by the
window and the waiting room like a booking, only for the session that may manage it."""

from datetime import datetime, time, timedelta

import pytest
import time_machine
from django.contrib import messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from bookings import services
from bookings.models import Booking
from bookings.tests.doses import (
    RECOMMENDED,
    assert_places_add_up,
    book_course,
    course_slots,
    two_dose_campaign,
)
from bookings.tests.factories import rrn_for
from bookings.tests.page import parse
from campaigns import services as campaign_services
from campaigns.tests.queue import join
from clinics.models import Slot
from clinics.tests.factories import SlotFactory, UserFactory
from vaxbook.dates import KST

pytestmark = pytest.mark.django_db


def _owner(booking: Booking, n: int) -> Client:
    """A browser that looked the booking up with its code and registration number."""
    citizen = Client()
    found = citizen.post(reverse("bookings:lookup"), {"code": booking.code, "rrn": rrn_for(n)})
    assert found.status_code == 302
    return citizen


def _move_url(booking: Booking) -> str:
    return reverse(
        "bookings:move",
        kwargs={"campaign": booking.campaign.slug, "public_id": booking.public_id},
    )


def _status_url(booking: Booking) -> str:
    return reverse("bookings:status", kwargs={"public_id": booking.public_id})


def _choose(citizen: Client, booking: Booking, slot: Slot):
    return citizen.post(
        _move_url(booking),
        {"clinic": slot.clinic.code, "date": slot.date.isoformat(), "slot": slot.pk},
    )


def _places(*slots: Slot) -> list[int]:
    return [Slot.objects.get(pk=slot.pk).booked for slot in slots]


def _where(booking: Booking) -> list[tuple[int, int, str]]:
    rows = Booking.objects.filter(pk=booking.pk) | booking.later_doses.all()
    return [(row.dose, row.slot_id, row.status) for row in rows.order_by("dose")]


@pytest.fixture
def course():
    """Person 1's confirmed two-dose course at 09:00, with 10:00 the same days free, and a
    first-dose day later (with its second-dose day) to move to."""
    campaign = two_dose_campaign()
    firsts, seconds = course_slots(campaign)
    booking = book_course(campaign, firsts[0], 1)
    later_day = firsts[0].date + timedelta(days=1)
    new_firsts, new_seconds = course_slots(
        campaign, clinic=firsts[0].clinic, day=later_day, times=(time(14, 0),)
    )
    return booking, firsts, seconds, new_firsts[0], new_seconds[0]


def test_a_move_through_the_pages_takes_the_new_places_and_frees_the_old(course):
    booking, firsts, seconds, new_first, new_second = course
    citizen = _owner(booking, 1)
    status = parse(citizen.get(_status_url(booking)))
    assert status.by_id("move-link").attrs["href"] == _move_url(booking)
    assert status.by_id("move-deadline") is not None

    page = parse(citizen.get(_move_url(booking), {"clinic": new_first.clinic.code}))
    assert page.by_id("days") is not None
    times = parse(
        citizen.get(
            _move_url(booking),
            {"clinic": new_first.clinic.code, "date": new_first.date.isoformat()},
        )
    ).by_id("times")
    assert times.attrs["action"] == _move_url(booking)
    assert times.find("input", name="slot", value=str(new_first.pk)) is not None

    chosen = _choose(citizen, booking, new_first)
    assert chosen.status_code == 302
    review_url = chosen["Location"]
    review = citizen.get(review_url)
    assert review.status_code == 200
    plan = [
        (tr.attrs["data-dose"], tr.attrs["data-old-slot"], tr.attrs["data-new-slot"])
        for tr in parse(review).by_id("move-plan").find_all("tr", data_dose=True)
    ]
    # the old second dose would be 20 days after the new first: it moves too
    assert plan == [
        ("1", str(firsts[0].pk), str(new_first.pk)),
        ("2", str(seconds[0].pk), str(new_second.pk)),
    ]
    assert _where(booking) == [(1, firsts[0].pk, "confirmed"), (2, seconds[0].pk, "confirmed")]

    done = citizen.post(review_url)
    assert done.status_code == 302 and done["Location"] == _status_url(booking)
    assert _where(booking) == [(1, new_first.pk, "confirmed"), (2, new_second.pk, "confirmed")]
    assert _places(firsts[0], seconds[0], new_first, new_second) == [0, 0, 1, 1]
    assert_places_add_up()
    shown = citizen.get(done["Location"])
    assert [m.level for m in shown.context["messages"]] == [messages.SUCCESS]
    listed = [li.attrs["data-slot"] for li in parse(shown).by_id("doses").find_all("li")]
    assert listed == [str(new_first.pk), str(new_second.pk)]
    # the review's choice is used up: the review page leads back to choosing
    again = citizen.post(review_url)
    assert again.status_code == 302 and again["Location"] == _move_url(booking)


def test_a_move_whose_new_time_filled_meanwhile_leaves_the_booking_and_says_so(course):
    booking, firsts, seconds, new_first, _ = course
    citizen = _owner(booking, 1)
    review_url = _choose(citizen, booking, new_first)["Location"]
    Slot.objects.filter(pk=new_first.pk).update(capacity=0)  # taken by the last person

    response = citizen.post(review_url)
    assert response.status_code == 200
    assert response.context["form"].has_error("slot", "full")
    page = parse(response)
    assert page.by_id("times").attrs["data-refusal"] == "full"
    assert page.by_id("error-summary") is not None
    assert _where(booking) == [(1, firsts[0].pk, "confirmed"), (2, seconds[0].pk, "confirmed")]
    assert _places(firsts[0], seconds[0]) == [1, 1]
    assert_places_add_up()


def test_a_one_dose_booking_moves_within_its_day(client):
    slot = SlotFactory(date=timezone.localdate() + timedelta(days=3), start_time=time(9, 0))
    other = SlotFactory(
        campaign=slot.campaign, clinic=slot.clinic, date=slot.date, start_time=time(10, 0)
    )
    booking = book_course(slot.campaign, slot, 1)
    citizen = _owner(booking, 1)
    review_url = _choose(citizen, booking, other)["Location"]
    assert citizen.post(review_url).status_code == 302
    booking.refresh_from_db()
    assert booking.slot == other and booking.moved_at is not None
    assert _places(slot, other) == [0, 1]


def test_a_move_after_the_deadline_is_refused_with_no_form(course):
    booking, firsts, seconds, new_first, _ = course
    citizen = _owner(booking, 1)
    day_before = firsts[0].date - timedelta(days=1)
    with time_machine.travel(datetime.combine(day_before, time(18, 0), tzinfo=KST)):
        status = parse(citizen.get(_status_url(booking)))
        assert status.find(id="move-link") is None
        assert status.by_id("move-closed").attrs["data-reason"] == "deadline"
        for response in (citizen.get(_move_url(booking)), _choose(citizen, booking, new_first)):
            assert response.status_code in (200, 409)
            page = parse(response)
            refusal = page.by_id("refusal")
            assert (refusal.attrs["data-code"], refusal.attrs["data-reason"]) == (
                "not_movable",
                "deadline",
            )
            assert page.find(id="times") is None
            assert page.find("input", name="slot") is None
    assert _where(booking) == [(1, firsts[0].pk, "confirmed"), (2, seconds[0].pk, "confirmed")]


def test_a_move_chosen_before_the_deadline_is_refused_after_it(course):
    booking, firsts, seconds, new_first, _ = course
    citizen = _owner(booking, 1)
    review_url = _choose(citizen, booking, new_first)["Location"]
    day_before = firsts[0].date - timedelta(days=1)
    with time_machine.travel(datetime.combine(day_before, time(18, 0), tzinfo=KST)):
        response = citizen.post(review_url)
    assert response.status_code == 409
    assert parse(response).by_id("refusal").attrs["data-reason"] == "deadline"
    assert _where(booking) == [(1, firsts[0].pk, "confirmed"), (2, seconds[0].pk, "confirmed")]


@pytest.mark.parametrize("moment", ["before the opening", "after the closing"])
def test_a_move_outside_the_window_gets_the_closed_page(course, moment):
    booking, firsts, seconds, new_first, _ = course
    citizen = _owner(booking, 1)
    review_url = _choose(citizen, booking, new_first)["Location"]
    campaign = booking.campaign
    if moment == "before the opening":
        campaign.opens_at = timezone.now() + timedelta(hours=1)
    else:
        campaign.closes_at = timezone.now() - timedelta(minutes=1)
    campaign.save()
    for response in (
        citizen.get(_move_url(booking)),
        _choose(citizen, booking, new_first),
        citizen.post(review_url),
    ):
        assert response.status_code == 403
        assert parse(response).find("input", name="slot") is None
    assert _where(booking) == [(1, firsts[0].pk, "confirmed"), (2, seconds[0].pk, "confirmed")]


def test_with_the_waiting_room_on_a_move_needs_an_admission_pass(course):
    booking, firsts, seconds, new_first, _ = course
    citizen = _owner(booking, 1)
    campaign_services.configure_waiting_room(booking.campaign, enabled=True, per_minute=60_000)
    queue = reverse("campaigns:queue", kwargs={"campaign": booking.campaign.slug})
    for response in (citizen.get(_move_url(booking)), _choose(citizen, booking, new_first)):
        assert response.status_code == 302 and response["Location"] == queue
    join(citizen, booking.campaign)
    review_url = _choose(citizen, booking, new_first)["Location"]
    assert citizen.post(review_url).status_code == 302
    assert _where(booking)[0][1] == new_first.pk
    assert_places_add_up()


def test_another_browser_may_not_move_the_booking(course):
    booking, firsts, seconds, new_first, _ = course
    stranger = Client()
    assert stranger.get(_move_url(booking)).status_code == 403
    assert _choose(stranger, booking, new_first).status_code == 403
    review = reverse(
        "bookings:move-review",
        kwargs={"campaign": booking.campaign.slug, "public_id": booking.public_id},
    )
    assert stranger.post(review).status_code == 403
    assert "move-link" not in stranger.get(_status_url(booking)).content.decode()
    unknown = reverse(
        "bookings:move",
        kwargs={
            "campaign": booking.campaign.slug,
            "public_id": "6f1c3a56-9c43-4b7e-8d0c-3d8f3f0d9a11",
        },
    )
    assert stranger.get(unknown).status_code == 404
    assert _where(booking) == [(1, firsts[0].pk, "confirmed"), (2, seconds[0].pk, "confirmed")]


@pytest.mark.parametrize(
    "slot, code",
    [("abc", "invalid"), ("", "required"), ("99999999999999999999", "max_value")],
)
def test_odd_slot_ids_get_the_form_with_an_error_not_a_500(course, slot, code):
    booking, firsts, *_ = course
    citizen = _owner(booking, 1)
    response = citizen.post(
        _move_url(booking),
        {"clinic": firsts[0].clinic.code, "date": firsts[0].date.isoformat(), "slot": slot},
    )
    assert response.status_code == 200
    assert response.context["form"].has_error("slot", code)


def test_a_time_of_another_campaign_or_clinic_or_the_same_time_is_refused(course):
    booking, firsts, seconds, new_first, _ = course
    citizen = _owner(booking, 1)
    elsewhere = SlotFactory(date=new_first.date)  # another campaign, another clinic
    response = citizen.post(
        _move_url(booking),
        {"clinic": firsts[0].clinic.code, "date": new_first.date.isoformat(), "slot": elsewhere.pk},
    )
    assert response.context["form"].has_error("slot", "not_offered")
    assert _choose(citizen, booking, firsts[0]).context["form"].has_error("slot", "same")
    assert _where(booking) == [(1, firsts[0].pk, "confirmed"), (2, seconds[0].pk, "confirmed")]


@pytest.mark.usefixtures("one_limits_window")
def test_moves_are_limited_per_person(course, settings):
    settings.VAXBOOK_THROTTLE_PER_PERSON = 2
    booking, firsts, *_ = course
    citizen = _owner(booking, 1)
    answers = [citizen.post(_move_url(booking), {"slot": "abc"}).status_code for _ in range(3)]
    assert answers == [200, 200, 429]


def test_a_second_dose_moving_with_the_first_keeps_its_time_when_it_still_fits(course):
    booking, firsts, seconds, _, _ = course
    citizen = _owner(booking, 1)
    review_url = _choose(citizen, booking, firsts[1])["Location"]  # 10:00 the same day
    assert citizen.post(review_url).status_code == 302
    assert _where(booking) == [(1, firsts[1].pk, "confirmed"), (2, seconds[0].pk, "confirmed")]
    assert _places(firsts[0], firsts[1], seconds[0]) == [0, 1, 1]
    assert seconds[0].date - firsts[1].date == timedelta(days=RECOMMENDED)


def test_after_the_first_dose_is_given_the_second_moves_alone(course):
    booking, firsts, seconds, *_ = course
    citizen = _owner(booking, 1)
    with time_machine.travel(datetime.combine(firsts[0].date, time(9, 5), tzinfo=KST)):
        services.check_in_booking(booking.pk, by=UserFactory())
        assert parse(citizen.get(_status_url(booking))).find(id="move-link") is not None
        review_url = _choose(citizen, booking, seconds[1])["Location"]
        plan = parse(citizen.get(review_url)).by_id("move-plan").find_all("tr", data_dose=True)
        assert [tr.attrs["data-dose"] for tr in plan] == ["2"]
        assert citizen.post(review_url).status_code == 302
    assert _where(booking) == [(1, firsts[0].pk, "confirmed"), (2, seconds[1].pk, "confirmed")]
    assert _places(firsts[0], seconds[0], seconds[1]) == [1, 0, 1]
    assert_places_add_up()
