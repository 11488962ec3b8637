"""Fixtures of the waiting-room tests: a campaign opening in two hours, its room on at 60 a
minute since an hour before; and (asked for by those modules) its draw run right at the
opening, without the grace."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from campaigns import services
from campaigns.tests.factories import CampaignFactory


@pytest.fixture
def draw_at_the_opening_instant(settings):
    settings.VAXBOOK_QUEUE_DRAW_GRACE = 0


@pytest.fixture
def opening():
    return (timezone.now() + timedelta(hours=2)).replace(microsecond=0)


@pytest.fixture
def campaign(opening):
    campaign = CampaignFactory(opens_at=opening, closes_at=opening + timedelta(days=3))
    with time_machine.travel(opening - timedelta(hours=1), tick=False):
        return services.configure_waiting_room(campaign, enabled=True, per_minute=60)
