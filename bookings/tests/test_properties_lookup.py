"""Property tests of the lookup form: any code, registration number and phone, in any
request body — never a server error, never a write, and a match only ever leads to the one
booking there is. The strategies are in ``bookings/tests/strategies.py``."""

import hypothesis
import pytest
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from bookings import services
from bookings.models import Booking
from bookings.tests.factories import BookingFactory
from bookings.tests.strategies import (
    FUZZ,
    answered,
    field,
    form_bodies,
    form_content_types,
    forms,
    post_form,
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


@pytest.fixture
def confirmed(slot):
    booking = BookingFactory(slot=slot, rrn="630303-2345678", phone="010-9876-5432")
    return services.confirm_booking(booking.pk)


@FUZZ
@given(data=st.data())
def test_lookup_answers_any_code_rrn_and_phone(client, confirmed, data):
    code = confirmed.code
    valid = {
        "code": st.sampled_from([code, code.lower(), f"{code[:4]}-{code[4:]}", f" {code} "]),
        "rrn": st.sampled_from(["630303-2345678", "6303032345678", ""]),
        "phone": st.sampled_from(["010-9876-5432", "01098765432", ""]),
    }
    form = data.draw(forms(valid, {name: field(s) for name, s in valid.items()}), label="form")
    before = Booking.objects.count()

    response = post_form(client, reverse("bookings:lookup"), form)

    answered(response, *form.values())
    hypothesis.event(f"HTTP {response.status_code}")
    assert response.status_code in (200, 302)
    if response.status_code == 302:  # only ever to the one booking there is
        assert response["Location"] == reverse(
            "bookings:status", kwargs={"public_id": confirmed.public_id}
        )
    assert Booking.objects.count() == before


# Half of FUZZ's examples: the identity form's half of "any request body" is in
# test_properties_identity.py (together, as many as when one property drew the page).
@hypothesis.settings(FUZZ, max_examples=FUZZ.max_examples // 2)
@given(body=form_bodies, content_type=form_content_types)
def test_the_lookup_form_answers_any_request_body(client, body, content_type):
    before = Booking.objects.count()

    response = client.generic("POST", reverse("bookings:lookup"), body, content_type=content_type)

    hypothesis.event(f"HTTP {response.status_code}")
    assert response.status_code in (200, 400), response.content[:2000]
    assert Booking.objects.count() == before
