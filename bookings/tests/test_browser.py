"""In a real browser (Debian's Chromium, driven by Playwright) against a live server, with a
real Celery worker: the waiting room, the booking path, and the back door that stays shut.

Screenshots of every page land in ``test-artifacts/browser/`` (not committed).
"""

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation
from playwright import sync_api as playwright  # noqa: E402

from bookings.models import Booking
from campaigns import services, waiting_room
from campaigns.models import BookingWindow
from campaigns.tests.factories import CampaignFactory
from campaigns.windows import describe, format_kst, windows_of
from clinics.tests.factories import ClinicFactory, SlotFactory
from vaxbook.tests.browser import check, chromium

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts" / "browser"
FORM_FIELDS = "input[name=rrn], input[name=slot], input[name=name]"


@pytest.fixture(scope="module")
def browser():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 420, "height": 900}, locale="ko-KR")
    yield context.new_page()
    context.close()


@pytest.fixture(autouse=True)
def _quick_queue(settings):
    settings.VAXBOOK_QUEUE_DRAW_GRACE = 1
    settings.VAXBOOK_QUEUE_POLL_SECONDS = 1
    # A real proof of work, solved by the page's script in Chromium's WebCrypto: 256 tries of
    # 1,000 PBKDF2 iterations on average (the production default is 5,000).
    settings.VAXBOOK_QUEUE_POW_COST = 1000


def shot(page, name: str) -> None:
    """A screenshot in test-artifacts/browser/, and the page checked with axe-core."""
    check(page, name, folder="browser")


def in_the_queue(page, campaign) -> bool:
    return urlparse(page.url).path == reverse("campaigns:queue", kwargs={"campaign": campaign.slug})


def test_a_citizen_waits_for_the_opening_is_admitted_and_books_for_a_parent(
    live_server, page, start_worker
):
    opening = timezone.now() + timedelta(seconds=10)
    campaign = CampaignFactory(
        name="Cohort 55-59", opens_at=opening, closes_at=opening + timedelta(hours=2)
    )
    services.configure_waiting_room(campaign, enabled=True, per_minute=6000)
    clinic = ClinicFactory(name="Jongno-gu Health Center", region="Seoul")
    slot = SlotFactory(campaign=campaign, clinic=clinic, capacity=5)
    start_worker(VAXBOOK_QUEUE_DRAW_GRACE="1")

    start = live_server.url + reverse("bookings:start", kwargs={"campaign": campaign.slug})
    page.goto(start)
    assert in_the_queue(page, campaign)
    # The page solves the proof of work by itself and takes a place: the waiting card.
    playwright.expect(page.locator("[data-show=before_opening]")).to_be_visible(timeout=20_000)
    assert page.context.cookies() and any(
        c["name"] == waiting_room.ticket_cookie(campaign.slug) for c in page.context.cookies()
    )
    assert page.locator(FORM_FIELDS).count() == 0
    shot(page, "1-1-before-opening")

    # The page polls by itself: drawn at the opening, admitted, then on to step 1.
    page.wait_for_url(start, timeout=45_000)
    assert timezone.now() >= opening
    shot(page, "1-2-identify")
    page.fill("#id_name", "김순자")
    page.fill("#id_rrn", "620714-2234567")
    page.fill("#id_phone", "010-2345-6789")
    page.click("main form button[type=submit]")

    # region, clinic, day: the links that choose them
    page.click('a[href*="region=Seoul"]')
    page.click(f'a[href*="clinic={clinic.code}"]')
    page.click(f'a[href*="clinic={clinic.code}&date={slot.date:%Y-%m-%d}"]')
    shot(page, "1-3-choose")
    page.check(f'input[name=slot][value="{slot.pk}"]')
    page.click("form.card button[type=submit]")
    playwright.expect(page.get_by_text("620714-2******")).to_be_visible()
    shot(page, "1-4-review")
    page.click("#book-this-time button[type=submit]")

    # the status page updates by itself until the worker has confirmed
    confirmed = page.locator('#booking[data-status="confirmed"]')
    playwright.expect(confirmed).to_be_visible(timeout=45_000)
    booking = Booking.objects.get()
    assert booking.status == Booking.Status.CONFIRMED and booking.admission_pass
    playwright.expect(page.locator("#booking-code")).to_have_text(booking.code)
    assert "2234567" not in page.content()
    shot(page, "1-5-confirmed")


