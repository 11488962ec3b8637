"""A course of several doses through the booking pages: the choose step finds the later doses'
times with the first (or refuses the first), the review shows every dose and offers new times
when one was taken, and the status and cancel pages list every appointment."""

from datetime import datetime, time, timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

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
from bookings.tests.flow import identify, submit, submit_and_confirm, token_of, walk_to_review
from bookings.tests.page import parse
from clinics.models import Slot
from clinics.tests.factories import SlotFactory, UserFactory
from vaxbook.dates import KST

pytestmark = pytest.mark.django_db


def _status_url(booking: Booking) -> str:
    return reverse("bookings:status", kwargs={"public_id": booking.public_id})


def _doses(page, list_id: str = "doses") -> list[dict[str, str]]:
    return [li.attrs for li in page.by_id(list_id).find_all("li")]


def _owner(booking: Booking, n: int) -> Client:
    """A browser that looked the booking up with its code and registration number."""
    citizen = Client()
    found = citizen.post(reverse("bookings:lookup"), {"code": booking.code, "rrn": rrn_for(n)})
    assert found.status_code == 302
    return citizen


def test_a_two_dose_course_is_booked_through_the_pages_and_listed_on_its_page(client):
    campaign = two_dose_campaign()
    firsts, seconds = course_slots(campaign)
    review_url = walk_to_review(client, firsts[1], rrn=rrn_for(1))
    # the second dose's time is kept on the server, not in the page
    assert client.session["booking_flow"]["later_slot_ids"] == [seconds[1].pk]
    review = parse(client.get(review_url))
    shown = [(d["data-dose"], d["data-slot"]) for d in _doses(review)]
    assert shown == [("1", str(firsts[1].pk)), ("2", str(seconds[1].pk))]
    assert review.by_id("book-this-time").find("input", name="t") is not None

    booking = submit_and_confirm(client, review_url)

    rows = list(Booking.objects.order_by("dose"))
    assert [(r.dose, r.slot_id, r.status) for r in rows] == [
        (1, firsts[1].pk, Booking.Status.CONFIRMED),
        (2, seconds[1].pk, Booking.Status.CONFIRMED),
    ]
    assert rows[1].first_dose_id == booking.pk
    assert rows[1].slot.date == firsts[1].date + timedelta(days=RECOMMENDED)
    assert_places_add_up()
    status = parse(client.get(_status_url(booking)))
    assert status.by_id("booking").attrs["data-status"] == "confirmed"
    listed = [(d["data-dose"], d["data-slot"], d["data-status"]) for d in _doses(status)]
    assert listed == [
        ("1", str(firsts[1].pk), "confirmed"),
        ("2", str(seconds[1].pk), "confirmed"),
    ]


def test_a_one_dose_booking_lists_no_doses():
    slot = SlotFactory(capacity=3)
    booking = services.request_booking(
        slot.campaign,
        identity=services.Identity.parse(name="Kim", rrn=rrn_for(1), phone="01012345678"),
        slot_id=slot.pk,
    )
    services.confirm_booking(booking.pk)
    page = parse(Client().get(_status_url(booking)))
    assert page.find(id="doses") is None
    assert page.find(id="booking-when") is not None


def test_a_first_time_without_a_place_for_the_second_dose_is_refused(client):
    campaign = two_dose_campaign()
    firsts, seconds = course_slots(campaign, times=(time(9, 0),))
    Slot.objects.filter(pk=seconds[0].pk).update(booked=seconds[0].capacity)
    choose_url = identify(client, campaign.slug, rrn=rrn_for(1))["Location"]
    response = client.post(
        choose_url,
        {
            "t": token_of(choose_url),
            "clinic": firsts[0].clinic.code,
            "date": firsts[0].date.isoformat(),
            "slot": firsts[0].pk,
        },
    )
    assert response.status_code == 200
    assert response.context["form"].has_error("slot", "no_later_dose")
    page = parse(response)
    assert page.by_id("times").attrs["data-refusal"] == "no_later_dose"
    assert page.by_id("error-summary") is not None
    assert client.session["booking_flow"]["slot_id"] is None
    assert client.session["booking_flow"]["later_slot_ids"] == []
    # another day with its second dose free can be chosen
    other_day = firsts[0].date + timedelta(days=1)
    other, _ = course_slots(campaign, clinic=firsts[0].clinic, day=other_day, times=(time(11, 0),))
    chosen = client.post(
        choose_url,
        {
            "t": token_of(choose_url),
            "clinic": firsts[0].clinic.code,
            "date": other_day.isoformat(),
            "slot": other[0].pk,
        },
    )
    assert chosen.status_code == 302
    assert Booking.objects.count() == 0


def test_a_second_dose_time_taken_before_submit_is_offered_anew_then_booked(client):
    campaign = two_dose_campaign()
    firsts, seconds = course_slots(campaign, second_capacity=1)
    review_url = walk_to_review(client, firsts[0], rrn=rrn_for(1))
    book_course(campaign, firsts[0], 2)  # takes the last place at the second dose's time

    response = submit(client, review_url)
    assert response.status_code == 409
    page = parse(response)
    refusal = page.by_id("refusal")
    assert (refusal.attrs["data-code"], refusal.attrs["data-reason"]) == (
        "slot_unavailable",
        "later_changed",
    )
    assert [d["data-slot"] for d in _doses(page)] == [str(firsts[0].pk), str(seconds[1].pk)]
    assert page.by_id("book-this-time") is not None, "the new offer can be submitted"
    assert client.session["booking_flow"]["later_slot_ids"] == [seconds[1].pk]
    assert Booking.objects.count() == 2, "only the other person's course"

    booking = submit_and_confirm(client, review_url)
    assert booking.slot == firsts[0] and booking.later_doses.get().slot == seconds[1]
    assert_places_add_up()


