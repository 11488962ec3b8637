"""Every journey in a real browser (Debian's Chromium through Playwright) at phone width, in
Korean and once in English, with axe-core (bundled by axe-playwright-python) run on every
citizen and staff page: no critical or serious violation.

Screenshots of each page land in ``test-artifacts/journeys/`` (not committed): look at them.
The tests find their way by form fields, ids, data attributes and links, never by wording, so a
change of translation cannot break them.
"""

import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar
from playwright import sync_api as playwright

from bookings.models import Booking
from campaigns.models import BookingWindow
from campaigns.tests.factories import CampaignFactory
from clinics.tests.factories import ClinicFactory, SlotFactory, StaffMembershipFactory
from vaxbook.roles import CLINIC_STAFF, ensure_roles
from vaxbook.tests.browser import check, chromium

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts" / "journeys"
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def browser():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with chromium() as launched:
        yield launched


def _page(browser, locale: str):
    context = browser.new_context(viewport=PHONE, locale=locale, is_mobile=True, has_touch=True)
    return context, context.new_page()


@pytest.fixture
def korean(browser):
    """A phone whose browser asks for Korean."""
    context, page = _page(browser, "ko-KR")
    yield page
    context.close()


@pytest.fixture
def english(browser):
    """A phone whose browser asks for English."""
    context, page = _page(browser, "en-US")
    yield page
    context.close()


def lang(page) -> str:
    return page.locator("html").get_attribute("lang")


@pytest.fixture
def opened(db):
    """An open campaign without waiting room, one clinic with two times tomorrow."""
    campaign = CampaignFactory(name="코로나19 예방접종 (55-59세)", vaccine__name="Moderna")
    clinic = ClinicFactory(
        name="종로구 보건소", region="서울", address="서울 종로구 자하문로19길 36"
    )
    day = timezone.localdate() + timedelta(days=1)
    morning = SlotFactory(campaign=campaign, clinic=clinic, date=day, capacity=5)
    return campaign, clinic, morning


def book(page, live_server, campaign, clinic, slot, *, rrn: str, name: str, prefix: str) -> None:
    """Through the three steps, checking each page; ends on the booking's status page."""
    page.goto(live_server.url + reverse("bookings:start", kwargs={"campaign": campaign.slug}))
    check(page, f"{prefix}-1-identify")

    # a mistake first: the errors are summarised at the top, and focus moves there
    page.fill("#id_name", name)
    page.fill("#id_rrn", "12345")
    page.fill("#id_phone", "010-2345-6789")
    page.click("main form button[type=submit]")
    summary = page.locator("#error-summary")
    playwright.expect(summary).to_be_visible()
    playwright.expect(summary).to_be_focused()
    assert summary.locator('a[href="#id_rrn"]').count() == 1
    check(page, f"{prefix}-2-identify-error")

    page.fill("#id_rrn", rrn)
    page.click("main form button[type=submit]")

    # region › clinic › day › time: each choice lands on the next list (a fragment), marked
    page.locator(f'#regions a[href*="{urlencode({"region": clinic.region})}"]').click()
    assert page.url.endswith("#clinics")
    playwright.expect(page.locator('#regions [aria-current="true"]')).to_have_count(1)
    page.locator(f'#clinics a[href*="clinic={clinic.code}"]').click()
    # a clinic opens on its first day with places, that day's times shown under its days
    assert page.url.endswith("#times")
    playwright.expect(page.locator('#days [aria-current="true"]')).to_have_count(1)
    page.locator(f'#days a[href*="date={slot.date:%Y-%m-%d}"]').click()
    assert page.url.endswith("#times")
    # the path taken, each step of it a way back
    assert page.locator("#choice-path a").count() >= 3
    check(page, f"{prefix}-3-choose")
    page.check(f'input[name=slot][value="{slot.pk}"]')
    page.click("form.card button[type=submit]")
    check(page, f"{prefix}-4-review")
    page.click("#book-this-time button[type=submit]")


