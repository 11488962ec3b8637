"""The rules of campaigns.waiting_room, checked against their definition: the draw recomputed
from its seed with HMAC-SHA256, the grace before the draw and who is in it, the meter of each
line whatever the history of rates, the edges of a turn and of a pass, and what a cookie may
claim."""

import hashlib
import hmac
from datetime import timedelta

import pytest
import redis
import time_machine
from django.conf import settings as django_settings
from django.core import signing
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from bookings.tests.flow import identify
from campaigns import services, waiting_room
from campaigns.models import BookingWindow, QueueDraw
from campaigns.tests.factories import CampaignFactory
from campaigns.tests.queue import join, join_form, queue_url, solved

pytestmark = pytest.mark.django_db


def _status(client, campaign) -> dict:
    return client.get(reverse("campaigns:queue-status", kwargs={"campaign": campaign.slug})).json()


def _start(campaign) -> str:
    return reverse("bookings:start", kwargs={"campaign": campaign.slug})


def _config(campaign) -> waiting_room.QueueConfig:
    return waiting_room.config_for(campaign.slug)


def _ticket(client, campaign) -> waiting_room.Ticket | None:
    request = RequestFactory().get("/")
    request.COOKIES = {name: morsel.value for name, morsel in client.cookies.items()}
    return waiting_room.read_ticket(request, _config(campaign))


def _arrive(n, campaign, *, prefix="10.4") -> list[Client]:
    clients = [Client(REMOTE_ADDR=f"{prefix}.{i}.1") for i in range(n)]
    for client in clients:
        assert join(client, campaign).status_code == 303
    return clients


def _seeded(seed: str, ticket_ids) -> list[str]:
    """The published rule, written out again: ticket ids by HMAC-SHA256(seed, id), in hex."""
    return sorted(
        ticket_ids,
        key=lambda t: hmac.new(seed.encode(), t.encode(), hashlib.sha256).hexdigest(),
    )


# The draw: its order is the seed's, recomputable by anyone


def test_draw_order_is_hmac_sha256_of_the_seed_over_each_ticket_id():
    ids = [f"{n:016x}" for n in range(40)]
    seed = "5f2b1c0e9a7d4e3f8b6a5c4d3e2f1a0b"
    order = waiting_room.draw_order(seed, ids)
    assert order == _seeded(seed, ids)
    assert order != sorted(ids)
    assert waiting_room.draw_order(seed, reversed(ids)) == order
    assert waiting_room.draw_order("another seed", ids) != order


@pytest.mark.usefixtures("draw_at_the_opening_instant")
def test_the_opening_draw_places_everyone_as_the_recorded_seed_says(campaign, opening):
    with time_machine.travel(opening - timedelta(minutes=10), tick=False):
        early = _arrive(12, campaign)
        tickets = [_ticket(c, campaign) for c in early]
    with time_machine.travel(opening + timedelta(seconds=1), tick=False):
        assert services.run_draw(campaign.pk) == 12
        places = [_status(c, campaign)["position"] for c in early]
    draw = QueueDraw.objects.get(campaign=campaign)
    expected = _seeded(draw.seed, [t.id for t in tickets])
    assert expected != sorted(t.id for t in tickets)
    assert [e.ticket_id for e in draw.entries.order_by("position")] == expected
    assert {e.ticket_id: e.number for e in draw.entries.all()} == {t.id: t.number for t in tickets}
    assert places == [expected.index(t.id) + 1 for t in tickets]


