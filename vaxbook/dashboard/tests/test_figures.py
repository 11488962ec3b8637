"""The dashboard's JSON and CSV: numbers equal to the database's, fresh within the cache's
lifetime, in a fixed number of queries however many bookings there are."""

import csv
import io
from datetime import date, timedelta

import pytest
import time_machine
from django.db.models import Sum
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from bookings import services
from bookings.models import Booking
from bookings.tests.factories import BookingFactory
from campaigns import waiting_room
from campaigns.models import BookingWindow
from campaigns.tests.factories import CampaignFactory
from clinics.models import Slot
from clinics.tests.factories import ClinicFactory, SlotFactory
from vaxbook.dashboard import figures

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign():
    return CampaignFactory()


def _slots(campaign, *, regions=("Seoul", "Busan"), capacity=3):
    day = timezone.localdate() + timedelta(days=2)
    return [
        SlotFactory(
            campaign=campaign,
            clinic=ClinicFactory(region=region),
            date=day + timedelta(d),
            capacity=capacity,
        )
        for region in regions
        for d in range(2)
    ]


def _book(slot, count: int, *, confirm: bool = True) -> list[Booking]:
    made = [BookingFactory(slot=slot) for _ in range(count)]
    if confirm:
        for booking in made:
            services.confirm_booking(booking.pk)
    return made


