"""Property tests of the booking steps after the first, reached with a step token: the choose
step answers any region, clinic, date and slot; the review step refuses any token but its own.
The strategies are in ``bookings/tests/strategies.py``."""

import hypothesis
import pytest
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from bookings import steps
from bookings.models import Booking
from bookings.tests.flow import identify, token_of, walk_to_review
from bookings.tests.strategies import (
    FUZZ,
    RRN,
    answered,
    days,
    field,
    forms,
    garbage,
    path_of,
    post_form,
    slot_numbers,
    tampered,
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
def choose_url(client, slot):
    response = identify(client, slot.campaign.slug, rrn=RRN)
    assert response.status_code == 302, response.content.decode()[:2000]
    return response["Location"]


@FUZZ
@given(data=st.data())
def test_choose_step_answers_any_region_clinic_and_date(client, slot, choose_url, data):
    valid = {
        "region": st.sampled_from(["Seoul", "Busan", ""]),
        "clinic": st.sampled_from([slot.clinic.code, ""]),
        "date": st.sampled_from([slot.date.isoformat(), ""]) | days,
    }
    query = data.draw(forms(valid, {name: field(s) for name, s in valid.items()}), label="query")
    before = Booking.objects.count()

    response = client.get(path_of(choose_url), {"t": token_of(choose_url), **query})

    answered(response, *query.values())
    assert response.status_code == 200
    assert Booking.objects.count() == before


@FUZZ
@given(data=st.data())
def test_choose_step_answers_any_slot(client, slot, choose_url, data):
    valid = {
        "clinic": st.just(slot.clinic.code),
        "date": st.just(slot.date.isoformat()),
        "slot": st.just(str(slot.pk)),
    }
    fuzz = {name: field(s) for name, s in valid.items()}
    fuzz["slot"] = field(st.just(str(slot.pk)) | slot_numbers)
    form = data.draw(forms(valid, fuzz), label="form")
    before = Booking.objects.count()

    response = post_form(client, path_of(choose_url), {"t": token_of(choose_url), **form})

    answered(response, *form.values())
    hypothesis.event(f"HTTP {response.status_code}")
    assert response.status_code in (200, 302)
    if response.status_code == 302:
        review = reverse("bookings:review", kwargs={"campaign": slot.campaign.slug})
        assert path_of(response["Location"]) == review
    assert Booking.objects.count() == before


@pytest.fixture
def review_url(client, slot):
    return walk_to_review(client, slot, rrn=RRN)


@FUZZ
@given(data=st.data())
def test_review_step_refuses_any_token_but_its_own_and_writes_nothing(
    client, slot, review_url, data
):
    genuine = token_of(review_url)
    flow = steps.Flow(**client.session[steps.SESSION_KEY])
    other_step = steps.token_for(flow, steps.CHOOSE)  # this flow's, for the step before
    token = data.draw(st.one_of(garbage, tampered(genuine), st.just(other_step)), label="t")
    before = Booking.objects.count()

    response = post_form(client, path_of(review_url), {"t": token})

    answered(response, token)
    # back to step 1 with "your booking session expired": the flow is not opened
    assert response.status_code == 302
    assert path_of(response["Location"]) == reverse(
        "bookings:start", kwargs={"campaign": slot.campaign.slug}
    )
    assert Booking.objects.count() == before
