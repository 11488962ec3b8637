"""The campaign's page in the admin, in a real browser (Debian's Chromium through Playwright):
it fits an official's 1280 px screen, in Korean and in English, with staggered windows."""

from datetime import date, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from playwright import sync_api as playwright

from campaigns.models import BookingWindow
from campaigns.tests.admin_forms import campaign_page
from campaigns.tests.factories import CampaignFactory
from vaxbook.tests.browser import chromium

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts" / "campaigns"
SCREEN = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def browser():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with chromium() as launched:
        yield launched


@pytest.mark.parametrize("locale", ["ko-KR", "en-US"])
def test_the_campaign_page_with_staggered_windows_fits_a_1280_px_screen(
    live_server, browser, admin_user, locale
):
    now = timezone.now()
    campaign = CampaignFactory(opens_at=now - timedelta(hours=1), closes_at=now + timedelta(days=9))
    for digit in range(4):
        BookingWindow.objects.create(
            campaign=campaign,
            label=f"Birth days ending in {digit}, first round of the rotation",
            birth_day_last_digit=digit,
            born_from=date(1962, 1, 1),
            born_to=date(1966, 12, 31),
            opens_at=now + timedelta(days=digit),
            closes_at=now + timedelta(days=digit, hours=10),
        )
    official = Client()
    official.force_login(admin_user)
    context = browser.new_context(viewport=SCREEN, locale=locale)
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": official.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    page = context.new_page()
    page.goto(live_server.url + campaign_page(campaign))
    playwright.expect(page.locator("#windows-group tr.has_original")).to_have_count(4)
    page.screenshot(path=str(ARTIFACTS / f"campaign-change-{locale}.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= SCREEN["width"]
    context.close()
