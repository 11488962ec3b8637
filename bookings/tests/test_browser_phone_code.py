"""The verified phone and "text me my booking code" in a real browser at phone width, in Korean
and in English: the code step (a wrong code summarised and focused, then the code texted), and
the lookup page's second form; axe-core on every page (``vaxbook.tests.browser.check``),
nothing wider than the phone. Screenshots in ``test-artifacts/phone-code/``."""

import re

import pytest
from django.urls import reverse
from playwright import sync_api as playwright

from bookings import services
from bookings.tests.factories import BookingFactory
from campaigns.tests.factories import CampaignFactory
from clinics.tests.factories import SlotFactory
from vaxbook.notifications.models import Notification
from vaxbook.tests.browser import check, chromium

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
FOLDER = "phone-code"
LOCALES = [("ko-KR", "ko"), ("en-US", "en")]


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


@pytest.fixture
def phone_page(browser, request):
    locale = request.param
    context = browser.new_context(viewport=PHONE, locale=locale, is_mobile=True, has_touch=True)
    yield context.new_page()
    context.close()


def _texted_code() -> str:
    text = Notification.objects.filter(kind=Notification.Kind.PHONE_CODE).latest("pk").text
    return re.search(r"\b\d{6}\b", text).group()


@pytest.mark.parametrize(("phone_page", "prefix"), LOCALES, indirect=["phone_page"])
def test_the_code_step(live_server, phone_page, prefix):
    page = phone_page
    slot = SlotFactory(campaign=CampaignFactory(verify_phone=True))
    start = reverse("bookings:start", kwargs={"campaign": slot.campaign.slug})
    page.goto(live_server.url + start)
    page.fill("#id_name", "김민수")
    page.fill("#id_rrn", "620714-1234567")
    page.fill("#id_phone", "010-1234-5678")
    page.locator("form.card button[type=submit]").click()

    code_form = page.locator("#phone-code")
    playwright.expect(code_form).to_be_visible()
    check(page, f"{prefix}-1-code", folder=FOLDER)

    code = _texted_code()
    code_form.locator("#id_code").fill(f"{(int(code) + 1) % 10**6:06d}")
    code_form.locator("button[type=submit]").click()
    summary = page.locator("#error-summary")
    playwright.expect(summary).to_be_focused()
    assert summary.locator('a[href="#id_code"]').count() == 1
    check(page, f"{prefix}-2-wrong-code", folder=FOLDER)

    page.locator("#phone-code #id_code").fill(code)
    page.locator("#phone-code button[type=submit]").click()
    playwright.expect(page.locator("#booking-step")).to_have_attribute("data-step", "2")
    assert reverse("bookings:choose", kwargs={"campaign": slot.campaign.slug}) in page.url


@pytest.mark.parametrize(("phone_page", "prefix"), LOCALES, indirect=["phone_page"])
def test_text_me_my_booking_code(live_server, phone_page, prefix):
    page = phone_page
    booking = services.confirm_booking(BookingFactory(rrn="620714-1234567").pk)
    page.goto(live_server.url + reverse("bookings:lookup"))
    recover = page.locator("#recover")
    playwright.expect(recover).to_be_visible()
    check(page, f"{prefix}-3-lookup", folder=FOLDER)

    recover.locator("#id_recover-rrn").fill("620714-1234567")
    recover.locator("#id_recover-phone").fill("010-12")
    recover.locator("button[type=submit]").click()
    summary = page.locator("#error-summary")
    playwright.expect(summary).to_be_focused()
    assert summary.locator('a[href="#id_recover-phone"]').count() == 1
    check(page, f"{prefix}-4-recover-mistake", folder=FOLDER)

    page.locator("#recover #id_recover-rrn").fill("620714-1234567")
    page.locator("#recover #id_recover-phone").fill(booking.phone)
    page.locator("#recover button[type=submit]").click()
    playwright.expect(page.locator("#recovery-sent")).to_be_visible()
    check(page, f"{prefix}-5-recover-sent", folder=FOLDER)
    assert booking.code not in page.content()
    assert Notification.objects.filter(kind=Notification.Kind.CODE_RECOVERY).count() == 1
