"""Property tests of the booking API: any JSON (or not JSON) in any content type, bodies
nested past the decoder's depth, any availability query — a 4xx with JSON, never a server
error, and only normal forms stored. The strategies are in ``bookings/tests/strategies.py``."""

import json

import hypothesis
import pytest
from django.urls import reverse
from hypothesis import example, given
from hypothesis import strategies as st

from bookings.identity import normalise_name, normalise_phone
from bookings.models import Booking
from bookings.tests.doses import assert_places_add_up, book_course, course_slots, two_dose_campaign
from bookings.tests.factories import rrn_for
from bookings.tests.strategies import (
    FUZZ,
    MISSING,
    days,
    field,
    forms,
    garbage,
    identities,
    json_values,
    rrns,
    slot_numbers,
    without_abuse_limits,
)
from clinics.models import Slot
from clinics.tests.factories import ClinicFactory, SlotFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_abuse_limits(settings):
    without_abuse_limits(settings)


@pytest.fixture
def slot():
    return SlotFactory(clinic=ClinicFactory(code="jongno", region="Seoul"), capacity=1000)


def _create_url(slot) -> str:
    return reverse("api:booking-create", kwargs={"campaign": slot.campaign.slug})


def _fuzzed_json(valid: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(field(valid), json_values, st.just(MISSING))


@FUZZ
@given(data=st.data())
def test_api_create_answers_any_json_and_stores_only_normal_forms(client, slot, data):
    valid = {**identities, "slot": st.sampled_from([slot.pk, str(slot.pk)])}
    fuzz = {name: _fuzzed_json(s) for name, s in identities.items()}
    fuzz["slot"] = _fuzzed_json(st.just(str(slot.pk)) | slot_numbers)
    body = data.draw(st.one_of(forms(valid, fuzz), json_values), label="body")
    before = Booking.objects.count()

    response = client.post(_create_url(slot), json.dumps(body), content_type="application/json")

    hypothesis.event(f"HTTP {response.status_code}")
    assert response.status_code in (202, 400, 409), response.content[:2000]
    answer = response.json()
    if response.status_code == 202:
        assert Booking.objects.count() == before + 1
        booking = Booking.objects.get(public_id=answer["id"])
        assert booking.name == normalise_name(booking.name)
        assert booking.phone == normalise_phone(booking.phone)
    else:
        assert Booking.objects.count() == before


raw_bodies = st.one_of(
    st.text().map(str.encode),
    st.binary(max_size=300),
    st.sampled_from(
        [
            b'{"slot": NaN}',
            b'{"slot": Infinity}',
            b'{"slot": -Infinity}',
            b'{"slot": 1e999}',
            b'{"slot": ' + b"9" * 5000 + b"}",
            b'{"name": "\\ud800", "rrn": "\\udfff", "phone": "\\u0000"}',
            b'{"\\ud800": 1}',
            b'{"name": "a", "name": "b"}',
            b"",
            b"null",
            b"[]",
            b'"text"',
            b"\xef\xbb\xbf{}",
            b"\xff\xfe{\x00}\x00",
            b'{"slot": 1',
        ]
    ),
)
api_content_types = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "application/json; charset=latin-1",
        "application/json; charset=utf-16",
        "application/json; charset=rot13",
        "application/json; charset=no-such-charset",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "",
    ]
)


@FUZZ
@given(body=raw_bodies, content_type=api_content_types)
def test_api_create_answers_any_request_body(client, slot, body, content_type):
    before = Booking.objects.count()

    # generic(): the body goes out byte for byte, whatever charset the header claims
    response = client.generic("POST", _create_url(slot), body, content_type=content_type)

    hypothesis.event(f"HTTP {response.status_code}")
    assert response.status_code in (400, 415), response.content[:2000]
    assert Booking.objects.count() == before


def _nested(depth: int, opening: str, closing: str, inner: str = "") -> str:
    return opening * depth + inner + closing * depth


@FUZZ
@given(
    depth=st.integers(min_value=1, max_value=200_000),
    container=st.sampled_from(["array", "object"]),
)
@example(depth=100_000, container="array")  # 200 kB; CPython 3.11 gives up at about 1,000
def test_api_create_answers_a_deeply_nested_body(client, slot, depth, container):
    """JSON nested deeper than the decoder can follow is malformed input like any other: 400,
    never a RecursionError escaping as a 500."""
    if container == "array":
        body = _nested(depth, "[", "]")
    else:
        body = _nested(depth, '{"name":', "}", '"Kim"')
    before = Booking.objects.count()

    response = client.post(_create_url(slot), body, content_type="application/json")

    assert response.status_code == 400, response.content[:2000]
    assert Booking.objects.count() == before