@pytest.mark.usefixtures("draw_at_the_opening_instant")
def test_a_draw_of_more_than_a_thousand_tickets_places_every_one(campaign, opening):
    config = _config(campaign)
    before = (opening - timedelta(minutes=5)).timestamp()
    tickets = [waiting_room.issue_ticket(config, arrived=before, now=before) for _ in range(1001)]
    assert [t.number for t in tickets] == list(range(1, 1002))
    with time_machine.travel(opening + timedelta(seconds=1), tick=False):
        assert services.run_draw(campaign.pk) == 1001
    config = _config(campaign)
    draw = QueueDraw.objects.get(campaign=campaign)
    assert [e.ticket_id for e in draw.entries.order_by("position")] == _seeded(
        draw.seed, [t.id for t in tickets]
    )
    places = {waiting_room.position(config, t) for t in tickets}
    assert places == set(range(1, 1002))
    assert waiting_room.drawn_count(config, opening.timestamp()) == 1001


def test_only_one_process_wins_the_claim_to_start_a_draw(campaign, opening):
    config = _config(campaign)
    assert waiting_room.claim_draw(config, opening.timestamp())
    assert not waiting_room.claim_draw(config, opening.timestamp())


# The grace: the draw waits for arrivals in flight at the opening, and takes nobody later


@pytest.fixture
def grace(settings):
    settings.VAXBOOK_QUEUE_DRAW_GRACE = 5
    return 5


def _challenge_at(client, campaign, moment) -> tuple[str, str]:
    with time_machine.travel(moment, tick=False):
        form = join_form(client.get(queue_url(campaign)).content.decode())
    return form["action"], solved(form)


def test_the_draw_waits_for_its_grace_and_takes_only_arrivals_from_before_the_opening(
    campaign, opening, grace
):
    with time_machine.travel(opening - timedelta(minutes=10), tick=False):
        early = _arrive(5, campaign)
    in_flight, at_opening, after = Client(), Client(), Client()
    flight = _challenge_at(in_flight, campaign, opening - timedelta(seconds=1))
    instant = _challenge_at(at_opening, campaign, opening)
    later = _challenge_at(after, campaign, opening + timedelta(seconds=1))
    with time_machine.travel(opening + timedelta(seconds=grace - 1), tick=False):
        for client, (action, payload) in (
            (in_flight, flight),
            (at_opening, instant),
            (after, later),
        ):
            assert client.post(action, {"altcha": payload}).status_code == 303
        assert waiting_room.due_draws(_config(campaign), now=timezone.now().timestamp()) == []
        assert services.run_draw(campaign.pk) is None
        assert not QueueDraw.objects.filter(campaign=campaign).exists()
        everyone = (*early, in_flight, at_opening, after)
        assert {_status(c, campaign)["state"] for c in everyone} == {"drawing"}
    with time_machine.travel(opening + timedelta(seconds=grace), tick=False):
        assert waiting_room.due_draws(_config(campaign), now=timezone.now().timestamp()) == [
            opening.timestamp()
        ]
        assert services.run_draw(campaign.pk) == 6  # the five early ones and the one in flight
        drawn = {e.ticket_id for e in QueueDraw.objects.get(campaign=campaign).entries.all()}
        assert _ticket(in_flight, campaign).id in drawn
        assert not {_ticket(at_opening, campaign).id, _ticket(after, campaign).id} & drawn
        places = [_status(c, campaign)["position"] for c in (*early, in_flight)]
        assert sorted(places) == list(range(1, 7))
        assert _status(at_opening, campaign)["position"] == 7
        assert _status(after, campaign)["position"] == 8
        # 60 a minute from the opening: places 1 to 5 are in, the late ones wait their turn
        assert [_status(c, campaign)["state"] for c in (at_opening, after)] == ["waiting"] * 2


@pytest.mark.usefixtures("draw_at_the_opening_instant")
def test_an_old_challenge_posted_after_the_draw_queues_behind_it(campaign, opening):
    with time_machine.travel(opening - timedelta(minutes=10), tick=False):
        early = _arrive(3, campaign)
    slow = Client()
    action, payload = _challenge_at(slow, campaign, opening - timedelta(seconds=30))
    with time_machine.travel(opening + timedelta(seconds=1), tick=False):
        assert services.run_draw(campaign.pk) == 3
        assert slow.post(action, {"altcha": payload}).status_code == 303
        ticket = _ticket(slow, campaign)
        assert not ticket.early
        assert _status(slow, campaign)["position"] == 4
        assert sorted(_status(c, campaign)["position"] for c in early) == [1, 2, 3]


