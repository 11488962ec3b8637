"""The waiting room cannot be farmed: a ticket costs a proof of work and one address gets a
bounded number; a pass books for a household at most; an expired pass is not renewed by
polling; every staggered window's opening is drawn and metered on its own."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection
from django.forms.forms import NON_FIELD_ERRORS
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from bookings.models import Booking
from bookings.selectors import suspicious_bookings
from bookings.tests.factories import BookingFactory, rrn_for
from bookings.tests.flow import identify
from campaigns import services, waiting_room
from campaigns.models import BookingWindow
from campaigns.tests.factories import CampaignFactory
from campaigns.tests.queue import (
    join,
    join_form,
    queue_url,
    solved,
)
from clinics.tests.factories import SlotFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("draw_at_the_opening_instant")]


def _status(client, campaign):
    return client.get(reverse("campaigns:queue-status", kwargs={"campaign": campaign.slug}))


def _start(campaign):
    return reverse("bookings:start", kwargs={"campaign": campaign.slug})


def _admitted(campaign, *, address="10.0.0.1") -> Client:
    """Someone who joined after the opening with nobody ahead and holds a pass."""
    client = Client(REMOTE_ADDR=address)
    assert join(client, campaign).status_code == 303
    assert _status(client, campaign).json()["state"] == "admitted"
    return client


# 1. A ticket costs work, and one address gets a bounded number


def test_visiting_the_queue_page_hands_out_no_ticket(campaign, opening):
    with time_machine.travel(opening - timedelta(minutes=10), tick=False):
        client = Client()
        for _ in range(5):
            page = client.get(queue_url(campaign))
            assert page.status_code == 200
            assert waiting_room.ticket_cookie(campaign.slug) not in page.cookies
            assert join_form(page.content.decode())["data-challenge"]
        assert _status(client, campaign).json()["state"] == "no_ticket"


def test_a_solved_challenge_gives_one_ticket_and_only_once(campaign, opening):
    with time_machine.travel(opening - timedelta(minutes=10), tick=False):
        client = Client()
        form = join_form(client.get(queue_url(campaign)).content.decode())
        payload = solved(form)
        first = client.post(form["action"], {"altcha": payload})
        assert first.status_code == 303 and first["Location"] == queue_url(campaign)
        assert waiting_room.ticket_cookie(campaign.slug) in first.cookies
        assert _status(client, campaign).json()["state"] == "before_opening"
        # the same solution again, from a fresh client: no second ticket
        replay = Client().post(form["action"], {"altcha": payload})
        assert replay.status_code == 400
        assert waiting_room.ticket_cookie(campaign.slug) not in replay.cookies


@pytest.mark.parametrize(
    "payload",
    ["", "not base64 !!", "eyJmb28iOiAxfQ==", "W10=", "e30=", "bnVsbA==", "x" * 5000],
)
def test_a_missing_or_malformed_solution_gives_no_ticket(campaign, opening, payload):
    with time_machine.travel(opening - timedelta(minutes=10), tick=False):
        client = Client()
        response = join(client, campaign, payload=payload or " ")
        assert response.status_code == 400
        assert waiting_room.ticket_cookie(campaign.slug) not in response.cookies
        assert join_form(response.content.decode())  # a new challenge to try again with


def test_a_challenge_with_a_wrong_answer_or_for_another_queue_gives_no_ticket(campaign, opening):
    import altcha

    other = CampaignFactory(opens_at=opening, closes_at=opening + timedelta(days=3))
    with time_machine.travel(opening - timedelta(minutes=10), tick=False):
        services.configure_waiting_room(other, enabled=True, per_minute=60)
        client = Client()
        form = join_form(client.get(queue_url(campaign)).content.decode())
        payload = altcha.Payload.from_base64(solved(form))
        payload.solution.counter += 1
        payload.solution.derived_key = "00" * 32
        assert client.post(form["action"], {"altcha": payload.to_base64()}).status_code == 400
        # a challenge of the other campaign's queue, solved, posted to this one
        other_form = join_form(client.get(queue_url(other)).content.decode())
        assert client.post(form["action"], {"altcha": solved(other_form)}).status_code == 400
        assert waiting_room.ticket_cookie(campaign.slug) not in client.cookies


@pytest.mark.parametrize(
    "forged",
    [
        {"expiresAt": float("inf")},
        {"expiresAt": 2**63},
        {"expiresAt": 10**15},
        {"expiresAt": "soon"},
        {"cost": "1"},
        {"cost": None},
        {"cost": 0},
        {"nonce": ["x"]},
        {"data": {"c": "x", "e": [], "t": 1}},
    ],
)
def test_a_forged_challenge_is_a_400_and_leaves_nothing_behind(campaign, opening, forged):
    import base64
    import json

    from django.core.cache import cache

    with time_machine.travel(opening - timedelta(minutes=10), tick=False):
        client = Client()
        form = join_form(client.get(queue_url(campaign)).content.decode())
        challenge = json.loads(form["data-challenge"])
        challenge["parameters"].update(forged)
        payload = {"challenge": challenge, "solution": {"counter": 1, "derivedKey": "00" * 32}}
        body = base64.b64encode(json.dumps(payload).encode()).decode()
        response = Client(raise_request_exception=False).post(form["action"], {"altcha": body})
        assert response.status_code == 400
        nonce = challenge["parameters"]["nonce"]
        if isinstance(nonce, str):  # a forged challenge is refused before anything is stored
            assert cache.get(f"wr:pow-tried:{nonce}") is None


def test_an_expired_challenge_gives_no_ticket(campaign, opening, settings):
    with time_machine.travel(opening - timedelta(minutes=30), tick=False):
        client = Client()
        form = join_form(client.get(queue_url(campaign)).content.decode())
        payload = solved(form)
    later = opening - timedelta(minutes=30) + timedelta(seconds=settings.VAXBOOK_QUEUE_POW_TTL + 1)
    with time_machine.travel(later, tick=False):
        assert client.post(form["action"], {"altcha": payload}).status_code == 400


def _wrongly_solved(client, campaign) -> str:
    import altcha

    form = join_form(client.get(queue_url(campaign)).content.decode())
    payload = altcha.Payload.from_base64(solved(form))
    payload.solution.counter += 1
    payload.solution.derived_key = "00" * 32
    return payload.to_base64()


def test_wrong_answers_from_one_address_are_bounded_junk_costs_nobody(campaign, opening, settings):
    settings.VAXBOOK_THROTTLE_PER_ADDRESS = 3
    with time_machine.travel(opening - timedelta(minutes=10), tick=False):
        client = Client(REMOTE_ADDR="198.51.100.9")
        codes = [
            join(client, campaign, payload=_wrongly_solved(client, campaign)).status_code
            for _ in range(4)
        ]
        assert codes == [400, 400, 400, 429]
        # junk that is no challenge of ours costs the server nothing and is not counted, so an
        # abuser cannot lock out the people who share their address with it
        shared = "198.51.100.10"
        for _ in range(10):
            assert join(Client(REMOTE_ADDR=shared), campaign, payload="e30=").status_code == 400
        assert join(Client(REMOTE_ADDR=shared), campaign).status_code == 303


def test_one_address_gets_a_bounded_number_of_tickets_per_queue(campaign, opening, settings):
    settings.VAXBOOK_THROTTLE_PER_ADDRESS = 5
    with time_machine.travel(opening - timedelta(minutes=10), tick=False):
        farm = [join(Client(REMOTE_ADDR="198.51.100.7"), campaign).status_code for _ in range(7)]
        assert farm == [303] * 5 + [429] * 2
        # other addresses are not affected
        assert join(Client(REMOTE_ADDR="198.51.100.8"), campaign).status_code == 303
    with time_machine.travel(opening + timedelta(seconds=1), tick=False):
        assert services.run_draw(campaign.pk) == 6


def test_a_farmer_cannot_take_the_draw_from_real_people(campaign, opening, settings):
    """The attack that was found: hundreds of tickets from one script against 30 people."""
    settings.VAXBOOK_THROTTLE_PER_ADDRESS = 10
    with time_machine.travel(opening - timedelta(minutes=10), tick=False):
        farmer = [Client(REMOTE_ADDR="198.51.100.7") for _ in range(60)]
        farmed = [c for c in farmer if join(c, campaign).status_code == 303]
        people = [Client(REMOTE_ADDR=f"10.1.{n}.1") for n in range(30)]
        for person in people:
            assert join(person, campaign).status_code == 303
    with time_machine.travel(opening + timedelta(seconds=1), tick=False):
        assert services.run_draw(campaign.pk) == 40  # 10 farmed and 30 people: nothing else
        places = [_status(c, campaign).json()["position"] for c in people]
        farmer_places = [_status(c, campaign).json()["position"] for c in farmed]
    assert len(farmed) == 10
    assert sorted(places + farmer_places) == list(range(1, 41))
    # 600 farmed tickets took all of the first 30 places; now at least 20 of them are people's
    assert sum(1 for place in places if place <= 30) >= 20


@pytest.mark.django_db(transaction=True)
def test_joins_racing_for_an_addresss_last_places_leave_no_ghost_places(settings):
    settings.VAXBOOK_THROTTLE_PER_ADDRESS = 2
    settings.VAXBOOK_QUEUE_DRAW_GRACE = 0
    opening = timezone.now() + timedelta(minutes=30)
    campaign = CampaignFactory(opens_at=opening, closes_at=opening + timedelta(days=1))
    services.configure_waiting_room(campaign, enabled=True, per_minute=60)
    racers = 12
    forms = []
    for _ in range(racers):
        client = Client(REMOTE_ADDR="198.51.100.7")
        forms.append((client, join_form(client.get(queue_url(campaign)).content.decode())))
    payloads = [(client, form["action"], solved(form)) for client, form in forms]
    barrier = threading.Barrier(racers)

    def race(entry) -> int:
        client, action, payload = entry
        try:
            barrier.wait()
            return client.post(action, {"altcha": payload}).status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=racers) as pool:
        codes = list(pool.map(race, payloads))
    assert sorted(codes) == [303, 303] + [429] * (racers - 2)
    honest = Client(REMOTE_ADDR="10.8.8.8")
    assert join(honest, campaign).status_code == 303
    with time_machine.travel(opening + timedelta(seconds=1), tick=False):
        assert services.run_draw(campaign.pk) == 3  # two for the racer, one honest: no ghosts


def test_solving_the_challenge_does_not_push_an_arrival_behind_the_opening(campaign, opening):
    with time_machine.travel(opening - timedelta(seconds=2), tick=False):
        client = Client()
        form = join_form(client.get(queue_url(campaign)).content.decode())
        payload = solved(form)
    with time_machine.travel(opening + timedelta(seconds=1), tick=False):  # a slow phone
        assert client.post(form["action"], {"altcha": payload}).status_code == 303
        assert services.run_draw(campaign.pk) == 1  # drawn with those who came before it


# 2. A pass books for a household at most


def _identify_with(client, campaign, n: int):
    return identify(client, campaign.slug, rrn=rrn_for(n), name=f"Person {n}")


def test_a_pass_books_for_at_most_the_people_per_pass(campaign, opening, settings):
    settings.VAXBOOK_PEOPLE_PER_PASS = 4
    with time_machine.travel(opening + timedelta(minutes=1), tick=False):
        services.run_draw(campaign.pk)
        client = _admitted(campaign)
        for n in range(4):
            assert _identify_with(client, campaign, n).status_code == 302
        # the same people again: still fine, they are already on the pass
        assert _identify_with(client, campaign, 0).status_code == 302
        refused = _identify_with(client, campaign, 4)
        assert refused.status_code == 200
        assert refused.context["form"].has_error(NON_FIELD_ERRORS, "pass_full")


def test_a_copied_pass_does_not_book_more_people_from_another_client(campaign, opening, settings):
    settings.VAXBOOK_PEOPLE_PER_PASS = 2
    slot = SlotFactory(campaign=campaign, date=(opening + timedelta(days=1)).date())
    with time_machine.travel(opening + timedelta(minutes=1), tick=False):
        services.run_draw(campaign.pk)
        browser = _admitted(campaign)
        token = browser.cookies[waiting_room.pass_cookie(campaign.slug)].value
        api = Client(HTTP_X_ADMISSION_PASS=token, REMOTE_ADDR="203.0.113.50")
        url = reverse("api:booking-create", kwargs={"campaign": campaign.slug})
        answers = []
        for n in range(5):
            body = {"name": f"P{n}", "rrn": rrn_for(n), "phone": "01012345678", "slot": slot.pk}
            answers.append(api.post(url, body, content_type="application/json"))
    assert [a.status_code for a in answers] == [202, 202, 403, 403, 403]
    assert {a.json()["code"] for a in answers[2:]} == {"pass_full"}
    assert Booking.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_parallel_burst_on_one_pass_books_at_most_the_people_per_pass(settings):
    settings.VAXBOOK_PEOPLE_PER_PASS = 4
    now = timezone.now()
    campaign = CampaignFactory(opens_at=now - timedelta(minutes=5))
    services.configure_waiting_room(campaign, enabled=True, per_minute=60_000)
    slot = SlotFactory(campaign=campaign, capacity=100)
    token = _admitted(campaign).cookies[waiting_room.pass_cookie(campaign.slug)].value
    url = reverse("api:booking-create", kwargs={"campaign": campaign.slug})
    racers = 30
    barrier = threading.Barrier(racers)

    def book(n: int) -> int:
        try:
            client = Client(HTTP_X_ADMISSION_PASS=token, REMOTE_ADDR=f"10.9.{n}.1")
            body = {"name": f"P{n}", "rrn": rrn_for(n), "phone": "01012345678", "slot": slot.pk}
            barrier.wait()
            return client.post(url, body, content_type="application/json").status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=racers) as pool:
        codes = list(pool.map(book, range(racers)))
    assert codes.count(202) == 4 and codes.count(403) == racers - 4
    assert Booking.objects.filter(campaign=campaign).count() == 4


def test_testing_registration_numbers_with_one_pass_stops_at_the_people_per_pass(
    campaign, opening, settings
):
    """Whether a number has a booking is said at the identity step; with the waiting room on,
    every number tried takes a place on the pass, so one pass tests only a household's worth."""
    settings.VAXBOOK_PEOPLE_PER_PASS = 4
    booked = [BookingFactory(campaign=campaign, rrn=rrn_for(n)) for n in range(6)]
    with time_machine.travel(opening + timedelta(minutes=1), tick=False):
        services.run_draw(campaign.pk)
        prober = _admitted(campaign)
        answers = [_identify_with(prober, campaign, n) for n in range(6)]
    assert all(a.status_code == 200 for a in answers)
    forms = [a.context["form"] for a in answers]
    assert [f.has_error(NON_FIELD_ERRORS, "already_booked") for f in forms] == [True] * 4 + [
        False
    ] * 2
    assert [f.has_error(NON_FIELD_ERRORS, "pass_full") for f in forms] == [False] * 4 + [True] * 2
    assert len(booked) == 6