@FUZZ
@given(data=st.data())
def test_api_availability_answers_any_clinic_and_date(client, slot, data):
    valid = {"clinic": st.just(slot.clinic.code), "date": st.just(slot.date.isoformat())}
    fuzz = {
        "clinic": st.one_of(
            field(valid["clinic"]), st.lists(garbage, max_size=3), st.just(MISSING)
        ),
        "date": st.one_of(field(days), st.lists(days, max_size=3), st.just(MISSING)),
    }
    query = data.draw(forms(valid, fuzz), label="query")

    response = client.get(
        reverse("api:availability", kwargs={"campaign": slot.campaign.slug}), query
    )

    hypothesis.event(f"HTTP {response.status_code}")
    assert response.status_code in (200, 400, 404), response.content[:2000]
    assert isinstance(response.json(), dict)


later_slot_lists = st.one_of(
    st.lists(st.one_of(st.integers(), slot_numbers), max_size=4),
    json_values,
    st.just(MISSING),
)


@FUZZ
@given(data=st.data())
def test_api_create_of_a_two_dose_course_answers_any_later_slots(client, data):
    """Whatever ``later_slots`` holds: a 4xx with JSON or a course of both doses, never a
    first dose alone."""
    campaign = two_dose_campaign()
    firsts, seconds = course_slots(campaign, capacity=1000)
    valid = {
        **identities,
        "slot": st.sampled_from([s.pk for s in firsts]),
        "later_slots": st.sampled_from([[s.pk] for s in seconds] + [MISSING]),
    }
    fuzz = {name: _fuzzed_json(s) for name, s in identities.items()}
    fuzz["slot"] = _fuzzed_json(st.just(str(firsts[0].pk)) | slot_numbers)
    fuzz["later_slots"] = later_slot_lists
    body = data.draw(forms(valid, fuzz), label="body")
    before = Booking.objects.count()

    url = reverse("api:booking-create", kwargs={"campaign": campaign.slug})
    response = client.post(url, json.dumps(body), content_type="application/json")

    hypothesis.event(f"HTTP {response.status_code}")
    assert response.status_code in (202, 400, 409), response.content[:2000]
    assert isinstance(response.json(), dict)
    if response.status_code == 202:
        assert Booking.objects.count() == before + 2
        assert [d["dose"] for d in response.json()["doses"]] == [1, 2]
    else:
        assert Booking.objects.count() == before


@pytest.fixture
def confirmed_course():
    campaign = two_dose_campaign()
    firsts, seconds = course_slots(campaign, capacity=1000)
    return book_course(campaign, firsts[0], 1), firsts, seconds


@FUZZ
@given(data=st.data())
def test_api_move_answers_any_json_and_moves_only_whole_courses(client, confirmed_course, data):
    """Any body to the move endpoint: 200 with the course moved whole, or a 4xx with JSON and
    the places as they were; never a server error, never a first dose without its second."""
    booking, firsts, seconds = confirmed_course
    valid = {
        "rrn": st.just(rrn_for(1)),
        "slot": st.sampled_from([s.pk for s in firsts]),
        "later_slots": st.sampled_from([[s.pk] for s in seconds] + [MISSING]),
    }
    fuzz = {
        "rrn": _fuzzed_json(rrns),
        "slot": _fuzzed_json(st.just(str(firsts[1].pk)) | slot_numbers),
        "later_slots": later_slot_lists,
    }
    body = data.draw(st.one_of(forms(valid, fuzz), json_values), label="body")
    before = {s.pk: s.booked for s in Slot.objects.all()}

    url = reverse(
        "api:booking-move",
        kwargs={"campaign": booking.campaign.slug, "public_id": booking.public_id},
    )
    response = client.post(url, json.dumps(body), content_type="application/json")

    hypothesis.event(f"HTTP {response.status_code}")
    assert response.status_code in (200, 400, 404, 409), response.content[:2000]
    assert isinstance(response.json(), dict)
    if response.status_code != 200:
        assert {s.pk: s.booked for s in Slot.objects.all()} == before
    assert_places_add_up()
    assert set(Booking.objects.values_list("status", flat=True)) == {"confirmed"}