# Admission: the meter of each line, whatever the history of rates


@pytest.fixture
def two_windows(settings):
    """Window 1 opens tomorrow evening, window 2 a day later; the room admits 10 a minute from
    the first opening, and 20 a minute from an hour after it (a rate changed long before
    window 2 opens)."""
    settings.VAXBOOK_QUEUE_DRAW_GRACE = 0
    first = (timezone.now() + timedelta(days=1)).replace(microsecond=0)
    second = first + timedelta(days=1)
    campaign = CampaignFactory(opens_at=first, closes_at=second + timedelta(hours=5))
    BookingWindow.objects.create(
        campaign=campaign,
        birth_day_last_digit=1,
        opens_at=first,
        closes_at=first + timedelta(hours=5),
    )
    BookingWindow.objects.create(
        campaign=campaign,
        birth_day_last_digit=2,
        opens_at=second,
        closes_at=second + timedelta(hours=5),
    )
    with time_machine.travel(first - timedelta(hours=1), tick=False):
        campaign = services.configure_waiting_room(campaign, enabled=True, per_minute=10)
    with time_machine.travel(first + timedelta(hours=1), tick=False):
        campaign = services.configure_waiting_room(campaign, enabled=True, per_minute=20)
    return campaign, first, second


def test_a_later_opening_is_metered_from_itself_at_the_rate_in_force(two_windows):
    campaign, first, second = two_windows
    config = _config(campaign)
    assert [rate for _, rate in config.rates] == [10, 20]
    o1, o2 = first.timestamp(), second.timestamp()
    assert waiting_room.admitted_upto(config, o2, now=o2 - 60) == 0
    assert waiting_room.admitted_upto(config, o2, now=o2) == 0
    assert waiting_room.admitted_upto(config, o2, now=o2 + 30) == 10
    assert waiting_room.admitted_upto(config, o1, now=o1 + 3600) == 600
    assert waiting_room.admitted_upto(config, o1, now=o1 + 3630) == 610


def test_people_drawn_at_a_later_opening_are_admitted_at_the_current_rate(two_windows):
    campaign, first, second = two_windows
    with time_machine.travel(second - timedelta(hours=2), tick=False):
        waiting = _arrive(6, campaign)  # between the windows: in window 2's draw
    with time_machine.travel(second, tick=False):
        assert services.run_draw(campaign.pk) == 6
    # 20 a minute: places 1, 2, 3 come up at 3, 6 and 9 seconds
    with time_machine.travel(second + timedelta(seconds=9, milliseconds=500), tick=False):
        states = sorted(
            (s["position"], s["state"], s["ahead"]) for s in (_status(c, campaign) for c in waiting)
        )
    assert states == [
        (1, "admitted", 0),
        (2, "admitted", 0),
        (3, "admitted", 0),
        (4, "waiting", 0),
        (5, "waiting", 1),
        (6, "waiting", 2),
    ]


@pytest.mark.usefixtures("draw_at_the_opening_instant")
def test_after_the_room_is_switched_off_and_on_the_line_is_admitted_at_its_rate(campaign, opening):
    def configure(at, **kwargs):
        with time_machine.travel(opening + at, tick=False):
            return services.configure_waiting_room(campaign, **kwargs)

    configure(timedelta(minutes=1), enabled=True, per_minute=120)
    configure(timedelta(minutes=10), enabled=False, per_minute=120)
    configure(timedelta(minutes=20), enabled=True, per_minute=30)
    configure(timedelta(minutes=30), enabled=True, per_minute=60)
    arrival = opening + timedelta(minutes=40)
    with time_machine.travel(arrival, tick=False):
        config = _config(campaign)
        assert waiting_room.admitted_upto(config, opening.timestamp(), now=arrival.timestamp()) == (
            10 * 30 + 10 * 60
        )
        people = _arrive(4, campaign)
    # the line had run empty: the first is let in at once, then one a second
    with time_machine.travel(arrival + timedelta(seconds=1, milliseconds=500), tick=False):
        states = [_status(c, campaign) for c in people]
    assert [(s["position"], s["state"]) for s in states] == [
        (1, "admitted"),
        (2, "admitted"),
        (3, "waiting"),
        (4, "waiting"),
    ]
    assert [s["ahead"] for s in states[2:]] == [0, 1]
    assert all(s["wait_seconds"] >= 0 for s in states)


