"""Property test of a name stored with markup: a name the identity step accepts, whatever
markup, formula or template syntax it holds, is shown as text on the review and status pages
and in the admin. (In the rosters and the clinic's day list: clinics/tests/
test_properties_roster.py.) The strategies are in ``bookings/tests/strategies.py``."""

import itertools

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import example, given

from bookings.identity import normalise_name
from bookings.tests.factories import rrn_for
from bookings.tests.flow import submit_and_confirm, walk_to_review
from bookings.tests.strategies import (
    FUZZ_SLOW,
    markup_names,
    shown_escaped,
    without_abuse_limits,
)
from clinics.tests.factories import ClinicFactory, SlotFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_abuse_limits(settings):
    without_abuse_limits(settings)


@pytest.fixture
def slot():
    return SlotFactory(clinic=ClinicFactory(code="jongno", region="Seoul"), capacity=1000)


people = itertools.count(700_000)  # rrn_for(n): people none of the other tests book


@FUZZ_SLOW
@given(raw_name=markup_names)
@example(raw_name="<script>alert(1)</script>")
@example(raw_name='"><img src=x onerror=alert(1)>')
@example(raw_name="=cmd|' /C calc'!A0")
@example(raw_name="\t@SUM(1)")
def test_a_stored_name_is_escaped_on_the_booking_and_admin_pages(admin_client, slot, raw_name):
    name = normalise_name(raw_name)
    browser = Client()  # the person's own, for the status page
    review_url = walk_to_review(browser, slot, rrn=rrn_for(next(people)), name=raw_name)
    review = browser.get(review_url)
    assert review.status_code == 200
    booking = submit_and_confirm(browser, review_url)
    assert booking.name == name

    pages = {
        "review page": review.content.decode(),
        "status page": browser.get(
            reverse("bookings:status", kwargs={"public_id": booking.public_id})
        ),
        "admin list": admin_client.get(
            reverse("admin:bookings_booking_changelist"), {"q": booking.code}
        ),
        "admin page": admin_client.get(reverse("admin:bookings_booking_change", args=[booking.pk])),
    }
    for where, page in pages.items():
        if not isinstance(page, str):
            assert page.status_code == 200, where
            page = page.content.decode()
        shown_escaped(page, name, where)
        if name == "<script>alert(1)</script>":
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page, where