def test_the_integrity_report_flags_a_pass_used_for_more_people_than_allowed(settings):
    settings.VAXBOOK_PEOPLE_PER_PASS = 2
    slot = SlotFactory()
    fine = BookingFactory.create_batch(2, slot=slot, admission_pass="a" * 16)
    farmed = BookingFactory.create_batch(3, slot=slot, admission_pass="b" * 16)
    flagged = {booking.pk: reason for booking, reason in suspicious_bookings()}
    assert set(flagged) == {b.pk for b in farmed}
    assert not set(flagged) & {b.pk for b in fine}
    with pytest.raises(CommandError, match="3 suspicious"):
        call_command("integrity_report")
    # Anonymised bookings (retention) no longer say who they were: they do not count as people.
    for booking in BookingFactory.create_batch(5, slot=slot, admission_pass="c" * 16):
        Booking.objects.filter(pk=booking.pk).update(rrn_hmac=f"purged:{booking.pk}")
    assert {b.pk for b, _ in suspicious_bookings()} == {b.pk for b in farmed}


# 3. A ticket is admitted once


def test_an_expired_pass_is_not_renewed_by_polling(campaign, opening):
    with time_machine.travel(opening + timedelta(minutes=1), tick=False):
        services.run_draw(campaign.pk)
        client = _admitted(campaign)
        assert client.get(_start(campaign)).status_code == 200
        waiting = Client(REMOTE_ADDR="10.0.0.2")
        join(waiting, campaign)
    minutes = campaign.admission_pass_minutes
    with time_machine.travel(opening + timedelta(minutes=2 + minutes), tick=False):
        assert client.get(_start(campaign))["Location"] == queue_url(campaign)
        polled = _status(client, campaign)
        assert polled.json()["state"] == "expired"
        assert waiting_room.pass_cookie(campaign.slug) not in polled.cookies
        assert client.get(_start(campaign))["Location"] == queue_url(campaign)
        # the queue page says so and offers a new place at the end of the line
        page = client.get(queue_url(campaign))
        assert page.context["status"].state == "expired"
        assert join_form(page.content.decode())
        assert join(client, campaign).status_code == 303
        assert _status(client, campaign).json()["position"] == 3


