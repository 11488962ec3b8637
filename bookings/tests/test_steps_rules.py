"""The rules of bookings.steps: a step token opens one step of one campaign for one flow of one
person in one session, the number stays encrypted on the server, a finished flow is spent, and
a session manages a bounded list of bookings."""

import base64
import os
from dataclasses import replace
from datetime import timedelta

import pytest
import time_machine
from django.contrib.sessions.backends.cache import SessionStore
from django.core import signing
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from bookings import steps
from bookings.identity import decrypt_rrn
from bookings.models import Booking
from bookings.tests.flow import identify, submit, token_of, walk_to_review
from campaigns.models import BookingWindow
from campaigns.tests.factories import CampaignFactory
from clinics.tests.factories import ClinicFactory, SlotFactory

pytestmark = pytest.mark.django_db

RRN = "620714-1234567"
DIGITS = "6207141234567"


@pytest.fixture
def slot():
    return SlotFactory(clinic=ClinicFactory(region="Seoul"), capacity=3)


def _start(slug: str) -> str:
    return reverse("bookings:start", kwargs={"campaign": slug})


def _url(name: str, slug: str, token: str) -> str:
    return f"{reverse(name, kwargs={'campaign': slug})}?t={token}"


def _restarted(response, slug: str) -> bool:
    return response.status_code == 302 and response["Location"] == _start(slug)


def _stored_flow(client) -> steps.Flow:
    return steps.Flow(**client.session[steps.SESSION_KEY])


# Each token opens its own step only


def test_a_review_token_does_not_open_the_choose_step_nor_a_choose_token_the_review(client, slot):
    slug = slot.campaign.slug
    review = walk_to_review(client, slot, rrn=RRN)
    choose_token = steps.token_for(_stored_flow(client), steps.CHOOSE)
    assert client.get(_url("bookings:choose", slug, choose_token)).status_code == 200
    assert client.get(review).status_code == 200
    # the slot is chosen: a choose token still must not open the review step
    assert _restarted(client.get(_url("bookings:review", slug, choose_token)), slug)
    assert _restarted(client.post(_url("bookings:review", slug, choose_token)), slug)
    assert _restarted(client.get(_url("bookings:choose", slug, token_of(review))), slug)
    assert Booking.objects.count() == 0


def test_a_token_naming_another_campaign_does_not_carry_this_flow_there(client, slot):
    other = SlotFactory(capacity=3)
    identify(client, slot.campaign.slug, rrn=RRN)
    flow = _stored_flow(client)
    elsewhere = steps.token_for(replace(flow, campaign=other.campaign.slug), steps.CHOOSE)
    response = client.get(_url("bookings:choose", other.campaign.slug, elsewhere))
    assert _restarted(response, other.campaign.slug)


def test_a_flow_of_another_campaign_is_not_opened_by_a_token_naming_it_here(client, slot):
    other = SlotFactory(capacity=3)
    identify(client, other.campaign.slug, rrn=RRN)  # the session's flow is for the other one
    flow = _stored_flow(client)
    here = steps.token_for(replace(flow, campaign=slot.campaign.slug), steps.CHOOSE)
    assert _restarted(
        client.get(_url("bookings:choose", other.campaign.slug, here)), other.campaign.slug
    )


def test_a_token_naming_another_person_does_not_open_this_flow(client, slot):
    slug = slot.campaign.slug
    identify(client, slug, rrn=RRN)
    flow = _stored_flow(client)
    for person in ("0" * 16, ""):
        someone_else = steps.token_for(replace(flow, person=person), steps.CHOOSE)
        assert _restarted(client.get(_url("bookings:choose", slug, someone_else)), slug)
    assert (
        client.get(_url("bookings:choose", slug, steps.token_for(flow, steps.CHOOSE))).status_code
        == 200
    )


def test_a_token_of_an_earlier_flow_of_the_same_person_is_spent(client, slot):
    slug = slot.campaign.slug
    earlier = identify(client, slug, rrn=RRN)["Location"]
    later = identify(client, slug, rrn=RRN)["Location"]
    assert _restarted(client.get(earlier), slug)
    assert client.get(later).status_code == 200