def test_a_citizen_books_for_a_parent_in_korean_keeps_it_and_cancels_it(
    live_server, korean, opened, start_worker
):
    campaign, clinic, slot = opened
    page = korean
    page.goto(live_server.url + reverse("home"))
    assert lang(page) == "ko"
    check(page, "ko-0-home")

    start_worker()
    book(
        page, live_server, campaign, clinic, slot, rrn="620714-2234567", name="김순자", prefix="ko"
    )

    # pending, then confirmed: the page follows by itself (a script, no meta refresh)
    assert page.locator('meta[http-equiv="refresh"]').count() == 0
    confirmed = page.locator('#booking[data-status="confirmed"]')
    playwright.expect(confirmed).to_be_visible(timeout=45_000)
    booking = Booking.objects.get()
    playwright.expect(page.locator("#booking-code")).to_have_text(booking.code)
    assert "2234567" not in page.content()
    check(page, "ko-5-confirmed")

    # a calendar file to keep it: the time in Korea, the clinic, no personal data
    ics = page.locator("#calendar-link").get_attribute("href")
    response = page.request.get(live_server.url + ics)
    assert response.status == 200 and response.headers["content-type"].startswith("text/calendar")
    [event] = Calendar.from_ical(response.body()).walk("VEVENT")
    start = event.decoded("dtstart")
    assert (start.date(), start.hour, start.minute) == (
        slot.date,
        slot.start_time.hour,
        slot.start_time.minute,
    )
    assert start.utcoffset() == timedelta(hours=9)
    assert booking.code in str(event.get("description")) + str(event.get("summary"))
    assert "620714" not in response.text() and booking.name not in response.text()

    # cancel asks first, on its own page; going back keeps the booking
    page.click("#cancel-link")
    playwright.expect(page.locator("#cancel-booking")).to_be_visible()
    check(page, "ko-6-cancel-confirm")
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED
    page.click("#cancel-booking button[type=submit]")
    playwright.expect(page.locator('#booking[data-status="cancelled"]')).to_be_visible()
    check(page, "ko-7-cancelled")
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED


def test_an_english_speaker_switches_language_and_books(live_server, korean, opened, start_worker):
    campaign, clinic, slot = opened
    page = korean
    page.goto(live_server.url + reverse("home"))
    assert lang(page) == "ko"
    # the switch on the page, remembered from then on
    page.click('#language-switch button[value="en"]')
    page.wait_for_load_state()
    assert lang(page) == "en"
    check(page, "en-0-home")
    start_worker()
    book(
        page,
        live_server,
        campaign,
        clinic,
        slot,
        rrn="620714-1234567",
        name="Kim Minsu",
        prefix="en",
    )
    assert lang(page) == "en"
    playwright.expect(page.locator('#booking[data-status="confirmed"]')).to_be_visible(
        timeout=45_000
    )
    check(page, "en-5-confirmed")


def test_a_browser_asking_for_english_gets_english_pages(live_server, english, opened):
    campaign, _, _ = opened
    english.goto(live_server.url + reverse("bookings:start", kwargs={"campaign": campaign.slug}))
    assert lang(english) == "en"
    check(english, "en-1-identify")


def test_someone_finds_their_booking_again_in_korean(live_server, korean, opened):
    campaign, _, slot = opened
    page = korean
    page.goto(live_server.url + reverse("bookings:lookup"))
    check(page, "ko-8-lookup")
    from bookings import services
    from bookings.tests.factories import BookingFactory

    booking = services.confirm_booking(BookingFactory(slot=slot, rrn="620714-1234567").pk)
    page.fill("#id_code", booking.code)
    page.fill("#id_rrn", "620714-1234567")
    page.click("main form button[type=submit]")
    playwright.expect(page.locator('#booking[data-status="confirmed"]')).to_be_visible()
    check(page, "ko-9-found")


