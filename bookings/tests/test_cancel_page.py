"""Cancelling a booking: asked on its own page first (a plain form, no script), and refused
once the person has checked in at the clinic."""

import pytest
from django.contrib import messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from bookings import services
from bookings.errors import NotCancellable
from bookings.models import Booking
from bookings.tests.factories import BookingFactory
from bookings.tests.page import parse
from clinics.tests.factories import ClinicFactory, SlotFactory, UserFactory

pytestmark = pytest.mark.django_db

RRN = "620714-1234567"
UNKNOWN = "6f1c3a56-9c43-4b7e-8d0c-3d8f3f0d9a11"


def _confirmed(slot) -> Booking:
    booking = BookingFactory(slot=slot, rrn=RRN)
    return services.confirm_booking(booking.pk)


def _owner(booking: Booking) -> Client:
    """A browser that proved the registration number (looked the booking up)."""
    citizen = Client()
    found = citizen.post(reverse("bookings:lookup"), {"code": booking.code, "rrn": RRN})
    assert found.status_code == 302
    return citizen


def _levels(response) -> list[int]:
    return [message.level for message in response.context["messages"]]


@pytest.fixture
def slot():
    return SlotFactory(clinic=ClinicFactory(), capacity=3)


def test_the_status_page_links_to_a_page_that_asks_before_cancelling(slot):
    booking = _confirmed(slot)
    citizen = _owner(booking)
    status_url = reverse("bookings:status", kwargs={"public_id": booking.public_id})
    cancel_url = reverse("bookings:cancel", kwargs={"public_id": booking.public_id})

    status = parse(citizen.get(status_url))
    assert status.by_id("cancel-link").attrs["href"] == cancel_url
    assert status.find("form", action=cancel_url) is None, "no one-tap cancel on the status page"

    asked = citizen.get(cancel_url)
    assert asked.status_code == 200
    form = parse(asked).by_id("cancel-booking")
    assert form.tag == "form" and form.attrs["method"] == "post"
    assert form.attrs["action"] == cancel_url
    assert form.find("button", type="submit") is not None
    assert parse(asked).by_id("keep-booking").attrs["href"] == status_url
    booking.refresh_from_db()
    slot.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED and slot.booked == 1, "asking changes nothing"

    done = citizen.post(cancel_url)
    assert done.status_code == 302 and done["Location"] == status_url
    booking.refresh_from_db()
    slot.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED and slot.booked == 0


def test_the_cancel_page_is_only_for_the_browser_that_may_manage_the_booking(slot):
    booking = _confirmed(slot)
    cancel_url = reverse("bookings:cancel", kwargs={"public_id": booking.public_id})
    stranger = Client().get(cancel_url)
    assert stranger.status_code == 403
    assert parse(stranger).find("form", action=cancel_url) is None
    unknown = reverse("bookings:cancel", kwargs={"public_id": UNKNOWN})
    assert Client().get(unknown).status_code == 404


@pytest.mark.usefixtures("away_from_midnight")
def test_cancelling_is_refused_after_check_in_and_changes_nothing():
    today = SlotFactory(date=timezone.localdate(), capacity=3)
    booking = _confirmed(today)
    services.check_in_booking(booking.pk, by=UserFactory())

    with pytest.raises(NotCancellable) as refused:
        services.cancel_booking(booking.pk)
    assert refused.value.reason == "checked_in"

    citizen = _owner(booking)
    cancel_url = reverse("bookings:cancel", kwargs={"public_id": booking.public_id})
    asked = citizen.get(cancel_url)
    page = parse(asked)
    assert page.find("form", action=cancel_url) is None, "nothing to confirm"
    refusal = page.by_id("refusal")
    assert refusal.attrs["data-code"] == "not_cancellable"
    assert refusal.attrs["data-reason"] == "checked_in"
    status_url = reverse("bookings:status", kwargs={"public_id": booking.public_id})
    assert parse(citizen.get(status_url)).find(id="cancel-link") is None

    posted = citizen.post(cancel_url, follow=True)
    assert _levels(posted) == [messages.ERROR]
    booking.refresh_from_db()
    today.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED and booking.checked_in_at is not None
    assert today.booked == 1, "the place stays taken"