def test_an_expired_token_restarts_one_still_in_its_time_does_not(client, slot, settings):
    slug = slot.campaign.slug
    settings.VAXBOOK_STEP_TOKEN_MAX_AGE = 600
    choose = identify(client, slug, rrn=RRN)["Location"]
    now = timezone.now()
    with time_machine.travel(now + timedelta(seconds=590), tick=False):
        assert client.get(choose).status_code == 200
    with time_machine.travel(now + timedelta(seconds=611), tick=False):
        assert _restarted(client.get(choose), slug)


# What is kept, and where


def test_the_number_stays_encrypted_in_the_session_and_out_of_the_links(client, slot):
    choose = identify(client, slot.campaign.slug, rrn=RRN)["Location"]
    stored = client.session[steps.SESSION_KEY]
    assert DIGITS not in repr(stored) and "1234567" not in repr(stored)
    assert decrypt_rrn(stored["rrn_encrypted"]).digits == DIGITS
    token = token_of(choose)
    assert "1234567" not in choose and "620714" not in choose
    payload = signing.loads(token, salt=steps.SALT)
    assert "1234567" not in repr(payload) and "620714" not in repr(payload)


def test_a_flow_whose_number_can_no_longer_be_read_starts_again_and_is_dropped(
    client, slot, settings
):
    slug = slot.campaign.slug
    choose = identify(client, slug, rrn=RRN)["Location"]
    settings.VAXBOOK_PII_KEYS = [base64.urlsafe_b64encode(os.urandom(32)).decode()]
    assert _restarted(client.get(choose), slug)
    assert steps.SESSION_KEY not in client.session


def test_a_finished_flow_is_spent(client, slot):
    slug = slot.campaign.slug
    review = walk_to_review(client, slot, rrn=RRN)
    choose_token = steps.token_for(_stored_flow(client), steps.CHOOSE)
    status = submit(client, review)["Location"]
    booking = Booking.objects.get()
    assert status == reverse("bookings:status", kwargs={"public_id": booking.public_id})
    assert steps.may_manage(_request_with(client.session), str(booking.public_id))
    # the review token again: the booking it made, not a second one
    assert submit(client, review)["Location"] == status
    # the choose step of that flow (the back button, twice): the booking it made, not step 1
    assert client.get(_url("bookings:choose", slug, choose_token))["Location"] == status
    # a token of another step is still no key to this one
    assert _restarted(client.get(_url("bookings:choose", slug, token_of(review))), slug)
    assert Booking.objects.count() == 1


def test_another_session_with_a_spent_review_token_is_not_shown_the_booking(client, slot):
    review = walk_to_review(client, slot, rrn=RRN)
    submit(client, review)
    stranger = Client()
    assert _restarted(submit(stranger, review), slot.campaign.slug)
    assert Booking.objects.count() == 1


def test_every_step_checks_the_persons_own_window(client):
    now = timezone.now()
    campaign = CampaignFactory(opens_at=now - timedelta(hours=1))
    BookingWindow.objects.create(
        campaign=campaign,
        birth_day_last_digit=9,
        opens_at=now - timedelta(hours=1),
        closes_at=now + timedelta(minutes=10),
    )
    BookingWindow.objects.create(  # keeps the campaign open for others
        campaign=campaign,
        birth_day_last_digit=1,
        opens_at=now - timedelta(hours=1),
        closes_at=now + timedelta(hours=5),
    )
    slot = SlotFactory(campaign=campaign)
    review = walk_to_review(client, slot, rrn="620719-1234567")
    choose = _url("bookings:choose", campaign.slug, steps.token_for(_stored_flow(client), "choose"))
    with time_machine.travel(now + timedelta(minutes=11), tick=False):
        for response in (client.get(choose), client.get(review), submit(client, review)):
            assert response.status_code == 403
            assert response.context["state"] == "closed"
    assert Booking.objects.count() == 0


# The bookings a session may manage: the latest twenty


def _request_with(session=None):
    request = RequestFactory().get("/")
    request.session = session if session is not None else SessionStore()
    return request


def test_a_session_manages_the_latest_twenty_bookings_it_made_or_looked_up():
    request = _request_with()
    ids = [f"booking-{n}" for n in range(21)]
    for public_id in ids:
        steps.remember_booking(request, public_id)
        steps.remember_booking(request, public_id)  # twice: still one place in the list
    assert not steps.may_manage(request, ids[0])
    assert all(steps.may_manage(request, public_id) for public_id in ids[1:])
    assert not steps.may_manage(_request_with(), ids[-1])
