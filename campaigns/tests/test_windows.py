from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import translation

from campaigns.tests.factories import CampaignFactory
from campaigns.windows import WindowState, format_kst, window_state

pytestmark = pytest.mark.django_db


def test_window_is_open_from_opening_inclusive_to_closing_exclusive():
    campaign = CampaignFactory()
    second = timedelta(seconds=1)
    assert window_state(campaign, now=campaign.opens_at - second) is WindowState.SCHEDULED
    assert window_state(campaign, now=campaign.opens_at) is WindowState.OPEN
    assert window_state(campaign, now=campaign.closes_at - second) is WindowState.OPEN
    assert window_state(campaign, now=campaign.closes_at) is WindowState.CLOSED


def test_times_are_shown_in_korea_time():
    from datetime import datetime
    from zoneinfo import ZoneInfo

    opening = datetime(2021, 7, 14, 11, 0, tzinfo=ZoneInfo("UTC"))
    for language in ("ko", "en"):
        with translation.override(language):
            shown = format_kst(opening)
        # 11:00 UTC is 20:00 in Korea, on the same day, and says so
        assert "20:00" in shown and "11:00" not in shown and shown.endswith("KST")
        assert "2021" in shown and "14" in shown


def test_before_opening_the_form_is_refused_with_the_opening_time_in_kst(client):
    campaign = CampaignFactory()
    with time_machine.travel(campaign.opens_at - timedelta(seconds=1), tick=False):
        response = client.get(reverse("bookings:start", kwargs={"campaign": campaign.slug}))
    assert response.status_code == 403
    body = response.content.decode()
    assert 'id="window-closed" data-state="scheduled"' in body
    assert response.context["opens_at_kst"] == format_kst(campaign.opens_at)
    assert format_kst(campaign.opens_at) in body
    assert 'name="rrn"' not in body  # no booking form (the language switch is a form)


def test_after_closing_the_form_is_refused_as_closed(client):
    campaign = CampaignFactory()
    with time_machine.travel(campaign.closes_at + timedelta(seconds=1), tick=False):
        response = client.get(reverse("bookings:start", kwargs={"campaign": campaign.slug}))
    assert response.status_code == 403
    assert 'id="window-closed" data-state="closed"' in response.content.decode()
    assert 'name="rrn"' not in response.content.decode()  # no booking form


def test_staff_are_not_exempt(admin_client):
    campaign = CampaignFactory()
    with time_machine.travel(campaign.opens_at - timedelta(minutes=60), tick=False):
        response = admin_client.get(reverse("bookings:start", kwargs={"campaign": campaign.slug}))
    assert response.status_code == 403


def test_inside_the_window_the_form_is_shown(client):
    campaign = CampaignFactory()
    response = client.get(reverse("bookings:start", kwargs={"campaign": campaign.slug}))
    assert response.status_code == 200
    assert 'name="rrn"' in response.content.decode()


def test_unknown_campaign_is_404_not_500(client):
    response = client.get(reverse("bookings:start", kwargs={"campaign": "no-such-campaign"}))
    assert response.status_code == 404
