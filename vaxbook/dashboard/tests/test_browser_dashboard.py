"""The officials' dashboard in a real browser (Debian's Chromium through Playwright): the
charts are drawn from the JSON, the tables filled, no critical or serious axe finding, and a
screenshot kept in test-artifacts/dashboard/."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from playwright import sync_api as playwright

from bookings import services
from bookings.tests.factories import BookingFactory
from campaigns.tests.factories import CampaignFactory
from clinics.tests.factories import ClinicFactory, SlotFactory, UserFactory
from vaxbook.dashboard import figures
from vaxbook.roles import OFFICIALS, ensure_roles
from vaxbook.tests.browser import check, chromium

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREEN = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


@pytest.fixture
def campaign_with_bookings():
    now = timezone.now()
    campaign = CampaignFactory(
        opens_at=now - timedelta(hours=1),
        waiting_room_enabled=True,
        admission_rate_per_minute=120,
    )
    campaign.waiting_room_epoch = now - timedelta(hours=2)
    campaign.save()
    day = timezone.localdate() + timedelta(days=2)
    for region, capacity, booked in (("Seoul", 4, 5), ("Busan", 10, 3)):
        slot = SlotFactory(
            campaign=campaign, clinic=ClinicFactory(region=region), date=day, capacity=capacity
        )
        for _ in range(booked):
            services.confirm_booking(BookingFactory(slot=slot).pk)
    BookingFactory(slot=slot)  # one pending
    return campaign


def _official_page(browser, live_server, locale: str):
    user = UserFactory(is_staff=True)
    user.groups.add(ensure_roles()[OFFICIALS])
    official = Client()
    official.force_login(user)
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
    return context, context.new_page()


@pytest.mark.parametrize("locale", ["ko-KR", "en-US"])
def test_the_dashboard_draws_its_charts_and_tables(
    live_server, browser, campaign_with_bookings, locale
):
    campaign = campaign_with_bookings
    context, page = _official_page(browser, live_server, locale)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("response", lambda r: errors.append(r.url) if r.status >= 400 else None)

    page.goto(live_server.url + reverse("dashboard:overview"))
    row = page.locator(f'#campaigns tr[data-campaign="{campaign.pk}"]')
    playwright.expect(row.locator("td.confirmed")).to_have_text("7")
    check(page, f"overview-{locale}", folder="dashboard")

    row.locator("a").click()
    root = page.locator(".dashboard[data-drawn]")
    playwright.expect(root).to_have_count(1)  # the script fetched the JSON and drew
    # every chart is a canvas drawn by uPlot
    for chart in ("minutes", "rejections", "regions", "days", "rate"):
        playwright.expect(page.locator(f"#chart-{chart} canvas")).to_have_count(1)
    playwright.expect(page.locator("#table-minutes tbody tr")).to_have_count(15)
    playwright.expect(
        page.locator('#table-rejections tr[data-reason="slot_full"] td')
    ).to_have_text("1")
    playwright.expect(page.locator("[data-field='bookings.confirmed']")).to_have_text("7")
    playwright.expect(page.locator("[data-field='bookings.pending']")).to_have_text("1")
    check(page, f"campaign-{locale}", folder="dashboard")
    assert errors == []
    context.close()


def test_a_booking_made_while_the_page_is_open_appears_within_its_refresh(
    live_server, browser, campaign_with_bookings
):
    campaign = campaign_with_bookings
    context, page = _official_page(browser, live_server, "ko-KR")
    page.goto(live_server.url + reverse("dashboard:campaign", args=[campaign.pk]))
    confirmed = page.locator("#headline [data-field='bookings.confirmed']")
    playwright.expect(page.locator(".dashboard[data-drawn]")).to_have_count(1)
    playwright.expect(confirmed).to_have_text("7")
    slot = campaign.slots.get(clinic__region="Busan")
    services.confirm_booking(BookingFactory(slot=slot).pk)
    # the cache's lifetime, then the page's next fetch: two refreshes at most
    wait = 2 * figures.CACHE_SECONDS * 1000 + 2000
    playwright.expect(confirmed).to_have_text("8", timeout=wait)
    playwright.expect(page.locator('#table-regions tr[data-region="Busan"] td').first).to_have_text(
        "4", timeout=wait
    )
    context.close()
