"""Bookings confirmed, then rejected because their clinic closed the day: the officials' series
keeps each confirmation in its minute, and the operators' confirmed counter never falls (a
falling Prometheus counter reads as a reset). Found by a red-team pass; seen failing."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from bookings import services
from bookings.tests.factories import BookingFactory
from campaigns.models import Campaign
from campaigns.tests.factories import CampaignFactory
from clinics.tests.factories import SlotFactory, UserFactory
from vaxbook.dashboard import figures
from vaxbook.metrics.tests.scrape import TOKEN, scrape, value

pytestmark = pytest.mark.django_db


def _three_confirmed_then_closed(*, confirmed_at, closed_at) -> Campaign:
    campaign = CampaignFactory(slug="closed-day")
    slot = SlotFactory(campaign=campaign, date=timezone.localdate() + timedelta(days=2))
    with time_machine.travel(confirmed_at, tick=False):
        for booking in BookingFactory.create_batch(3, slot=slot):
            services.confirm_booking(booking.pk)
    with time_machine.travel(closed_at, tick=False):
        services.close_clinic_day(slot.clinic, slot.date, reason="flood", actor=UserFactory())
    return campaign


def test_the_series_keeps_each_confirmation_in_its_minute():
    confirmed_at = timezone.now().replace(second=10, microsecond=0) - timedelta(minutes=30)
    closed_at = confirmed_at + timedelta(minutes=20)
    campaign = _three_confirmed_then_closed(confirmed_at=confirmed_at, closed_at=closed_at)
    series = figures.compute_figures(Campaign.objects.get(pk=campaign.pk), now=timezone.now())[
        "series"
    ]
    confirmed = dict(zip(series["minutes"], series["confirmed"], strict=True))
    rejected = dict(zip(series["minutes"], series["rejected"], strict=True))
    at_confirmation = confirmed_at.replace(second=0).isoformat()
    at_closure = closed_at.replace(second=0).isoformat()
    assert confirmed[at_confirmation] == 3
    assert (confirmed[at_closure], rejected[at_closure]) == (0, 0)


def test_the_confirmed_counter_does_not_fall_when_a_day_closes(client, settings):
    settings.VAXBOOK_METRICS_TOKEN = TOKEN
    settings.VAXBOOK_METRICS_CACHE_SECONDS = 0
    now = timezone.now()
    _three_confirmed_then_closed(confirmed_at=now, closed_at=now + timedelta(seconds=1))
    counted = value(
        scrape(client), "vaxbook_bookings_decided_total", campaign="closed-day", outcome="confirmed"
    )
    assert counted == 3