def test_a_ticket_cannot_be_saved_up_and_cashed_in_later(campaign, opening):
    """The pass runs from the ticket's turn, whether or not anybody asked then."""
    minutes = campaign.admission_pass_minutes
    with time_machine.travel(opening - timedelta(minutes=5), tick=False):
        saved = [Client(REMOTE_ADDR=f"10.5.{n}.1") for n in range(3)]
        for client in saved:
            join(client, campaign)
    with time_machine.travel(opening + timedelta(seconds=1), tick=False):
        services.run_draw(campaign.pk)
    with time_machine.travel(opening + timedelta(minutes=minutes, seconds=30), tick=False):
        # places 1..3 came up in the first 3 seconds: their passes ran out 30 s ago
        for client in saved:
            assert _status(client, campaign).json()["state"] == "expired"
            assert client.get(_start(campaign))["Location"] == queue_url(campaign)
    with time_machine.travel(opening + timedelta(hours=9), tick=False):
        for client in saved:
            assert _status(client, campaign).json()["state"] == "expired"


def test_a_ticket_taken_days_before_the_opening_still_counts_at_it():
    opening = (timezone.now() + timedelta(days=4)).replace(microsecond=0)
    campaign = CampaignFactory(opens_at=opening, closes_at=opening + timedelta(days=1))
    with time_machine.travel(opening - timedelta(days=3, hours=1), tick=False):
        campaign = services.configure_waiting_room(campaign, enabled=True, per_minute=60)
    with time_machine.travel(opening - timedelta(days=3), tick=False):
        early = Client()
        answer = join(early, campaign)
        assert answer.cookies[waiting_room.ticket_cookie(campaign.slug)]["max-age"] > 3 * 86400
    with time_machine.travel(opening + timedelta(seconds=5), tick=False):
        services.run_draw(campaign.pk)
        assert _status(early, campaign).json()["state"] == "admitted"


