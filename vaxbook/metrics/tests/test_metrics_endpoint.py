"""/metrics: Prometheus' text format behind a bearer token, the request counters by view, and
the booking figures moving as bookings are requested and decided — computed at scrape time in a
fixed number of queries."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from bookings import services
from bookings.tests.factories import BookingFactory
from campaigns import services as campaign_services
from campaigns import waiting_room
from campaigns.tests.factories import CampaignFactory
from campaigns.tests.queue import join
from clinics.tests.factories import SlotFactory
from vaxbook.celery import app
from vaxbook.metrics.tests.scrape import TOKEN, scrape, value

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _token(settings):
    settings.VAXBOOK_METRICS_TOKEN = TOKEN
    settings.VAXBOOK_METRICS_CACHE_SECONDS = 0  # every scrape counts: the tests watch them move


# Who may read them


@pytest.mark.parametrize(
    ("header", "status"),
    [
        (None, 401),
        ("Bearer ", 401),
        (f"Basic {TOKEN}", 401),
        ("Bearer wrong-token", 403),
        (f"Bearer {TOKEN}x", 403),
        (f"Bearer {TOKEN}", 200),
        (f"bearer {TOKEN}", 200),
    ],
)
def test_the_token_is_required(client, header, status):
    extra = {"HTTP_AUTHORIZATION": header} if header is not None else {}
    response = client.get(reverse("metrics:metrics"), **extra)
    assert response.status_code == status
    if status == 401:
        assert response["WWW-Authenticate"].startswith("Bearer")
    if status != 200:
        assert b"vaxbook_" not in response.content


def test_without_a_token_set_they_are_off_in_production_and_open_in_development(client, settings):
    settings.VAXBOOK_METRICS_TOKEN = ""
    settings.PRODUCTION = True
    assert client.get(reverse("metrics:metrics")).status_code == 404
    settings.PRODUCTION = False
    assert client.get(reverse("metrics:metrics")).status_code == 200


def test_never_cached_no_session_no_csrf(client):
    response = client.get(reverse("metrics:metrics"), HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert "no-cache" in response["Cache-Control"]
    assert not response.cookies
    assert client.post(reverse("metrics:metrics")).status_code == 405


# Requests by view


def test_a_page_view_is_counted_and_timed_by_its_view_name(client):
    before = scrape(client)
    assert client.get(reverse("home")).status_code == 200
    client.get("/no/such/page/8d2f1c/")
    after = scrape(client)
    home = {"view": "home", "method": "GET", "status": "2xx"}
    assert (
        value(after, "vaxbook_http_requests_total", **home)
        - value(before, "vaxbook_http_requests_total", **home)
        == 1
    )
    assert (
        value(after, "vaxbook_http_request_duration_seconds_count", view="home")
        - value(before, "vaxbook_http_request_duration_seconds_count", view="home")
        == 1
    )
    unmatched = {"view": "unmatched", "method": "GET", "status": "4xx"}
    assert value(after, "vaxbook_http_requests_total", **unmatched) > value(
        before, "vaxbook_http_requests_total", **unmatched
    )
    # Never the raw path: label values come from the code, not from what a client asks.
    assert not [labels for _, labels in after if "8d2f1c" in str(labels)]


# Bookings


def test_the_booking_counters_move_as_bookings_are_requested_and_decided(client):
    campaign = CampaignFactory(slug="metrics-move")
    slot = SlotFactory(campaign=campaign, capacity=1)
    before = scrape(client)
    first, second = BookingFactory(slot=slot), BookingFactory(slot=slot)
    middle = scrape(client)
    assert value(middle, "vaxbook_bookings_requested_total", campaign="metrics-move") == 2
    assert value(middle, "vaxbook_bookings", campaign="metrics-move", status="pending") == 2
    assert value(middle, "vaxbook_oldest_pending_booking_age_seconds") >= 0
    assert value(before, "vaxbook_bookings_requested_total", campaign="metrics-move") == 0

    services.confirm_booking(first.pk)
    services.confirm_booking(second.pk)  # the slot is full: rejected
    after = scrape(client)
    decided = "vaxbook_bookings_decided_total"
    assert value(after, decided, campaign="metrics-move", outcome="confirmed") == 1
    assert value(after, decided, campaign="metrics-move", outcome="rejected") == 1
    assert value(after, "vaxbook_bookings", campaign="metrics-move", status="pending") == 0
    assert value(after, "vaxbook_bookings", campaign="metrics-move", status="confirmed") == 1
    assert value(after, "vaxbook_bookings", campaign="metrics-move", status="rejected") == 1
    assert value(after, "vaxbook_bookings_requested_total", campaign="metrics-move") == 2
    # A confirmed booking cancelled since was still confirmed once: the counter does not fall.
    services.cancel_booking(first.pk)
    last = scrape(client)
    assert value(last, decided, campaign="metrics-move", outcome="confirmed") == 1
    assert value(last, "vaxbook_bookings", campaign="metrics-move", status="cancelled") == 1


def test_the_confirmation_lag_is_the_age_of_the_oldest_pending_booking(client):
    now = timezone.now()
    BookingFactory(requested_at=now - timedelta(seconds=90))
    decided = BookingFactory(requested_at=now - timedelta(seconds=30))
    services.confirm_booking(decided.pk)
    samples = scrape(client)
    assert 90 <= value(samples, "vaxbook_oldest_pending_booking_age_seconds") < 120
    assert 30 <= value(samples, "vaxbook_confirmation_lag_max_seconds") < 60
    assert 30 <= value(samples, "vaxbook_confirmation_lag_avg_seconds") < 60


def test_a_scrape_costs_three_queries_however_many_bookings_and_campaigns(
    client, django_assert_num_queries
):
    for n in range(3):
        campaign = CampaignFactory(slug=f"metrics-q{n}")
        for _ in range(n + 2):
            BookingFactory(slot=SlotFactory(campaign=campaign))
        campaign_services.configure_waiting_room(campaign, enabled=True, per_minute=60)
        waiting_room.config_for(campaign.slug)  # its configuration cached, as polls keep it
    # bookings by campaign and status; the oldest pending; the recent lag; the campaigns whose
    # waiting room is on
    with django_assert_num_queries(4):
        samples = scrape(client)
    assert value(samples, "vaxbook_bookings_requested_total", campaign="metrics-q2") == 4


def test_scrapes_within_the_cache_period_share_one_count(
    client, settings, django_assert_num_queries
):
    settings.VAXBOOK_METRICS_CACHE_SECONDS = 10
    campaign = CampaignFactory(slug="metrics-shared")
    BookingFactory(slot=SlotFactory(campaign=campaign))
    with django_assert_num_queries(4):
        first = scrape(client)
    BookingFactory(slot=SlotFactory(campaign=campaign))
    with django_assert_num_queries(1):  # the campaigns' waiting rooms only
        second = scrape(Client())  # another scraper (another web machine, the same Redis)
    assert value(first, "vaxbook_bookings_requested_total", campaign="metrics-shared") == 1
    assert value(second, "vaxbook_bookings_requested_total", campaign="metrics-shared") == 1


# The Celery queues and the waiting rooms


def test_the_queue_length_counts_messages_waiting_in_the_broker(client):
    app.control.purge()
    before = scrape(client)
    assert value(before, "vaxbook_celery_queue_length", queue="celery") == 0
    assert ("vaxbook_celery_queue_length", (("queue", "urgent"),)) in before
    try:
        with app.connection_for_write() as broker:
            for n in range(3):
                app.send_task("bookings.tasks.confirm_booking", (10**9 + n,), connection=broker)
            app.send_task(
                "bookings.tasks.confirm_booking", (10**9,), queue="urgent", connection=broker
            )
        after = scrape(client)
    finally:
        app.control.purge()
    assert value(after, "vaxbook_celery_queue_length", queue="celery") == 3
    assert value(after, "vaxbook_celery_queue_length", queue="urgent") == 1


def test_people_waiting_in_a_campaigns_waiting_room(client, settings):
    settings.VAXBOOK_QUEUE_DRAW_GRACE = 0
    opening = (timezone.now() + timedelta(hours=2)).replace(microsecond=0)
    campaign = CampaignFactory(
        slug="metrics-room", opens_at=opening, closes_at=opening + timedelta(days=1)
    )
    with time_machine.travel(opening - timedelta(hours=1), tick=False):
        campaign_services.configure_waiting_room(campaign, enabled=True, per_minute=60)
    with time_machine.travel(opening - timedelta(minutes=5), tick=False):
        for n in range(5):
            assert join(Client(REMOTE_ADDR=f"10.9.{n}.1"), campaign).status_code == 303
        assert value(scrape(client), "vaxbook_waiting_room_people", campaign="metrics-room") == 5
    with time_machine.travel(opening + timedelta(seconds=1), tick=False):
        campaign_services.run_draw(campaign.pk)
    # 60 a minute from the opening: three of the five have had their turn three seconds in.
    with time_machine.travel(opening + timedelta(seconds=3.5), tick=False):
        samples = scrape(client)
        # Someone arriving now queues behind the two still waiting.
        assert join(Client(REMOTE_ADDR="10.9.9.1"), campaign).status_code == 303
        later = scrape(client)
    assert value(samples, "vaxbook_waiting_room_people", campaign="metrics-room") == 2
    assert value(later, "vaxbook_waiting_room_people", campaign="metrics-room") == 3
    # Eight seconds in, all six have had their turn.
    with time_machine.travel(opening + timedelta(seconds=8.5), tick=False):
        assert value(scrape(client), "vaxbook_waiting_room_people", campaign="metrics-room") == 0


def test_the_text_names_only_vaxbook_metrics(client):
    response = client.get(reverse("metrics:metrics"), HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    names = set(re.findall(r"^# TYPE (\S+)", response.content.decode(), re.M))
    assert names and all(name.startswith("vaxbook_") for name in names)


def test_a_server_error_is_counted_as_5xx_of_its_view(settings):
    settings.ROOT_URLCONF = "vaxbook.metrics.tests.broken_urls"
    client = Client(raise_request_exception=False)
    before = scrape(client)
    assert client.get("/broken-for-metrics").status_code == 500
    after = scrape(client)
    labels = {"view": "broken", "method": "GET", "status": "5xx"}
    assert (
        value(after, "vaxbook_http_requests_total", **labels)
        - value(before, "vaxbook_http_requests_total", **labels)
        == 1
    )