def test_no_second_dose_time_left_at_submit_sends_the_person_back_to_choosing(client):
    campaign = two_dose_campaign()
    firsts, seconds = course_slots(campaign, times=(time(9, 0),), second_capacity=1)
    review_url = walk_to_review(client, firsts[0], rrn=rrn_for(1))
    book_course(campaign, firsts[0], 2)  # takes the only second-dose place
    response = submit(client, review_url)
    assert response.status_code == 409
    page = parse(response)
    assert page.by_id("refusal").attrs["data-reason"] == "no_later_dose"
    assert page.find(id="book-this-time") is None
    assert client.get(page.by_id("choose-another-time").attrs["href"]).status_code == 200
    assert Booking.objects.count() == 2, "only the other person's course"


def test_the_status_page_says_which_dose_was_given_and_which_cancelled():
    campaign = two_dose_campaign()
    firsts, _ = course_slots(campaign)
    booking = book_course(campaign, firsts[0], 1)
    citizen = _owner(booking, 1)
    with time_machine.travel(datetime.combine(firsts[0].date, time(9, 5), tzinfo=KST)):
        services.check_in_booking(booking.pk, by=UserFactory())
        cancel_url = reverse("bookings:cancel", kwargs={"public_id": booking.public_id})
        asked = parse(citizen.get(cancel_url))
        assert [d["data-dose"] for d in _doses(asked, "cancelled-doses")] == ["2"]
        assert citizen.post(cancel_url).status_code == 302
        page = parse(citizen.get(_status_url(booking)))
    first, second = _doses(page)
    assert (first["data-status"], first.get("data-checked-in")) == ("confirmed", "true")
    assert (second["data-status"], second.get("data-checked-in")) == ("cancelled", None)
    assert page.find(id="move-link") is None


def test_a_missed_first_dose_shows_as_a_no_show_with_its_second_cancelled():
    campaign = two_dose_campaign()
    firsts, _ = course_slots(campaign)
    booking = book_course(campaign, firsts[0], 1)
    with time_machine.travel(
        datetime.combine(firsts[0].date + timedelta(days=1), time(0, 30), tzinfo=KST)
    ):
        services.mark_no_shows()
        page = parse(Client().get(_status_url(booking)))
    assert page.by_id("booking").attrs["data-status"] == "no_show"
    assert [d["data-status"] for d in _doses(page)] == ["no_show", "cancelled"]


def test_cancelling_a_two_dose_booking_lists_and_cancels_both_appointments():
    campaign = two_dose_campaign()
    firsts, seconds = course_slots(campaign)
    booking = book_course(campaign, firsts[0], 1)
    citizen = _owner(booking, 1)
    cancel_url = reverse("bookings:cancel", kwargs={"public_id": booking.public_id})

    asked = parse(citizen.get(cancel_url))
    listed = [(d["data-dose"], d["data-slot"]) for d in _doses(asked, "cancelled-doses")]
    assert listed == [("1", str(firsts[0].pk)), ("2", str(seconds[0].pk))]
    assert asked.by_id("cancel-booking").attrs["method"] == "post"

    done = citizen.post(cancel_url)
    assert done.status_code == 302 and done["Location"] == _status_url(booking)
    assert set(Booking.objects.values_list("status", flat=True)) == {"cancelled"}
    assert sum(Slot.objects.values_list("booked", flat=True)) == 0
    assert_places_add_up()
    page = parse(citizen.get(_status_url(booking)))
    assert [d["data-status"] for d in _doses(page)] == ["cancelled", "cancelled"]


def test_a_rejected_course_is_booked_again_from_its_page_with_both_doses(client):
    campaign = two_dose_campaign()
    firsts, seconds = course_slots(campaign, second_capacity=1)
    review_url = walk_to_review(client, firsts[0], rrn=rrn_for(1))
    response = submit(client, review_url)
    booking = Booking.objects.get(public_id=response["Location"].rstrip("/").rsplit("/", 1)[1])
    book_course(campaign, firsts[0], 2)  # takes the second dose's place first
    services.confirm_booking(booking.pk)
    booking.refresh_from_db()
    assert booking.reject_reason == Booking.RejectReason.LATER_DOSE_FULL

    page = parse(client.get(_status_url(booking)))
    assert [d["data-status"] for d in _doses(page)] == ["rejected", "rejected"]
    rebook_url = reverse(
        "bookings:rebook", kwargs={"campaign": campaign.slug, "public_id": booking.public_id}
    )
    offered = {
        form.find("input", name="slot").attrs["value"]
        for form in page.by_id("alternatives").find_all("form", action=rebook_url)
    }
    assert str(firsts[1].pk) in offered
    again = client.post(rebook_url, {"slot": firsts[1].pk})
    assert again.status_code == 302
    new = Booking.objects.get(public_id=again["Location"].rstrip("/").rsplit("/", 1)[1])
    services.confirm_booking(new.pk)
    assert [(r.dose, r.slot_id, r.status) for r in new.later_doses.all()] == [
        (2, seconds[1].pk, Booking.Status.CONFIRMED)
    ]
    assert_places_add_up()
