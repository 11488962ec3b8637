"""A body declared in a character set other than UTF-8 gets a clear 400, never a 500, and
nothing is written — with debug pages on and off, through the CSRF check as on the real stack.

Django refuses such a form body with ``BadRequest``, but its CSRF check is what reads the body
first, and the 400 and 500 handlers run that same check again: the refusal turned into a 500.
"""

from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import reverse

from bookings.models import Booking
from bookings.tests.factories import BookingFactory
from clinics.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db

CHARSETS = ["utf-16", "utf-16-le", "utf-32", "cp037", "rot13", "no-such-charset", "base64"]
FORM_TYPES = ["application/x-www-form-urlencoded", "multipart/form-data; boundary=xyz"]


def _browser() -> tuple[Client, str]:
    """A client that passes the CSRF check like a browser: cookie plus form field."""
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    client.get(reverse("bookings:lookup"))
    return client, client.cookies["csrftoken"].value


def _targets(slot):
    booking = BookingFactory(slot=slot, code="ABCDEFGH", status=Booking.Status.CONFIRMED)
    return [
        (
            reverse("bookings:start", kwargs={"campaign": slot.campaign.slug}),
            {"name": "Kim", "rrn": "620714-1234567", "phone": "010-1234-5678"},
        ),
        (reverse("bookings:lookup"), {"code": "ABCDEFGH", "rrn": "620714-1234567"}),
        (reverse("bookings:cancel", kwargs={"public_id": booking.public_id}), {}),
    ]


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("charset", CHARSETS)
def test_a_form_posted_in_another_charset_is_a_400_not_a_500(settings, charset, debug):
    settings.DEBUG = debug
    slot = SlotFactory()
    client, token = _browser()
    for url, fields in _targets(slot):
        body = urlencode({**fields, "csrfmiddlewaretoken": token}).encode("ascii")
        for content_type in FORM_TYPES:
            # generic(): post() would re-encode the body in the declared charset itself
            response = client.generic(
                "POST", url, body, content_type=f"{content_type}; charset={charset}"
            )
            assert response.status_code == 400, (url, content_type, charset)
            assert response["Content-Type"].startswith("text/html")
    booking = Booking.objects.get()  # only the one the test made, still confirmed
    assert booking.status == Booking.Status.CONFIRMED


@pytest.mark.parametrize("charset", ["utf-16", "cp037", "rot13", "no-such-charset"])
def test_a_json_body_in_another_charset_is_a_400_with_a_json_reason(charset):
    slot = SlotFactory()
    response = Client(raise_request_exception=False).generic(
        "POST",
        reverse("api:booking-create", kwargs={"campaign": slot.campaign.slug}),
        b'{"name": "Kim"}',
        content_type=f"application/json; charset={charset}",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "unsupported_charset"
    assert Booking.objects.count() == 0


@pytest.mark.parametrize("charset", ["utf-8", "UTF-8", "utf8", "us-ascii"])
def test_utf8_declared_explicitly_still_works(charset):
    slot = SlotFactory()
    client, token = _browser()
    name = "김민수" if charset != "us-ascii" else "Kim Minsu"
    fields = {"name": name, "rrn": "620714-1234567", "phone": "010-1234-5678"}
    response = client.post(
        reverse("bookings:start", kwargs={"campaign": slot.campaign.slug}),
        urlencode({**fields, "csrfmiddlewaretoken": token}).encode("utf-8"),
        content_type=f"application/x-www-form-urlencoded; charset={charset}",
    )
    assert response.status_code == 302  # on to the choose step
