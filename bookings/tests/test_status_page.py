"""The booking's own page: while pending it follows the booking with a script (no meta refresh)
and a plain link; once confirmed it says the vaccine and what to bring, prints, and offers a
calendar file. And the browser's back button after booking leads to it."""

from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from bookings import services
from bookings.models import Booking
from bookings.tests.factories import BookingFactory
from bookings.tests.flow import submit, walk_to_review
from bookings.tests.page import parse
from campaigns.tests.factories import CampaignFactory
from clinics.tests.factories import ClinicFactory, SlotFactory

pytestmark = pytest.mark.django_db

RRN = "620714-1234567"
UNKNOWN = "6f1c3a56-9c43-4b7e-8d0c-3d8f3f0d9a11"
KST = ZoneInfo("Asia/Seoul")


@pytest.fixture
def slot():
    return SlotFactory(
        campaign=CampaignFactory(vaccine__name="Comirnaty JN.1"),
        clinic=ClinicFactory(name="Jongno Health Center", address="36 Jong-ro, Seoul"),
        start_time=time(14, 30),
        capacity=3,
    )


def _status_url(booking: Booking) -> str:
    return reverse("bookings:status", kwargs={"public_id": booking.public_id})


def _calendar_url(booking: Booking) -> str:
    return reverse("bookings:calendar", kwargs={"public_id": booking.public_id})


def test_the_pending_page_follows_the_booking_with_a_script_and_a_plain_link(slot):
    booking = BookingFactory(slot=slot, rrn=RRN)
    response = Client().get(_status_url(booking))
    html = response.content.decode()
    page = parse(response)
    assert page.find("meta", http_equiv="refresh") is None
    region = page.by_id("booking")
    assert region.attrs["data-status"] == "pending"
    assert region.attrs["aria-live"] == "polite"
    assert region.attrs["data-poll-url"] == reverse(
        "api:booking-status", kwargs={"public_id": booking.public_id}
    )
    assert page.by_id("check-again").attrs["href"] == _status_url(booking)
    scripts = page.find_all("script")
    assert [s.attrs.get("src") for s in scripts] == [settings.STATIC_URL + "bookings/status.js"]
    assert all(not s.text for s in scripts), "no inline script (CSP allows 'self' only)"
    assert "style=" not in html
    assert (Path(settings.BASE_DIR) / "static/bookings/status.js").is_file()


def test_the_confirmed_page_says_the_vaccine_what_to_bring_and_how_to_keep_it(slot):
    booking = services.confirm_booking(BookingFactory(slot=slot, rrn=RRN).pk)
    page = parse(Client().get(_status_url(booking)))
    assert page.find("meta", http_equiv="refresh") is None
    assert page.find("script") is None or page.find("script", src=True)
    assert "Comirnaty JN.1" in page.by_id("vaccine").text
    assert page.by_id("booking-code").text == booking.code
    bring = page.by_id("what-to-bring").find_all("li")
    assert len(bring) >= 2
    assert {li.attrs.get("data-item") for li in bring} >= {"id-card", "booking-code"}
    assert page.by_id("calendar-link").attrs["href"] == _calendar_url(booking)
    assert page.by_id("print-booking").attrs.get("type") == "button"


def test_the_calendar_file_has_the_appointment_in_korea_time_and_nothing_personal(slot):
    booking = services.confirm_booking(
        BookingFactory(slot=slot, rrn=RRN, name="김민수", phone="010-9876-5432").pk
    )
    response = Client().get(_calendar_url(booking))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    assert response["Content-Disposition"].startswith("attachment;")
    calendar = icalendar.Calendar.from_ical(response.content)
    events = list(calendar.walk("VEVENT"))
    assert len(events) == 1
    event = events[0]
    start = event.decoded("DTSTART")
    assert start == datetime.combine(slot.date, slot.start_time, tzinfo=KST)
    assert start.utcoffset() == timedelta(hours=9)
    assert str(start.tzinfo) in ("Asia/Seoul", "KST")
    assert event.decoded("DTEND") > start
    assert "Jongno Health Center" in str(event["LOCATION"])
    assert "36 Jong-ro, Seoul" in str(event["LOCATION"])
    assert "Comirnaty JN.1" in str(event["SUMMARY"])
    assert booking.code in str(event["DESCRIPTION"])
    assert str(event["UID"]).startswith(str(booking.public_id))
    text = response.content.decode()
    for personal in ("김민수", "010-9876-5432", "9876", booking.rrn_masked, "620714"):
        assert personal not in text


@pytest.mark.parametrize("decide", ["pending", "rejected", "cancelled"])
def test_only_a_confirmed_booking_has_a_calendar_file(slot, decide):
    booking = BookingFactory(slot=slot, rrn=RRN)
    if decide == "rejected":
        Booking.objects.filter(pk=booking.pk).update(status=Booking.Status.REJECTED)
    elif decide == "cancelled":
        services.confirm_booking(booking.pk)
        services.cancel_booking(booking.pk)
    assert Client().get(_calendar_url(booking)).status_code == 404
    unknown = reverse("bookings:calendar", kwargs={"public_id": UNKNOWN})
    assert Client().get(unknown).status_code == 404


def test_back_after_booking_leads_to_the_booking_not_to_an_expired_session(client, slot):
    review_url = walk_to_review(client, slot, rrn=RRN)
    choose_url = client.get(review_url).context["choose_url"]
    made = submit(client, review_url)
    assert made.status_code == 302
    booking = Booking.objects.get()
    # the browser's back button: the review page again, then the choose page
    for url in (review_url, choose_url):
        back = client.get(url)
        assert back.status_code == 302, url
        assert back["Location"] == _status_url(booking)
    assert Booking.objects.count() == 1