@pytest.mark.usefixtures("draw_at_the_opening_instant")
def test_a_line_that_ran_empty_lets_the_next_surge_in_at_the_rate_not_at_once(campaign, opening):
    with time_machine.travel(opening + timedelta(minutes=1), tick=False):
        services.run_draw(campaign.pk)  # nobody came early
        services.configure_waiting_room(campaign, enabled=True, per_minute=120)
    surge = opening + timedelta(hours=3)  # hours of unused admissions behind it
    with time_machine.travel(surge, tick=False):
        people = _arrive(6, campaign)
    with time_machine.travel(surge + timedelta(seconds=1, milliseconds=200), tick=False):
        states = [_status(c, campaign)["state"] for c in people]
    # 120 a minute: the first at once, then one every half second
    assert states == ["admitted"] * 3 + ["waiting"] * 3


@pytest.mark.usefixtures("draw_at_the_opening_instant")
def test_the_first_arrival_into_an_empty_line_restarts_its_meter(campaign, opening):
    with time_machine.travel(opening, tick=False):
        assert services.run_draw(campaign.pk) == 0  # nobody came early
    arrival = opening + timedelta(seconds=1, milliseconds=500)
    with time_machine.travel(arrival, tick=False):
        first, second = _arrive(2, campaign)
    # 60 a minute, from the first arrival: the second one a full second after it
    with time_machine.travel(arrival + timedelta(milliseconds=900), tick=False):
        assert [_status(c, campaign)["state"] for c in (first, second)] == ["admitted", "waiting"]
    with time_machine.travel(arrival + timedelta(seconds=1), tick=False):
        assert _status(second, campaign)["state"] == "admitted"


@pytest.mark.usefixtures("draw_at_the_opening_instant")
def test_switching_the_room_off_and_on_before_the_opening_starts_its_line_again(campaign, opening):
    with time_machine.travel(opening - timedelta(minutes=30), tick=False):
        earlier = _arrive(3, campaign, prefix="10.6")
    with time_machine.travel(opening - timedelta(minutes=20), tick=False):
        services.configure_waiting_room(campaign, enabled=False, per_minute=60)
        services.configure_waiting_room(campaign, enabled=True, per_minute=60)
    with time_machine.travel(opening - timedelta(minutes=10), tick=False):
        assert {_ticket(c, campaign) for c in earlier} == {None}
        again = _arrive(2, campaign, prefix="10.7")
        assert [_ticket(c, campaign).number for c in again] == [1, 2]
    with time_machine.travel(opening + timedelta(seconds=1), tick=False):
        assert services.run_draw(campaign.pk) == 2
        assert sorted(_status(c, campaign)["position"] for c in again) == [1, 2]


def test_a_room_switched_on_without_its_service_admits_nobody_to_the_form():
    """The flag alone, without the epoch that ``configure_waiting_room`` starts: no pass can
    be valid, so the guard sends everyone to the queue rather than to the form."""
    unstarted = CampaignFactory(waiting_room_enabled=True, waiting_room_epoch=None)
    response = Client().get(_start(unstarted))
    assert response.status_code == 302 and response["Location"] == queue_url(unstarted)


# Lines of windows that overlap: each arrival joins the right line, and the next draw too


