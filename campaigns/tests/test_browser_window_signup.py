""" "Tell me when my window opens" in a real browser at phone width, in Korean and in English:
from the before-opening page, a mistake first (summarised, focused), then the code texted to
the phone; axe-core on every page (``vaxbook.tests.browser.check``), nothing wider than the
phone. Screenshots in ``test-artifacts/window-signup/``."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright import sync_api as playwright

from campaigns.models import WindowSignup
from campaigns.tests.factories import CampaignFactory
from vaxbook.notifications.models import Notification
from vaxbook.tests.browser import check, chromium

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
FOLDER = "window-signup"


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


def fits_the_phone(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize(("locale", "prefix"), [("ko-KR", "ko"), ("en-US", "en")])
def test_signing_up_from_the_before_opening_page(live_server, browser, locale, prefix):
    opens = timezone.now() + timedelta(days=1)
    campaign = CampaignFactory(
        name="코로나19 예방접종 (55-59세)", opens_at=opens, closes_at=opens + timedelta(days=5)
    )
    context = browser.new_context(viewport=PHONE, locale=locale, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        start = reverse("bookings:start", kwargs={"campaign": campaign.slug})
        assert page.goto(live_server.url + start).status == 403
        form = page.locator("#window-signup")
        playwright.expect(form).to_be_visible()
        assert fits_the_phone(page)
        check(page, f"{prefix}-1-before-opening", folder=FOLDER)

        form.locator("#id_phone").fill("010-2222-3333")
        form.locator("button[type=submit]").click()  # no birth date
        summary = page.locator("#error-summary")
        playwright.expect(summary).to_be_focused()
        assert summary.locator('a[href="#id_birth_date"]').count() == 1
        check(page, f"{prefix}-2-mistake", folder=FOLDER)

        page.fill("#id_birth_date", "1963-05-09")
        page.locator("#window-signup button[type=submit]").click()
        code_form = page.locator("#window-signup-code")
        playwright.expect(code_form).to_be_visible()
        assert fits_the_phone(page)
        check(page, f"{prefix}-3-code", folder=FOLDER)

        text = Notification.objects.get(kind=Notification.Kind.PHONE_CODE).text
        code_form.locator("#id_code").fill(re.search(r"\b\d{6}\b", text).group())
        code_form.locator("button[type=submit]").click()
        playwright.expect(page.locator("#window-signup-done")).to_be_visible()
        check(page, f"{prefix}-4-done", folder=FOLDER)
        assert WindowSignup.objects.get().confirmed_at is not None
    finally:
        context.close()