def _data(client: Client, campaign) -> dict:
    response = client.get(reverse("dashboard:data", args=[campaign.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    return response.json()


def test_the_json_numbers_are_the_databases(official, campaign):
    seoul_1, seoul_2, busan_1, _ = _slots(campaign)
    _book(seoul_1, 4)  # capacity 3: one rejected, slot full
    _book(busan_1, 2)
    _book(seoul_2, 2, confirm=False)  # pending
    data = _data(official, campaign)

    bookings = Booking.objects.filter(campaign=campaign, first_dose__isnull=True)
    assert data["counting"] == {"bookings": "first_doses", "places": "all_doses"}
    for status in Booking.Status:
        assert data["bookings"][status.value] == bookings.filter(status=status).count()
    assert (data["bookings"]["confirmed"], data["bookings"]["pending"]) == (5, 2)
    oldest = bookings.filter(status="pending").order_by("requested_at").first().requested_at
    assert data["bookings"]["oldest_pending_at"] == oldest.isoformat()
    assert sum(data["series"]["confirmed"]) == 5
    assert sum(data["series"]["rejected"]) == 1
    assert len(data["series"]["minutes"]) == figures.SERIES_HOURS * 60
    reasons = {r["reason"]: r["count"] for r in data["rejections"]}
    assert reasons == {reason.value: 0 for reason in Booking.RejectReason} | {"slot_full": 1}

    slots = Slot.objects.filter(campaign=campaign)
    for row in data["fill"]["by_region"]:
        mine = slots.filter(clinic__region=row["region"]).aggregate(
            o=Sum("capacity"), b=Sum("booked")
        )
        assert (row["offered"], row["booked"]) == (mine["o"], mine["b"])
    for row in data["fill"]["by_day"]:
        mine = slots.filter(date=date.fromisoformat(row["date"])).aggregate(
            o=Sum("capacity"), b=Sum("booked")
        )
        assert (row["offered"], row["booked"]) == (mine["o"], mine["b"])
    assert data["fill"]["total"] == {"offered": 12, "booked": 5, "free": 7, "fill_percent": 41.7}
    # the fullest region × day first: the Seoul slot that filled up
    first = data["fill"]["running_out"][0]
    assert (first["region"], first["date"], first["free"]) == ("Seoul", seoul_1.date.isoformat(), 0)
    assert data["campaign"]["state"] == "open"
    assert data["windows"][0]["confirmed"] == 5 and data["windows"][0]["pending"] == 2


def test_new_bookings_appear_once_the_cache_has_aged(official, campaign):
    slot = _slots(campaign)[0]
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        assert _data(official, campaign)["bookings"]["confirmed"] == 0
        _book(slot, 2)
        # within its lifetime every official shares the same computation
        assert _data(official, campaign)["bookings"]["confirmed"] == 0
        traveller.shift(timedelta(seconds=figures.CACHE_SECONDS))
        data = _data(official, campaign)
    assert data["bookings"]["confirmed"] == 2 == slot.bookings.filter(status="confirmed").count()


def test_the_query_count_does_not_grow_with_the_bookings(
    campaign, django_assert_num_queries, django_assert_max_num_queries
):
    slots = _slots(campaign)
    # a window for everyone (the people the factory makes are born on any day)
    BookingWindow.objects.create(
        campaign=campaign, opens_at=campaign.opens_at, closes_at=campaign.closes_at
    )
    with django_assert_num_queries(figures.FIGURES_QUERIES):
        figures.campaign_figures(campaign.pk)
    for slot in slots:
        _book(slot, 3)
    _book(slots[0], 20, confirm=False)
    figures.cache.clear()
    with django_assert_num_queries(figures.FIGURES_QUERIES):
        data = figures.campaign_figures(campaign.pk)
    assert data["bookings"]["confirmed"] == 12
    # cached: no query at all
    with django_assert_num_queries(0):
        figures.campaign_figures(campaign.pk)


def test_a_window_counts_the_people_it_is_for(official):
    now = timezone.now()
    campaign = CampaignFactory(opens_at=now - timedelta(hours=1))
    BookingWindow.objects.create(
        campaign=campaign,
        opens_at=now - timedelta(hours=1),
        closes_at=now + timedelta(days=1),
        birth_day_last_digit=1,
    )
    BookingWindow.objects.create(
        campaign=campaign,
        opens_at=now + timedelta(days=1),
        closes_at=now + timedelta(days=2),
        birth_day_last_digit=2,
    )
    slot = SlotFactory(campaign=campaign, capacity=10)
    # 620101 and 620111: birth days ending in 1; 620102: ending in 2 (not open: stays pending)
    for rrn in ("620101-1234567", "620111-1234567"):
        services.confirm_booking(BookingFactory(slot=slot, rrn=rrn).pk)
    BookingFactory(slot=slot, rrn="620102-1234567")
    windows = _data(official, campaign)["windows"]
    assert [(w["state"], w["confirmed"], w["pending"]) for w in windows] == [
        ("open", 2, 0),
        ("scheduled", 0, 1),
    ]


def test_the_waiting_room_figures_come_from_the_queue(official):
    now = timezone.now()
    campaign = CampaignFactory(
        opens_at=now + timedelta(minutes=10),
        waiting_room_enabled=True,
        admission_rate_per_minute=60,
    )
    campaign.waiting_room_epoch = now - timedelta(minutes=5)
    campaign.save()
    config = waiting_room.build_config(campaign)
    for _ in range(3):
        waiting_room.issue_ticket(config, arrived=now.timestamp(), now=now.timestamp())
    room = _data(official, campaign)["waiting_room"]
    assert (room["enabled"], room["people_waiting"], room["admitted"]) == (True, 3, 0)
    assert room["rate_per_minute"] == 60
    assert room["draws"] == [
        {
            "opening": waiting_room.as_datetime(config.opens_at).isoformat(),
            "done": False,
            "tickets": None,
        }
    ]
    # the last of three, at 60 a minute from the opening in 10 minutes: about 10 min 3 s
    assert 600 < room["lines"][0]["last_wait_seconds"] <= 604


def test_the_series_exports_as_csv(official, campaign):
    _book(_slots(campaign)[0], 2)
    response = official.get(reverse("dashboard:series", args=[campaign.pk]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["minute", "confirmed", "rejected", "admission_rate"]
    assert len(rows) == 1 + figures.SERIES_HOURS * 60
    assert sum(int(row[1]) for row in rows[1:]) == 2


def test_the_pages_show_and_an_unknown_campaign_is_404(official, campaign):
    _book(_slots(campaign)[0], 1)
    overview = official.get(reverse("dashboard:overview"))
    assert overview.status_code == 200
    assert [row["figures"]["confirmed"] for row in overview.context["rows"]] == [1]
    page = official.get(reverse("dashboard:campaign", args=[campaign.pk]))
    assert page.status_code == 200
    assert page.context["figures"]["bookings"]["confirmed"] == 1
    assert official.get(reverse("dashboard:data", args=[campaign.pk + 999])).status_code == 404


def test_the_admin_links_to_the_dashboard(official, campaign):
    index = official.get(reverse("admin:index"))
    assert reverse("dashboard:overview").encode() in index.content
    change = official.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk]))
    assert reverse("dashboard:campaign", args=[campaign.pk]).encode() in change.content


def test_admissions_equal_what_the_queue_tells_each_ticket(official):
    now = timezone.now()
    campaign = CampaignFactory(
        opens_at=now - timedelta(minutes=10),
        waiting_room_enabled=True,
        admission_rate_per_minute=6,
    )
    campaign.waiting_room_epoch = now - timedelta(minutes=1)  # after the opening: no draw
    campaign.save()
    config = waiting_room.build_config(campaign)
    with time_machine.travel(now, tick=False) as traveller:
        tickets = [
            waiting_room.issue_ticket(config, arrived=now.timestamp(), now=now.timestamp())
            for _ in range(5)
        ]

        def admitted_by_the_queue() -> int:
            moment = timezone.now().timestamp()
            states = [waiting_room.queue_status(config, t, now=moment).state for t in tickets]
            return states.count("admitted")

        # each step is past the cache's lifetime: the figures are computed again
        seen = []
        for seconds in (0, 20, 60):
            traveller.move_to(now + timedelta(seconds=seconds))
            room = _data(official, campaign)["waiting_room"]
            assert room["admitted"] == admitted_by_the_queue()
            assert room["people_waiting"] == 5 - room["admitted"]
            seen.append(room["admitted"])
        assert seen == [1, 3, 5]
        traveller.move_to(now)  # back in time: the cached copy is from the future, not used
        room = _data(official, campaign)["waiting_room"]
        # the line had run empty: the first is let in at once, then one every 10 seconds
        assert (room["admitted"], room["people_waiting"]) == (1, 4)
        assert room["lines"][0]["last_wait_seconds"] == 40