@pytest.fixture
def overlapping(settings):
    """Window 1 (birth days ending in 1) opens tomorrow and stays open; window 2 (ending in 2)
    opens a day later; the room admits 60 a minute."""
    settings.VAXBOOK_QUEUE_DRAW_GRACE = 0
    first = (timezone.now() + timedelta(days=1)).replace(microsecond=0)
    second = first + timedelta(days=1)
    campaign = CampaignFactory(opens_at=first, closes_at=second + timedelta(hours=5))
    for digit, opens in ((1, first), (2, second)):
        BookingWindow.objects.create(
            campaign=campaign,
            birth_day_last_digit=digit,
            opens_at=opens,
            closes_at=second + timedelta(hours=5),
        )
    with time_machine.travel(first - timedelta(hours=1), tick=False):
        campaign = services.configure_waiting_room(campaign, enabled=True, per_minute=60)
    return campaign, first, second


def test_an_arrival_before_every_opening_waits_for_the_first(overlapping):
    campaign, first, second = overlapping
    with time_machine.travel(first - timedelta(minutes=5), tick=False):
        client = _arrive(1, campaign)[0]
        ticket = _ticket(client, campaign)
    assert (ticket.opening, ticket.early, ticket.next_opening) == (
        int(first.timestamp()),
        True,
        None,
    )
    with time_machine.travel(second + timedelta(seconds=1), tick=False):
        services.run_draw(campaign.pk)
        # a later window has opened and the ticket holds no place in its draw: a new place
        page = client.get(queue_url(campaign))
        assert page.context["joining"]
        assert join(client, campaign).status_code == 303
        assert _ticket(client, campaign).opening == int(second.timestamp())


def test_a_place_in_an_older_line_is_given_up_for_the_newest_once_it_opens(overlapping):
    campaign, first, second = overlapping
    config = _config(campaign)
    o1, o2 = int(first.timestamp()), int(second.timestamp())
    older = waiting_room.Ticket(id="0123456789abcdef", opening=o1, early=True, number=1)
    newest = waiting_room.Ticket(id="fedcba9876543210", opening=o2, early=True, number=1)
    admitted = waiting_room.QueueStatus("admitted")
    assert not waiting_room.needs_new_ticket(config, older, admitted, now=o2 - 1)
    assert waiting_room.needs_new_ticket(config, older, admitted, now=o2)
    assert not waiting_room.needs_new_ticket(config, newest, admitted, now=o2 + 1)
    expired = waiting_room.QueueStatus("expired")
    assert waiting_room.needs_new_ticket(config, newest, expired, now=o2 + 1)
    assert waiting_room.needs_new_ticket(config, None, None, now=o2 + 1)


def test_an_arrival_while_a_window_is_open_is_also_drawn_at_the_next_opening(overlapping):
    campaign, first, second = overlapping
    with time_machine.travel(first + timedelta(seconds=1), tick=False):
        services.run_draw(campaign.pk)
    with time_machine.travel(second - timedelta(minutes=10), tick=False):
        client = _arrive(1, campaign)[0]
        ticket = _ticket(client, campaign)
        assert _status(client, campaign)["state"] == "admitted"  # window 1's line is empty
    assert (ticket.opening, ticket.early) == (int(first.timestamp()), False)
    assert ticket.next_opening == int(second.timestamp())
    with time_machine.travel(second, tick=False):
        assert services.run_draw(campaign.pk) == 1
        # from that opening on, its place in window 2's draw is what counts
        assert _status(client, campaign) | {"poll_after": 0, "wait_text": ""} == {
            "state": "waiting",
            "position": 1,
            "ahead": 0,
            "wait_seconds": 1,
            "poll_after": 0,
            "wait_text": "",  # the words for the page: test_windows_shown
        }
    with time_machine.travel(second + timedelta(seconds=1), tick=False):
        assert _status(client, campaign)["state"] == "admitted"