def test_a_reload_while_the_pass_is_valid_does_not_extend_it(campaign, opening):
    minutes = campaign.admission_pass_minutes
    with time_machine.travel(opening + timedelta(minutes=1), tick=False):
        services.run_draw(campaign.pk)
        client = _admitted(campaign)
    with time_machine.travel(opening + timedelta(minutes=minutes), tick=False):
        assert _status(client, campaign).json()["state"] == "admitted"  # still valid: re-issued
    with time_machine.travel(opening + timedelta(minutes=1 + minutes, seconds=1), tick=False):
        assert client.get(_start(campaign))["Location"] == queue_url(campaign)


# 4. Each staggered window's opening is its own opening


@pytest.fixture
def rotation():
    """Two birth-digit windows on consecutive evenings; the room admits 10 people a minute."""
    day1 = (timezone.now() + timedelta(days=1)).replace(hour=11, minute=0, second=0, microsecond=0)
    day2 = day1 + timedelta(days=1)
    campaign = CampaignFactory(opens_at=day1, closes_at=day2 + timedelta(hours=22))
    BookingWindow.objects.create(
        campaign=campaign,
        label="digit 1",
        opens_at=day1,
        closes_at=day2,  # open until the next window opens
        birth_day_last_digit=1,
    )
    BookingWindow.objects.create(
        campaign=campaign,
        label="digit 2",
        opens_at=day2,
        closes_at=day2 + timedelta(hours=22),
        birth_day_last_digit=2,
    )
    with time_machine.travel(day1 - timedelta(hours=1), tick=False):
        campaign = services.configure_waiting_room(campaign, enabled=True, per_minute=10)
    return campaign, day1, day2


