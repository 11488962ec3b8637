"""Drive the booking pages the way a person does: identify, choose, review."""

from urllib.parse import parse_qs, urlparse

from django.test import Client
from django.urls import reverse

from bookings import services
from bookings.models import Booking
from clinics.models import Slot


def token_of(url: str) -> str:
    return parse_qs(urlparse(url).query)["t"][0]


def identify(
    client: Client, campaign_slug: str, *, rrn: str, name="Kim Minsu", phone="010-1234-5678"
):
    return client.post(
        reverse("bookings:start", kwargs={"campaign": campaign_slug}),
        {"name": name, "rrn": rrn, "phone": phone},
    )


def walk_to_review(client: Client, slot: Slot, *, rrn: str, name="Kim Minsu") -> str:
    """Identify and choose ``slot``; returns the review URL with its step token."""
    slug = slot.campaign.slug
    response = identify(client, slug, rrn=rrn, name=name)
    assert response.status_code == 302, response.content.decode()[:2000]
    choose_url = response["Location"]
    response = client.post(
        choose_url,
        {
            "t": token_of(choose_url),
            "clinic": slot.clinic.code,
            "date": slot.date.isoformat(),
            "slot": slot.pk,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    return response["Location"]


def submit(client: Client, review_url: str):
    return client.post(review_url, {"t": token_of(review_url)})


def submit_and_confirm(client: Client, review_url: str) -> Booking:
    """Book at the review step, then confirm the booking as the worker would."""
    response = submit(client, review_url)
    assert response.status_code == 302, response.content.decode()[:2000]
    public_id = urlparse(response["Location"]).path.rstrip("/").rsplit("/", 1)[1]
    booking = services.confirm_booking(Booking.objects.get(public_id=public_id).pk)
    assert booking.status == Booking.Status.CONFIRMED
    return booking
