"""The number of database queries of each step on the hot path, pinned: a change that adds a
query per request shows up here, not on the night of the opening."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from bookings import services
from bookings.models import Booking
from bookings.tests.flow import token_of
from campaigns import services as campaign_services
from campaigns.tests.factories import CampaignFactory
from campaigns.tests.queue import join
from clinics.tests.factories import ClinicFactory, SlotFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def opened():
    campaign = CampaignFactory(opens_at=timezone.now() - timedelta(minutes=1))
    campaign = campaign_services.configure_waiting_room(campaign, enabled=True, per_minute=60_000)
    for _ in range(3):
        clinic = ClinicFactory(region="Seoul")
        for hour in (9, 10, 11):
            SlotFactory(campaign=campaign, clinic=clinic, start_time=f"{hour}:00")
    return campaign


def test_each_step_of_a_booking_costs_a_fixed_number_of_queries(opened, django_assert_num_queries):
    client = Client()
    start = reverse("bookings:start", kwargs={"campaign": opened.slug})
    join(client, opened)  # ticket and pass; warms the cached configuration
    with django_assert_num_queries(0):
        client.get(reverse("campaigns:queue-status", kwargs={"campaign": opened.slug}))
    # The guard's campaign (row + vaccine, its windows) is read once per process and
    # configuration generation (campaigns.waiting_room.campaign_for), then held.
    with django_assert_num_queries(2):  # campaign + its windows, the first time in this process
        assert client.get(start).status_code == 200
    with django_assert_num_queries(0):  # held from then on
        assert client.get(start).status_code == 200
    # + is this person on the pass already; binding them to it under the pass's lock (a
    # savepoint, the pass's row, its holders, the new holder); already booked?
    with django_assert_num_queries(8):
        response = client.post(
            start, {"name": "Kim", "rrn": "620714-1234567", "phone": "01012345678"}
        )
    choose = response["Location"]
    # The region, clinic and day lists are cached for a few seconds (clinics.selectors): the
    # first person pays for them, everyone after reads them from the cache.
    with django_assert_num_queries(1):  # regions with places
        client.get(choose)
    with django_assert_num_queries(1):  # clinics of the region
        page = client.get(choose + "&region=Seoul").content.decode()
    with django_assert_num_queries(0):  # both lists now cached
        client.get(choose + "&region=Seoul")
    clinic = re.findall(r"clinic=([\w-]+)", page)[0]
    # A clinic opens on its first day with places, with that day's times: the request that
    # chose the day (4 queries) is no longer needed, so a booking makes one request and four
    # queries fewer in all, though this page makes one more than it did.
    with django_assert_num_queries(3):  # the clinic, its days, the first day's times
        page = client.get(f"{choose}&clinic={clinic}").content.decode()
    day = re.findall(r'name="date" value="(\d{4}-\d{2}-\d{2})"', page)[0]
    with django_assert_num_queries(2):  # another day: the clinic, the day's times (never cached)
        page = client.get(f"{choose}&clinic={clinic}&date={day}").content.decode()
    slot = re.findall(r'name="slot" value="(\d+)"', page)[0]
    with django_assert_num_queries(2):  # the clinic, the slot
        response = client.post(
            choose, {"t": token_of(choose), "clinic": clinic, "date": day, "slot": slot}
        )
    review = response["Location"]
    with django_assert_num_queries(1):
        client.get(review)
    # the checks (the person is on the pass already; the service re-reads the slot), one insert
    with django_assert_num_queries(7):
        response = client.post(review, {"t": token_of(review)})
    assert Booking.objects.count() == 1
    with django_assert_num_queries(1):
        client.get(response["Location"])
    # confirmed, seen by the session that made it (cancel and move offered): still one
    services.confirm_booking(Booking.objects.get().pk)
    with django_assert_num_queries(1):
        page = client.get(response["Location"]).content.decode()
    assert 'id="move-link"' in page and 'id="cancel-link"' in page