def _rrn_born_on(day: int, n: int) -> str:
    return f"62{1 + n % 12:02d}{day:02d}-1{n:06d}"


def test_people_waiting_for_a_later_window_are_drawn_and_metered_from_its_opening(rotation):
    campaign, day1, day2 = rotation
    with time_machine.travel(day1 - timedelta(minutes=5), tick=False):
        first = [Client(REMOTE_ADDR=f"10.1.{n}.1") for n in range(3)]
        for client in first:
            assert join(client, campaign).status_code == 303
    with time_machine.travel(day1 + timedelta(seconds=1), tick=False):
        services.run_draw(campaign.pk)
    with time_machine.travel(day2 - timedelta(minutes=10), tick=False):
        # Window 1 is still open: an arrival now takes a place in its line — metered again
        # from now, since that line had run empty overnight — and, in case they are waiting
        # for window 2, a place in window 2's draw too.
        evening = [Client(REMOTE_ADDR=f"10.2.{n}.1") for n in range(30)]
        for client in evening:
            assert join(client, campaign).status_code == 303
        states = [_status(c, campaign).json()["state"] for c in evening]
        assert states == ["admitted"] + ["waiting"] * 29
    with time_machine.travel(day2 - timedelta(minutes=10) + timedelta(seconds=13), tick=False):
        states = [_status(c, campaign).json()["state"] for c in evening]
        assert states == ["admitted"] * 3 + ["waiting"] * 27
    with time_machine.travel(day2 + timedelta(seconds=1), tick=False):
        assert services.run_draw(campaign.pk) == 33  # both openings: 3 and 30 drawn
        # A pass of window 1's line does not book someone whose window opened later...
        refused = identify(evening[0], campaign.slug, rrn=_rrn_born_on(2, 1))
        assert refused.status_code == 200
        assert refused.context["form"].has_error(NON_FIELD_ERRORS, "pass_before_window")
        # ...their place in window 2's draw does, metered from its opening: 10 a minute.
        evening_places = [_status(c, campaign).json() for c in evening]
        assert {s["state"] for s in evening_places} == {"waiting"}
        assert sorted(s["position"] for s in evening_places) == list(range(1, 31))
        assert [s["position"] for s in evening_places] != list(range(1, 31))
        late = [Client(REMOTE_ADDR=f"10.3.{n}.1") for n in range(2)]
        for client in late:
            assert join(client, campaign).status_code == 303
        assert [_status(c, campaign).json()["position"] for c in late] == [31, 32]
        # Someone from the first evening, with no place in window 2's draw, may take one now.
        page = first[0].get(queue_url(campaign))
        assert page.context["joining"]
        assert join(first[0], campaign).status_code == 303
        assert _status(first[0], campaign).json()["position"] == 33
    with time_machine.travel(day2 + timedelta(seconds=13), tick=False):
        admitted = [c for c in evening if _status(c, campaign).json()["state"] == "admitted"]
        assert len(admitted) == 2
        assert _status(admitted[0], campaign).json()["next"] == _start(campaign)
        assert identify(admitted[0], campaign.slug, rrn=_rrn_born_on(2, 1)).status_code == 302


