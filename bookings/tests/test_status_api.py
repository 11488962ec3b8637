"""GET /api/bookings/<id>/, which a pending booking's page asks every two seconds: the same
answer for whoever holds the id, with or without a browser session."""

import pytest
from django.test import Client
from django.urls import reverse

from bookings.tests.factories import BookingFactory
from bookings.tests.flow import identify
from clinics.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db


def test_the_status_answer_does_not_depend_on_the_session(django_assert_num_queries):
    booking = BookingFactory(slot=SlotFactory(), rrn="620714-1234567")
    browser = Client()
    identify(browser, booking.campaign.slug, rrn="630101-1234567")  # a session in progress
    assert browser.cookies.get("sessionid")
    url = reverse("api:booking-status", kwargs={"public_id": booking.public_id})
    with django_assert_num_queries(1):
        answer = browser.get(url)
    assert answer.status_code == 200
    assert answer.json()["id"] == str(booking.public_id)
    assert answer.json()["status"] == "pending"
    # it reads no session (a cache in between may keep one answer for everyone)
    assert "Cookie" not in answer.get("Vary", "")
    assert Client().get(url).json() == answer.json()
