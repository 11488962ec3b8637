"""How often a waiting page polls, and what the poll costs: the page is told to ask again when
its turn can come at the earliest (at most every ``longest_poll`` seconds, half the remaining
time before that), and the poll is served by the lean handler of ``vaxbook.wsgi``."""

import io
import json
import sys
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns import services, waiting_room
from campaigns.tests.queue import join
from vaxbook import wsgi

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("draw_at_the_opening_instant")]

AHEAD = 59  # people in the line before the person followed


def _status_url(campaign) -> str:
    return reverse("campaigns:queue-status", kwargs={"campaign": campaign.slug})


@pytest.fixture
def far_back(campaign, opening):
    """A person 60th in the line after the opening, at one admission a minute: an hour away.
    Returns their client and the moment they joined."""
    start = opening + timedelta(minutes=10)
    with time_machine.travel(start, tick=False):
        services.run_draw(campaign.pk)  # nobody waited for the opening
        services.configure_waiting_room(campaign, enabled=True, per_minute=1)
        config = waiting_room.config_for(campaign.slug)
        now = start.timestamp()
        for _ in range(AHEAD):
            waiting_room.issue_ticket(config, arrived=now, now=now)
        client = Client()
        assert join(client, campaign).status_code == 303
    return client, start


def _turn(client, campaign) -> float:
    """When the person's turn comes at the rates now in force."""
    config = waiting_room.config_for(campaign.slug)
    request = RequestFactory().get("/")
    request.COOKIES = {k: v.value for k, v in client.cookies.items()}
    ticket = waiting_room.read_ticket(request, config).current(timezone.now().timestamp())
    return waiting_room.turn_at(config, ticket, waiting_room.position(config, ticket))


def _follow_the_page(client, campaign, start, *, raise_to=None, raise_after=0.0):
    """Poll as the page does (again after ``poll_after``) until admitted; the official raises
    the rate to ``raise_to`` ``raise_after`` seconds after the second poll. Returns the polls
    made, when the admission was seen, and the person's turn at the rates in force."""
    polls, moment, raised = 0, start, raise_to is None
    while True:
        with time_machine.travel(moment, tick=False):
            answer = client.get(_status_url(campaign)).json()
            polls += 1
            if answer["state"] == "admitted":
                return polls, moment.timestamp(), _turn(client, campaign)
            assert answer["state"] == "waiting"
            assert (
                1
                <= answer["poll_after"]
                <= waiting_room.longest_poll(waiting_room.config_for(campaign.slug))
            )
        if not raised and polls == 2:
            with time_machine.travel(moment + timedelta(seconds=raise_after), tick=False):
                services.configure_waiting_room(campaign, enabled=True, per_minute=raise_to)
            raised = True
        moment += timedelta(seconds=answer["poll_after"])


def test_a_page_an_hour_from_its_turn_polls_about_once_a_minute_and_is_admitted_on_time(
    campaign, far_back
):
    client, start = far_back
    polls, seen, turn = _follow_the_page(client, campaign, start)
    wait = turn - start.timestamp()
    assert 3500 <= wait <= 3700
    assert seen - turn < 1  # asked at its turn, not a poll interval after it
    # At most one poll a minute while far away, a handful more as the turn nears (it was every
    # 30 s before, and every 2 s in the last few minutes).
    assert polls <= wait / settings.VAXBOOK_QUEUE_POLL_MAX_SECONDS + 8


def test_a_rate_raised_up_to_twice_costs_a_sleeping_page_nothing(campaign, far_back):
    client, start = far_back
    _, seen, turn = _follow_the_page(client, campaign, start, raise_to=2, raise_after=1)
    assert seen - turn < 1


def test_a_rate_raised_tenfold_is_seen_within_the_longest_poll(campaign, far_back):
    """The pass runs from the turn: a page that learns of a large raise late loses at most
    the longest poll of it (a quarter of the pass at most)."""
    client, start = far_back
    _, seen, turn = _follow_the_page(client, campaign, start, raise_to=10, raise_after=1)
    assert seen - turn <= waiting_room.longest_poll(waiting_room.config_for(campaign.slug))


def test_a_short_pass_shortens_the_longest_poll_to_a_quarter_of_it(campaign):
    campaign.admission_pass_minutes = 2
    campaign.save(update_fields=["admission_pass_minutes"])
    waiting_room.forget_config(campaign)
    assert waiting_room.longest_poll(waiting_room.config_for(campaign.slug)) == 30


# The lean handler


def _wsgi_get(
    path: str, cookies: dict[str, str], host: str = "testserver"
) -> tuple[int, dict[str, str], bytes]:
    """GET ``path`` from the WSGI application gunicorn serves (not the test client's
    handler, which runs every middleware)."""
    answer = {}

    def start_response(status, headers, exc_info=None):
        answer["status"] = int(status.split()[0])
        answer["headers"] = dict(headers)

    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": host,
        "HTTP_COOKIE": "; ".join(f"{k}={v}" for k, v in cookies.items()),
        "HTTP_ACCEPT_LANGUAGE": "ko",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }
    # As Django's test client does: the test's database connection outlives the request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        body = b"".join(wsgi.application(environ, start_response))
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return answer["status"], answer["headers"], body


def test_the_served_poll_answers_like_the_full_stack_with_its_security_headers_and_no_query(
    campaign, far_back
):
    client, start = far_back
    cookies = {k: v.value for k, v in client.cookies.items()}
    with time_machine.travel(start + timedelta(minutes=5), tick=False):
        expected = client.get(_status_url(campaign), HTTP_ACCEPT_LANGUAGE="ko").json()
        with CaptureQueriesContext(connection) as queries:
            status, headers, body = _wsgi_get(_status_url(campaign), cookies)
    assert status == 200
    assert json.loads(body) == expected
    assert expected["state"] == "waiting"
    assert len(queries) == 0
    assert headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Content-Language"] == "ko"
    assert headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in headers  # no session, no CSRF cookie: nothing to keep


def test_the_served_poll_of_an_unknown_campaign_or_without_a_ticket_is_json(campaign):
    status, headers, body = _wsgi_get("/queue/no-such-campaign/status/", {})
    assert status == 404
    assert "detail" in json.loads(body)
    status, _, body = _wsgi_get(_status_url(campaign), {})
    assert status == 403
    assert json.loads(body)["state"] == "no_ticket"
    status, _, _ = _wsgi_get(_status_url(campaign), {}, host="evil.example")
    assert status == 400  # the Host check of every other page


def test_only_the_status_poll_takes_the_lean_path(campaign):
    assert wsgi.LEAN_PATH.fullmatch(_status_url(campaign))
    for name in ("campaigns:queue", "campaigns:queue-join", "bookings:start"):
        assert not wsgi.LEAN_PATH.fullmatch(reverse(name, kwargs={"campaign": campaign.slug}))
    # A page through the full stack still gets its session and CSRF protection.
    status, _, _ = _wsgi_get(reverse("campaigns:queue", kwargs={"campaign": campaign.slug}), {})
    assert status == 200