def test_arrivals_between_windows_are_drawn_at_the_next_opening(rotation):
    campaign, day1, day2 = rotation
    BookingWindow.objects.filter(campaign=campaign, label="digit 1").update(
        closes_at=day2 - timedelta(hours=2)
    )
    with time_machine.travel(day1 - timedelta(minutes=5), tick=False):
        for n in range(4):
            join(Client(REMOTE_ADDR=f"10.1.{n}.1"), campaign)
    with time_machine.travel(day2 - timedelta(minutes=30), tick=False):
        between = [Client(REMOTE_ADDR=f"10.2.{n}.1") for n in range(20)]
        for client in between:
            assert join(client, campaign).status_code == 303
            assert _status(client, campaign).json()["state"] == "before_opening"
    with time_machine.travel(day2 + timedelta(seconds=1), tick=False):
        assert services.run_draw(campaign.pk) == 24  # both openings' draws
        places = [_status(c, campaign).json()["position"] for c in between]
    assert sorted(places) == list(range(1, 21))
    assert places != list(range(1, 21)), "arriving first gives no advantage"
    from campaigns.models import QueueDraw  # one per opening (this change)

    draws = list(QueueDraw.objects.filter(campaign=campaign).order_by("opens_at"))
    assert [d.opens_at for d in draws] == [day1, day2]
    assert [d.entries.count() for d in draws] == [4, 20]
    assert draws[0].seed != draws[1].seed
    call_command("verify_draw", campaign.slug)
    entry = draws[1].entries.order_by("position").first()
    draws[1].entries.filter(pk=entry.pk).update(position=999)
    with pytest.raises(Exception, match="does NOT match"):
        call_command("verify_draw", campaign.slug)


def test_the_published_draw_shows_every_opening(rotation, admin_client):
    campaign, day1, day2 = rotation
    with time_machine.travel(day2 + timedelta(seconds=1), tick=False):
        services.run_draw(campaign.pk)
    campaign.draw_published = True
    campaign.save(update_fields=["draw_published"])
    page = Client().get(reverse("campaigns:draw", kwargs={"campaign": campaign.slug}))
    assert page.status_code == 200
    from campaigns.models import QueueDraw  # one per opening (this change)

    recorded = QueueDraw.objects.filter(campaign=campaign).order_by("opens_at")
    assert [d.seed for d in page.context["draws"]] == [d.seed for d in recorded]
    assert len(recorded) == 2
