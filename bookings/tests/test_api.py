from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from rest_framework.test import APIClient

from bookings import services
from bookings.models import Booking
from bookings.tests.factories import BookingFactory
from campaigns.windows import format_kst
from clinics.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db

RRN = "620714-1234567"


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def slot():
    return SlotFactory(capacity=2)


def _create(campaign_slug: str) -> str:
    return reverse("api:booking-create", kwargs={"campaign": campaign_slug})


def _availability(slot) -> str:
    return reverse("api:availability", kwargs={"campaign": slot.campaign.slug})


def _status(public_id: str) -> str:
    return reverse("api:booking-status", kwargs={"public_id": public_id})


def _book(api, target, **overrides):
    body = {
        "name": "Kim Minsu",
        "rrn": RRN,
        "phone": "010-1234-5678",
        "slot": target.pk,
        **overrides,
    }
    return api.post(_create(target.campaign.slug), body, format="json")


def test_campaigns_are_listed_with_their_state(api, slot):
    response = api.get(reverse("api:campaigns"))
    assert response.status_code == 200
    [campaign] = response.json()
    assert campaign["slug"] == slot.campaign.slug and campaign["state"] == "open"


def test_availability_shows_places_left(api, slot):
    BookingFactory(slot=slot)
    services.confirm_booking(Booking.objects.get().pk)
    response = api.get(
        _availability(slot), {"clinic": slot.clinic.code, "date": slot.date.isoformat()}
    )
    assert response.status_code == 200
    assert response.json()["slots"] == [
        {
            "id": slot.pk,
            "date": slot.date.isoformat(),
            "start_time": "09:00",
            "capacity": 2,
            "places_left": 1,
        }
    ]


def test_availability_with_bad_parameters_is_400(api, slot):
    response = api.get(_availability(slot), {"clinic": slot.clinic.code, "date": "2021-02-30"})
    assert response.status_code == 400 and "date" in response.json()
    response = api.get(_availability(slot), {"clinic": "nope", "date": "2030-01-01"})
    assert response.status_code == 404


def test_create_returns_a_pending_booking_then_its_status(api, slot):
    response = _book(api, slot)
    assert response.status_code == 202
    data = response.json()
    assert data["status"] == "pending" and data["rrn"] == "620714-1******"
    assert "1234567" not in response.content.decode()
    services.confirm_booking(Booking.objects.get().pk)
    status = api.get(_status(data["id"])).json()
    assert status["status"] == "confirmed" and len(status["code"]) == 8


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"rrn": "123"}, "rrn"),
        ({"rrn": "620230-1234567"}, "rrn"),
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"phone": "abc"}, "phone"),
        ({"slot": "one"}, "slot"),
        ({"slot": None}, "slot"),
    ],
)
def test_bad_input_is_400_with_the_field_and_writes_nothing(api, slot, overrides, field):
    response = _book(api, slot, **overrides)
    assert response.status_code == 400
    assert field in response.json()
    assert Booking.objects.count() == 0


def test_refusals_are_explained(api, slot):
    other_campaign_slot = SlotFactory()
    assert _book(api, slot, rrn="750101-1234567").json()["code"] == "out_of_cohort"
    refused = _book(api, slot, slot=other_campaign_slot.pk).json()
    assert (refused["code"], refused["reason"]) == ("slot_unavailable", "not_offered")
    assert _book(api, slot).status_code == 202
    again = _book(api, slot, rrn="6207141234567")
    assert again.status_code == 409 and again.json()["code"] == "already_booked"
    assert Booking.objects.count() == 1


def test_malformed_json_is_400(api, slot):
    response = api.post(_create(slot.campaign.slug), "{not json", content_type="application/json")
    assert response.status_code == 400


def test_outside_the_window_the_api_is_403_json_with_the_opening_time(api, slot):
    with time_machine.travel(slot.campaign.opens_at - timedelta(seconds=1), tick=False):
        response = _book(api, slot)
    assert response.status_code == 403
    answer = response.json()
    assert answer["state"] == "scheduled"
    assert answer["opens_at"] == slot.campaign.opens_at.isoformat()
    assert format_kst(slot.campaign.opens_at) in answer["detail"]  # said in Korea time
    assert Booking.objects.count() == 0


def test_unknown_campaign_or_booking_is_404(api):
    assert api.post(_create("nope"), {}, format="json").status_code == 404
    assert api.get(_status("6f1c3a56-9c43-4b7e-8d0c-3d8f3f0d9a11")).status_code == 404