def test_a_direct_link_to_step_two_never_shows_a_form(live_server, page):
    scheduled = CampaignFactory(opens_at=timezone.now() + timedelta(hours=1))
    services.configure_waiting_room(scheduled, enabled=True, per_minute=60)
    step_two = reverse("bookings:choose", kwargs={"campaign": scheduled.slug}) + "?t=copied"

    page.goto(live_server.url + step_two)  # pasted before the opening
    assert in_the_queue(page, scheduled)
    playwright.expect(page.locator("[data-show=before_opening]")).to_be_visible(timeout=20_000)
    assert page.locator(FORM_FIELDS).count() == 0
    shot(page, "2-1-deep-link-before-opening")

    running = CampaignFactory(opens_at=timezone.now() - timedelta(minutes=5))
    services.configure_waiting_room(running, enabled=True, per_minute=1)
    config = waiting_room.config_for(running.slug)
    for _ in range(5):  # people already waiting
        now = timezone.now().timestamp()
        waiting_room.issue_ticket(config, arrived=now, now=now)
    step_two = reverse("bookings:choose", kwargs={"campaign": running.slug}) + "?t=copied"
    page.goto(live_server.url + step_two)  # after the opening, without a pass
    assert in_the_queue(page, running)
    playwright.expect(page.locator("#queue-position")).to_have_text("6", timeout=20_000)
    assert page.locator(FORM_FIELDS).count() == 0
    shot(page, "2-2-deep-link-without-pass")

    closed = CampaignFactory(
        opens_at=timezone.now() - timedelta(days=8), closes_at=timezone.now() - timedelta(days=1)
    )
    response = page.goto(
        live_server.url + reverse("bookings:choose", kwargs={"campaign": closed.slug})
    )
    assert response.status == 403
    playwright.expect(page.locator('#window-closed[data-state="closed"]')).to_be_visible()
    assert page.locator(FORM_FIELDS).count() == 0
    shot(page, "2-3-deep-link-after-close")
    assert Booking.objects.count() == 0


def test_a_person_whose_staggered_window_is_tomorrow_is_told_so(live_server, page):
    now = timezone.now()
    campaign = CampaignFactory(opens_at=now - timedelta(hours=1), closes_at=now + timedelta(days=3))
    BookingWindow.objects.create(
        campaign=campaign,
        label="Ending in 9",
        birth_day_last_digit=9,
        opens_at=now - timedelta(hours=1),
        closes_at=now + timedelta(hours=3),
    )
    tomorrow = BookingWindow.objects.create(
        campaign=campaign,
        label="Ending in 0",
        birth_day_last_digit=0,
        opens_at=now + timedelta(days=1),
        closes_at=now + timedelta(days=1, hours=3),
    )
    page.goto(live_server.url + reverse("bookings:start", kwargs={"campaign": campaign.slug}))
    page.fill("#id_name", "Park Younghee")
    page.fill("#id_rrn", "6207102234567")
    page.fill("#id_phone", "01034567890")
    page.click("main form button[type=submit]")
    # refused: the window is not open for this person; which one is theirs, and when it opens
    playwright.expect(page.locator('form[data-refusal="window_closed"]')).to_be_visible()
    [theirs] = [w for w in windows_of(campaign) if w.opens_at == tomorrow.opens_at]
    refusal = page.locator(".errorlist.nonfield")
    with translation.override(page.locator("html").get_attribute("lang")):
        playwright.expect(refusal).to_contain_text(describe(theirs))
        playwright.expect(refusal).to_contain_text(format_kst(tomorrow.opens_at))
    assert page.locator("input[name=slot]").count() == 0
    shot(page, "3-1-window-tomorrow")
    assert Booking.objects.count() == 0
