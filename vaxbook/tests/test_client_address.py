"""The address the limits count against: behind our load balancer the client it saw, never
what a client wrote in X-Forwarded-For itself; an IPv6 subscriber's whole /64."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from campaigns import services
from campaigns.tests.factories import CampaignFactory
from campaigns.tests.queue import join

pytestmark = pytest.mark.django_db

BALANCER = "10.0.0.5"


@pytest.fixture
def one_place_per_address(settings):
    settings.VAXBOOK_THROTTLE_PER_ADDRESS = 1
    settings.VAXBOOK_TRUSTED_PROXIES = [BALANCER, "10.0.1.0/24"]
    opening = timezone.now() + timedelta(hours=1)
    campaign = CampaignFactory(opens_at=opening, closes_at=opening + timedelta(days=1))
    return services.configure_waiting_room(campaign, enabled=True, per_minute=60)


def _via_balancer(forwarded_for: str, peer: str = BALANCER) -> Client:
    return Client(REMOTE_ADDR=peer, HTTP_X_FORWARDED_FOR=forwarded_for)


def test_people_behind_the_balancer_are_counted_apart(one_place_per_address):
    campaign = one_place_per_address
    assert join(_via_balancer("203.0.113.1"), campaign).status_code == 303
    assert join(_via_balancer("203.0.113.2"), campaign).status_code == 303
    assert join(_via_balancer("203.0.113.1"), campaign).status_code == 429


def test_a_forged_forwarded_for_changes_nothing(one_place_per_address):
    campaign = one_place_per_address
    assert join(_via_balancer("203.0.113.1"), campaign).status_code == 303
    # the client wrote an address of its own; the balancer appended the one it saw
    assert join(_via_balancer("198.51.100.50, 203.0.113.1"), campaign).status_code == 429
    # and without our balancer in front, the header is not read at all
    direct = Client(REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="198.51.100.51")
    assert join(direct, campaign).status_code == 303
    again = Client(REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="198.51.100.52")
    assert join(again, campaign).status_code == 429


def test_a_chain_of_our_own_balancers_is_walked_and_garbage_is_not_believed(
    one_place_per_address,
):
    campaign = one_place_per_address
    chained = _via_balancer("203.0.113.7, 10.0.1.20")  # the client, then our inner balancer
    assert join(chained, campaign).status_code == 303
    assert join(_via_balancer("203.0.113.7"), campaign).status_code == 429
    # an unreadable entry: counted against the balancer itself, not against a made-up address
    assert join(_via_balancer("not-an-address"), campaign).status_code == 303
    assert join(_via_balancer("also; garbage"), campaign).status_code == 429


def test_an_ipv6_subscriber_is_one_address_for_its_whole_64(one_place_per_address):
    campaign = one_place_per_address
    assert join(Client(REMOTE_ADDR="2001:db8:1:2::1"), campaign).status_code == 303
    assert join(Client(REMOTE_ADDR="2001:db8:1:2:ffff::9"), campaign).status_code == 429
    assert join(Client(REMOTE_ADDR="2001:db8:1:3::1"), campaign).status_code == 303
