"""Property tests of the identity step (step 1): any name, registration number and phone,
in any digits, in any request body — never a server error, never a booking written before
the review. The strategies are in ``bookings/tests/strategies.py``."""

import hypothesis
import pytest
from django.urls import reverse
from hypothesis import example, given
from hypothesis import strategies as st

from bookings.models import Booking
from bookings.tests.factories import rrn_for
from bookings.tests.flow import identify
from bookings.tests.strategies import (
    FORMULAS,
    FULL_WIDTH_ZERO,
    FUZZ,
    MARKUP,
    PHONE,
    RRN,
    SQL,
    answered,
    form_bodies,
    form_content_types,
    forms,
    fuzzed_identities,
    identities,
    in_digits,
    path_of,
    post_form,
    without_abuse_limits,
    zeros,
)
from clinics.tests.factories import ClinicFactory, SlotFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_abuse_limits(settings):
    without_abuse_limits(settings)


@pytest.fixture
def slot():
    return SlotFactory(clinic=ClinicFactory(code="jongno", region="Seoul"), capacity=1000)


@FUZZ
@given(form=forms(identities, fuzzed_identities), multipart=st.booleans())
@example(form={"name": MARKUP[0], "rrn": RRN, "phone": PHONE}, multipart=False)
@example(form={"name": "Kim\x00", "rrn": RRN + "\x00", "phone": "\x00" + PHONE}, multipart=False)
@example(form={"name": "x" * 10_000, "rrn": "6" * 10_000, "phone": "0" * 10_000}, multipart=True)
@example(form={"name": SQL[1], "rrn": SQL[0], "phone": FORMULAS[0]}, multipart=False)
def test_identify_step_answers_any_name_rrn_and_phone(client, slot, form, multipart):
    slug = slot.campaign.slug
    before = Booking.objects.count()

    response = post_form(
        client, reverse("bookings:start", kwargs={"campaign": slug}), form, multipart=multipart
    )

    answered(response, *form.values())
    hypothesis.event(f"HTTP {response.status_code}")
    assert response.status_code in (200, 302)
    if response.status_code == 302:
        assert path_of(response["Location"]) == reverse(
            "bookings:choose", kwargs={"campaign": slug}
        )
    assert Booking.objects.count() == before


@FUZZ
@given(n=st.integers(min_value=0, max_value=999_999), zero=zeros)
def test_registration_numbers_in_full_width_digits_pass_other_scripts_do_not(client, slot, n, zero):
    """NFKC folds full-width digits to ASCII; Arabic-Indic or Devanagari digits would give one
    person several spellings (and keyed hashes), so they are refused (bookings.identity)."""
    rrn = in_digits(rrn_for(n), zero)

    response = identify(client, slot.campaign.slug, rrn=rrn, phone=PHONE)

    assert response.status_code == (302 if zero == FULL_WIDTH_ZERO else 200)


# Half of FUZZ's examples: the lookup form's half of "any request body" is in
# test_properties_lookup.py (together, as many as when one property drew the page).
@hypothesis.settings(FUZZ, max_examples=FUZZ.max_examples // 2)
@given(body=form_bodies, content_type=form_content_types)
def test_the_identity_form_answers_any_request_body(client, slot, body, content_type):
    url = reverse("bookings:start", kwargs={"campaign": slot.campaign.slug})
    before = Booking.objects.count()

    response = client.generic("POST", url, body, content_type=content_type)

    hypothesis.event(f"HTTP {response.status_code}")
    assert response.status_code in (200, 400), response.content[:2000]
    assert Booking.objects.count() == before
