"""The registration number never reaches a log line: a whole booking, failed attempts
included, is captured at DEBUG and searched for the number in every spelling."""

import logging

import pytest
from django.test import Client
from django.urls import reverse

from bookings import services
from bookings.models import Booking
from bookings.tests.flow import identify, submit, walk_to_review
from clinics.models import Slot
from clinics.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db

RRN = "620714-1234567"
SPELLINGS = ("620714-1234567", "6207141234567", "1234567", "620714 1234567")


def test_a_whole_booking_leaves_no_registration_number_in_the_logs(caplog, settings):
    settings.DEBUG = False
    caplog.set_level(logging.DEBUG)
    slot = SlotFactory(capacity=1)
    client = Client(raise_request_exception=False)
    slug = slot.campaign.slug

    identify(client, slug, rrn=RRN, phone="12")  # odd phone
    identify(client, slug, rrn="700101-1234567")  # outside the cohort
    identify(client, slug, rrn="620231-1234567")  # impossible date
    status_url = submit(client, walk_to_review(client, slot, rrn=RRN))["Location"]
    services.confirm_booking(Booking.objects.get().pk)
    identify(Client(), slug, rrn=RRN)  # already booked
    # a second person for the now full slot, rejected by the worker
    other = Client()
    review = walk_to_review(
        other, SlotFactory(campaign=slot.campaign, capacity=1), rrn="630303-1234567"
    )
    Slot.objects.filter(campaign=slot.campaign).exclude(pk=slot.pk).update(booked=1)
    submit(other, review)
    client.post(reverse("bookings:lookup"), {"code": "NOPE1234", "rrn": RRN})
    booking = Booking.objects.get(status=Booking.Status.CONFIRMED)
    client.post(reverse("bookings:lookup"), {"code": booking.code, "rrn": RRN})
    client.post(reverse("bookings:cancel", kwargs={"public_id": booking.public_id}))
    api = Client()
    api.post(
        reverse("api:booking-create", kwargs={"campaign": slug}),
        {"name": "Kim", "rrn": RRN, "phone": "1", "slot": slot.pk},
        content_type="application/json",
    )
    client.get(status_url)

    logged = "\n".join(
        f"{r.getMessage()} {r.args!r} {getattr(r, 'request', '')!r}" for r in caplog.records
    )
    assert caplog.records, "the booking path does log (so this test can see a leak)"
    for spelling in SPELLINGS:
        assert spelling not in logged
