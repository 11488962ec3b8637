"""Property tests of the waiting room: any ticket, pass, admission header or cookie header,
forged, tampered or from another room, and any proof-of-work payload — never a server error,
never a ticket or pass the server did not issue for this room, nobody through to the form
without one. The strategies are in ``bookings/tests/strategies.py``."""

import base64
import json
from datetime import timedelta

import hypothesis
import pytest
import time_machine
from django.core import signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from bookings.models import Booking
from bookings.tests.strategies import (
    FUZZ,
    answered,
    garbage,
    json_values,
    on_the_wire,
    tampered,
    without_abuse_limits,
)
from campaigns import waiting_room
from campaigns.services import configure_waiting_room
from campaigns.tests.factories import CampaignFactory
from campaigns.tests.queue import join

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_abuse_limits(settings):
    without_abuse_limits(settings)


def _queue_url(campaign) -> str:
    return reverse("campaigns:queue", kwargs={"campaign": campaign.slug})


@pytest.fixture
def rooms():
    """Three waiting rooms — admitting now, before its opening, switched off — and the
    genuine tickets and passes a person could get from them."""
    now = timezone.now()
    with time_machine.travel(now - timedelta(minutes=10), tick=False):
        admitting, elsewhere = (
            configure_waiting_room(
                CampaignFactory(opens_at=now - timedelta(hours=1)), enabled=True, per_minute=600
            )
            for _ in range(2)
        )
    upcoming = configure_waiting_room(
        CampaignFactory(opens_at=now + timedelta(hours=2), closes_at=now + timedelta(days=3)),
        enabled=True,
        per_minute=60,
    )
    switched_off = CampaignFactory()
    genuine = {}
    for campaign in (admitting, elsewhere, upcoming):
        browser = Client()
        assert join(browser, campaign).status_code == 303
        genuine.update({name: morsel.value for name, morsel in browser.cookies.items()})
    assert waiting_room.pass_cookie(admitting.slug) in genuine
    return [admitting, upcoming, switched_off], genuine


def _forged(salt: str) -> st.SearchStrategy[str]:
    """Signed the way the server signs, with a key that is not the server's."""
    return json_values.map(lambda value: signing.dumps(value, key="not-the-server-key", salt=salt))


def _cookie_values(genuine: dict, own: str) -> st.SearchStrategy[str | None]:
    values = list(genuine.values())
    return st.one_of(
        st.none(),
        garbage,
        _forged(waiting_room.TICKET_SALT),
        _forged(waiting_room.PASS_SALT),
        st.sampled_from(values),  # another room's, or a ticket used as a pass and back
        st.sampled_from(values).flatmap(tampered),
    ).filter(lambda value: value is None or value != genuine.get(own))


@FUZZ
@given(data=st.data())
def test_the_waiting_room_answers_any_ticket_pass_and_header(rooms, data):
    campaigns, genuine = rooms
    campaign = data.draw(st.sampled_from(campaigns), label="campaign")
    slug = campaign.slug
    ticket_name, pass_name = waiting_room.ticket_cookie(slug), waiting_room.pass_cookie(slug)
    cookies = {
        ticket_name: data.draw(_cookie_values(genuine, ticket_name), label="ticket"),
        pass_name: data.draw(_cookie_values(genuine, pass_name), label="pass"),
    }
    header = data.draw(_cookie_values(genuine, pass_name), label="X-Admission-Pass")
    headers = {} if header is None else {"X-Admission-Pass": on_the_wire(header)}
    before = Booking.objects.count()

    def browser() -> Client:  # one per request: a response may set a new ticket
        client = Client()
        for name, value in cookies.items():
            if value is not None:
                client.cookies[name] = on_the_wire(value)
        return client

    page = browser().get(_queue_url(campaign), headers=headers)
    status = browser().get(
        reverse("campaigns:queue-status", kwargs={"campaign": slug}), headers=headers
    )
    start = browser().get(reverse("bookings:start", kwargs={"campaign": slug}), headers=headers)

    answered(page, *cookies.values(), header)
    hypothesis.event(f"queue page HTTP {page.status_code}")
    assert page.status_code in (200, 302)
    # a ticket the server did not issue for this room is no ticket
    assert status.status_code == 403 and status.json()["state"] == "no_ticket"
    # and a pass it did not issue for this room lets nobody through to the form
    if campaign.waiting_room_enabled:
        assert start.status_code == 302 and start["Location"] == _queue_url(campaign)
    else:
        assert start.status_code == 200
    assert Booking.objects.count() == before


@FUZZ
@given(data=st.data())
def test_the_waiting_room_answers_any_cookie_header(rooms, data):
    campaigns, _ = rooms
    campaign = data.draw(st.sampled_from(campaigns), label="campaign")
    raw = data.draw(
        st.one_of(
            garbage,
            st.lists(
                st.tuples(
                    st.sampled_from(
                        [waiting_room.ticket_cookie(campaign.slug), "sessionid", "a b", ""]
                        + [waiting_room.pass_cookie(campaign.slug)]
                    ),
                    garbage,
                ),
                max_size=4,
            ).map(lambda pairs: "; ".join(f"{name}={value}" for name, value in pairs)),
        ),
        label="Cookie",
    )

    for url in (
        _queue_url(campaign),
        reverse("campaigns:queue-status", kwargs={"campaign": campaign.slug}),
    ):
        response = Client().get(url, HTTP_COOKIE=on_the_wire(raw))
        assert response.status_code in (200, 302, 403), response.content[:2000]


@FUZZ
@given(data=st.data())
def test_joining_the_waiting_room_answers_any_payload_without_a_ticket(rooms, data):
    campaigns, _ = rooms
    campaign = data.draw(st.sampled_from(campaigns[:2]), label="campaign")
    payload = data.draw(
        st.one_of(
            garbage,
            json_values.map(lambda v: base64.b64encode(json.dumps(v).encode()).decode()),
            st.builds(
                lambda challenge, solution: base64.b64encode(
                    json.dumps({"challenge": challenge, "solution": solution}).encode()
                ).decode(),
                json_values,
                json_values,
            ),
        ),
        label="altcha",
    )
    client = Client(REMOTE_ADDR=f"10.77.{data.draw(st.integers(0, 255))}.1")
    response = client.post(
        reverse("campaigns:queue-join", kwargs={"campaign": campaign.slug}),
        {"altcha": payload},
    )
    hypothesis.event(f"join HTTP {response.status_code}")
    assert response.status_code == 400, response.content[:2000]
    assert waiting_room.ticket_cookie(campaign.slug) not in response.cookies