def test_staggered_windows_are_shown_before_the_queue(live_server, korean):
    now = timezone.now()
    campaign = CampaignFactory(opens_at=now - timedelta(hours=1), closes_at=now + timedelta(days=3))
    for digit, day in ((9, 0), (0, 1)):
        BookingWindow.objects.create(
            campaign=campaign,
            label=f"Ending in {digit}",
            birth_day_last_digit=digit,
            opens_at=now + timedelta(days=day, hours=-1),
            closes_at=now + timedelta(days=day, hours=3),
        )
    korean.goto(live_server.url + reverse("home"))
    windows = korean.locator(f'[data-campaign="{campaign.slug}"] [data-window]')
    playwright.expect(windows).to_have_count(2)
    check(korean, "ko-10-home-windows")


def test_clinic_staff_land_on_their_day_check_in_and_log_out(live_server, korean, opened):
    campaign, clinic, slot = opened
    from bookings import services
    from bookings.tests.factories import BookingFactory

    today = SlotFactory(campaign=campaign, clinic=clinic, date=timezone.localdate(), capacity=3)
    booking = services.confirm_booking(BookingFactory(slot=today).pk)
    ensure_roles()
    membership = StaffMembershipFactory(clinic=clinic, user__is_staff=True)
    membership.user.groups.add(Group.objects.get(name=CLINIC_STAFF))

    page = korean
    page.goto(live_server.url + reverse("admin-login"))
    check(page, "staff-1-login")
    page.fill("#id_username", membership.user.username)
    page.fill("#id_password", "correct horse battery")
    page.click("#login-form [type=submit]")
    day = reverse("clinics:day", kwargs={"code": clinic.code})
    page.wait_for_url(re.compile(re.escape(live_server.url + day)))
    check(page, "staff-2-day")

    row = page.locator(f'[data-code="{booking.code}"]')
    row.locator("form[data-action=check-in] button").click()
    playwright.expect(
        page.locator(f'[data-code="{booking.code}"][data-checked-in]')
    ).to_be_visible()
    booking.refresh_from_db()
    assert booking.checked_in_at is not None
    check(page, "staff-3-checked-in")
    # a mistake undone, the same day
    page.locator(f'[data-code="{booking.code}"] form[data-action=undo-check-in] button').click()
    playwright.expect(
        page.locator(f'[data-code="{booking.code}"]:not([data-checked-in])')
    ).to_be_visible()
    booking.refresh_from_db()
    assert booking.checked_in_at is None

    page.click("#logout button[type=submit]")
    page.goto(live_server.url + day)
    assert reverse("admin-login") in page.url


def test_the_pages_around_the_journeys_pass_too(live_server, korean, english):
    now = timezone.now()
    closed = CampaignFactory(opens_at=now - timedelta(days=8), closes_at=now - timedelta(days=1))
    for page, prefix in ((korean, "ko"), (english, "en")):
        response = page.goto(live_server.url + reverse("bookings:start", args=[closed.slug]))
        assert response.status == 403
        playwright.expect(page.locator('#window-closed[data-state="closed"]')).to_be_visible()
        check(page, f"{prefix}-11-window-closed")
        response = page.goto(live_server.url + "/nothing-here/")
        assert response.status == 404
        check(page, f"{prefix}-12-not-found")

    # staff of two clinics start at the list of their clinics; then set up a second factor
    ensure_roles()
    first = StaffMembershipFactory(user__is_staff=True)
    StaffMembershipFactory(user=first.user)
    first.user.groups.add(Group.objects.get(name=CLINIC_STAFF))
    korean.goto(live_server.url + reverse("admin-login"))
    korean.fill("#id_username", first.user.username)
    korean.fill("#id_password", "correct horse battery")
    korean.click("#login-form [type=submit]")
    korean.wait_for_url(live_server.url + reverse("clinics:staff-home"))
    assert korean.locator(f'a[href*="{first.clinic.code}"]').count() >= 1
    check(korean, "staff-4-home")
    korean.goto(live_server.url + reverse("second-factor-setup"))
    playwright.expect(korean.locator("#second-factor-key")).to_be_visible()
    check(korean, "staff-5-second-factor")