def test_an_arrival_while_two_windows_are_open_joins_the_latest_opening(overlapping):
    campaign, first, second = overlapping
    with time_machine.travel(second + timedelta(hours=1), tick=False):
        services.run_draw(campaign.pk)
        client = _arrive(1, campaign)[0]
        assert _ticket(client, campaign).opening == int(second.timestamp())
        assert _status(client, campaign)["state"] == "admitted"
        # its pass books the people of the window that opened last
        assert identify(client, campaign.slug, rrn="620712-1234567").status_code == 302


# The edges of a turn and of its pass


@pytest.mark.usefixtures("draw_at_the_opening_instant")
def test_a_turn_comes_at_its_instant_and_its_pass_lasts_exactly_its_minutes(campaign, opening):
    minutes = campaign.admission_pass_minutes
    with time_machine.travel(opening - timedelta(minutes=5), tick=False):
        early = _arrive(3, campaign)
    with time_machine.travel(opening, tick=False):
        services.run_draw(campaign.pk)
        by_place = {_status(c, campaign)["position"]: c for c in early}
    second = by_place[2]
    turn = opening + timedelta(seconds=2)  # 60 a minute: place 2 at two seconds
    with time_machine.travel(turn - timedelta(milliseconds=1), tick=False):
        assert _status(second, campaign)["state"] == "waiting"
    with time_machine.travel(turn, tick=False):
        answer = second.get(reverse("campaigns:queue-status", kwargs={"campaign": campaign.slug}))
        assert answer.json()["state"] == "admitted"
        cookie = answer.cookies[waiting_room.pass_cookie(campaign.slug)]
        assert int(cookie["max-age"]) == minutes * 60
        assert cookie["httponly"] and cookie["samesite"] == "Lax"
    ends = turn + timedelta(minutes=minutes)
    with time_machine.travel(ends - timedelta(seconds=1), tick=False):
        assert second.get(_start(campaign)).status_code == 200
        assert _status(second, campaign)["state"] == "admitted"
    with time_machine.travel(ends, tick=False):
        assert second.get(_start(campaign))["Location"] == queue_url(campaign)
        assert _status(second, campaign)["state"] == "expired"


def test_a_ticket_cookie_lasts_until_two_days_after_the_closing_and_scripts_cannot_read_it(
    campaign, opening
):
    moment = opening - timedelta(minutes=10)
    with time_machine.travel(moment, tick=False):
        answer = join(Client(), campaign)
    cookie = answer.cookies[waiting_room.ticket_cookie(campaign.slug)]
    expected = (campaign.closes_at - moment).total_seconds() + 2 * 24 * 3600
    assert int(cookie["max-age"]) == expected
    assert cookie["httponly"] and cookie["samesite"] == "Lax"


@pytest.mark.usefixtures("draw_at_the_opening_instant")
def test_the_queue_closes_with_the_last_window(campaign, opening):
    with time_machine.travel(opening - timedelta(minutes=10), tick=False):
        early = _arrive(1, campaign)[0]
    with time_machine.travel(campaign.closes_at - timedelta(seconds=1), tick=False):
        services.run_draw(campaign.pk)
        assert _status(early, campaign)["state"] != "closed"
    with time_machine.travel(campaign.closes_at, tick=False):
        assert _status(early, campaign)["state"] == "closed"
        late = Client()
        assert (
            waiting_room.issue_ticket(
                _config(campaign),
                arrived=timezone.now().timestamp(),
                now=timezone.now().timestamp(),
            )
            is None
        )
        late.post(reverse("campaigns:queue-join", kwargs={"campaign": campaign.slug}))
        assert waiting_room.ticket_cookie(campaign.slug) not in late.cookies


# What a ticket cookie may claim


