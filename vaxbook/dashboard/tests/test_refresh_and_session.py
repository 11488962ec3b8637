"""The dashboard's automatic refresh is not the official's activity: an unattended dashboard
tab lets the staff session end at its idle limit (found by a red-team pass; seen failing)."""

import time

import pytest
from django.test import Client
from django.urls import reverse

from campaigns.tests.factories import CampaignFactory
from clinics.tests.factories import UserFactory
from vaxbook.roles import OFFICIALS, ensure_roles

pytestmark = pytest.mark.django_db

REFRESH = {"HTTP_X_VAXBOOK_REFRESH": "1"}  # what the page's script sends


def _official_browser() -> Client:
    user = UserFactory(is_staff=True)
    user.groups.add(ensure_roles()[OFFICIALS])
    browser = Client()
    browser.force_login(user)
    return browser


def test_an_unattended_dashboard_lets_the_session_end(settings):
    settings.VAXBOOK_STAFF_SESSION_IDLE_SECONDS = 2
    campaign = CampaignFactory()
    browser = _official_browser()
    assert browser.get(reverse("dashboard:campaign", args=[campaign.pk])).status_code == 200
    for _ in range(4):  # the script's refreshes, nobody at the keyboard
        time.sleep(0.7)
        data = browser.get(reverse("dashboard:data", args=[campaign.pk]), **REFRESH)
        assert data.status_code in (200, 302)
    assert browser.get(reverse("dashboard:overview")).status_code == 302


def test_the_officials_own_clicks_keep_it_open(settings):
    settings.VAXBOOK_STAFF_SESSION_IDLE_SECONDS = 2
    campaign = CampaignFactory()
    browser = _official_browser()
    for _ in range(4):
        time.sleep(0.7)
        assert browser.get(reverse("dashboard:campaign", args=[campaign.pk])).status_code == 200