@pytest.fixture
def signed_ticket(campaign, opening):
    """A real ticket's cookie contents, and a way to sign an edited copy."""
    with time_machine.travel(opening - timedelta(minutes=10), tick=False):
        client = Client()
        join(client, campaign)
    ticket = _ticket(client, campaign)
    value = ticket.cookie_value(_config(campaign))

    def read(**changes):
        request = RequestFactory().get("/")
        edited = {k: v for k, v in {**value, **changes}.items() if v is not None}
        request.COOKIES[waiting_room.ticket_cookie(campaign.slug)] = signing.dumps(
            edited, salt=waiting_room.TICKET_SALT
        )
        return waiting_room.read_ticket(request, _config(campaign))

    return ticket, value, read


def test_a_ticket_is_read_back_as_it_was_issued(signed_ticket):
    ticket, _, read = signed_ticket
    assert read() == ticket


@pytest.mark.parametrize(
    "changes",
    [
        {"c": "another-campaign"},
        {"e": 12345},
        {"o": 12345},
        {"k": 2},
        {"k": "1"},
        {"n": "1"},
        {"n": True},
        {"n": 1.5},
        {"i": 42},
        {"x": 12345, "y": 1},
        {"b": float("nan"), "m": 1},
        {"b": 1.0, "m": "1"},
    ],
)
def test_a_ticket_claiming_what_it_was_not_issued_is_refused(signed_ticket, changes):
    _, _, read = signed_ticket
    assert read(**changes) is None


# The pass: bound to its campaign and epoch, judged by the server's clock


def _with_pass(slug: str, value: str, *, header: bool = False):
    if header:
        return RequestFactory().get("/", HTTP_X_ADMISSION_PASS=value)
    request = RequestFactory().get("/")
    request.COOKIES[waiting_room.pass_cookie(slug)] = value
    return request


def test_a_pass_is_valid_for_its_campaign_and_epoch_only(campaign, opening):
    line = int(opening.timestamp())
    ticket = waiting_room.Ticket(id="abcdefabcdef0123", opening=line, early=True, number=1)
    admitted = (opening + timedelta(seconds=1)).timestamp()
    with time_machine.travel(opening + timedelta(minutes=1), tick=False):
        value = waiting_room.issue_pass(
            HttpResponse(), _config(campaign), ticket, admitted_at=admitted, now=admitted
        )
        expected = waiting_room.Pass(
            ticket_id="abcdefabcdef0123", opening=float(line), admitted_at=admitted
        )
        assert waiting_room.valid_pass(_with_pass(campaign.slug, value), campaign) == expected
        header = _with_pass(campaign.slug, value, header=True)
        assert waiting_room.valid_pass(header, campaign) == expected
        # another campaign's room, in the same epoch: not its pass
        other = CampaignFactory(opens_at=opening, closes_at=opening + timedelta(days=1))
        other.waiting_room_enabled = True
        other.waiting_room_epoch = campaign.waiting_room_epoch
        assert waiting_room.valid_pass(_with_pass(other.slug, value), other) is None
        # the room switched off and on: a new epoch, older passes void
        services.configure_waiting_room(campaign, enabled=False, per_minute=60)
        campaign = services.configure_waiting_room(campaign, enabled=True, per_minute=60)
        assert waiting_room.valid_pass(_with_pass(campaign.slug, value), campaign) is None


# A ticket's price: a proof of work for this queue, this epoch, in its time; a bound per address


def _post(client, action, payload):
    return client.post(action, {"altcha": payload})


def test_a_challenge_is_good_until_just_before_it_expires(campaign, opening, settings):
    handed_out = opening - timedelta(minutes=30)
    on_time, too_late = Client(), Client()
    in_time = _challenge_at(on_time, campaign, handed_out)
    expired = _challenge_at(too_late, campaign, handed_out)
    ttl = timedelta(seconds=settings.VAXBOOK_QUEUE_POW_TTL)
    with time_machine.travel(handed_out + ttl - timedelta(seconds=1), tick=False):
        assert _post(on_time, *in_time).status_code == 303
    with time_machine.travel(handed_out + ttl, tick=False):
        assert _post(too_late, *expired).status_code == 400
    assert waiting_room.ticket_cookie(campaign.slug) not in too_late.cookies


def test_a_challenge_of_another_queue_in_the_same_epoch_buys_no_ticket(opening):
    here = CampaignFactory(opens_at=opening, closes_at=opening + timedelta(days=1))
    there = CampaignFactory(opens_at=opening, closes_at=opening + timedelta(days=1))
    with time_machine.travel(opening - timedelta(hours=1), tick=False):
        here = services.configure_waiting_room(here, enabled=True, per_minute=60)
        there = services.configure_waiting_room(there, enabled=True, per_minute=60)
    assert _config(here).epoch == _config(there).epoch
    client = Client()
    action, _ = _challenge_at(client, here, opening - timedelta(minutes=5))
    _, theirs = _challenge_at(client, there, opening - timedelta(minutes=5))
    with time_machine.travel(opening - timedelta(minutes=5), tick=False):
        assert _post(client, action, theirs).status_code == 400
    assert waiting_room.ticket_cookie(here.slug) not in client.cookies


def test_a_challenge_from_before_the_room_was_switched_on_again_buys_no_ticket(campaign, opening):
    client = Client()
    action, old = _challenge_at(client, campaign, opening - timedelta(minutes=30))
    with time_machine.travel(opening - timedelta(minutes=25), tick=False):  # still unexpired
        services.configure_waiting_room(campaign, enabled=False, per_minute=60)
        services.configure_waiting_room(campaign, enabled=True, per_minute=60)
        assert _post(client, action, old).status_code == 400
    assert waiting_room.ticket_cookie(campaign.slug) not in client.cookies


def test_an_address_at_its_bound_is_refused_before_its_answer_is_checked(
    campaign, opening, settings
):
    settings.VAXBOOK_THROTTLE_PER_ADDRESS = 2
    address = "198.51.100.21"
    with time_machine.travel(opening - timedelta(minutes=10), tick=False):
        config = _config(campaign)
        now = timezone.now().timestamp()
        assert waiting_room.address_has_room(config, address, now=now)
        for _ in range(2):
            assert join(Client(REMOTE_ADDR=address), campaign).status_code == 303
        assert not waiting_room.address_has_room(config, address, now=now)
        # its answer is not even looked at (no key derivation spent on it): 429, not 400
        late = Client(REMOTE_ADDR=address)
        form = join_form(Client().get(queue_url(campaign)).content.decode())
        assert _post(late, form["action"], "e30=").status_code == 429
        assert waiting_room.address_has_room(config, "198.51.100.22", now=now)


def test_the_bound_per_address_is_per_line(overlapping, settings):
    settings.VAXBOOK_THROTTLE_PER_ADDRESS = 1
    campaign, first, second = overlapping
    address = "198.51.100.31"
    with time_machine.travel(first - timedelta(minutes=5), tick=False):
        assert join(Client(REMOTE_ADDR=address), campaign).status_code == 303
        assert join(Client(REMOTE_ADDR=address), campaign).status_code == 429
    with time_machine.travel(second + timedelta(minutes=5), tick=False):
        services.run_draw(campaign.pk)
        assert join(Client(REMOTE_ADDR=address), campaign).status_code == 303  # window 2's line


# Privacy: no client address in the cache


def test_the_cache_never_holds_a_client_address(campaign, opening):
    with time_machine.travel(opening - timedelta(minutes=10), tick=False):
        assert join(Client(REMOTE_ADDR="203.0.113.77"), campaign).status_code == 303
    store = redis.Redis.from_url(django_settings.REDIS_URL)
    keys = [key.decode() for key in store.scan_iter(count=1000)]
    assert any(":address:" in key for key in keys)
    assert not [key for key in keys if "203.0.113.77" in key]
    values = [store.get(key) or b"" for key in keys if ":address:" in key]
    assert not [v for v in values if b"203.0.113.77" in v]
