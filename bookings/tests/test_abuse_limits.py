from datetime import timedelta

import pytest
import time_machine
from django.forms.forms import NON_FIELD_ERRORS
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from bookings.models import Booking
from bookings.tests.clock import start_of_the_limits_windows
from bookings.tests.factories import BookingFactory
from bookings.tests.flow import identify
from campaigns.windows import format_kst
from clinics.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def tight(settings):
    settings.VAXBOOK_THROTTLE_PER_ADDRESS = 6
    settings.VAXBOOK_THROTTLE_PER_PERSON = 3
    settings.VAXBOOK_THROTTLE_WINDOW_SECONDS = 600
    with start_of_the_limits_windows():  # all of a test's attempts in one window
        yield


def test_too_many_identity_tries_for_one_person_get_a_429_that_says_when(tight):
    slot = SlotFactory()
    for n in range(3):  # from three different addresses
        response = identify(
            Client(REMOTE_ADDR=f"10.0.0.{n}"), slot.campaign.slug, rrn="620714-1234567", phone="1"
        )
        assert response.status_code == 200
    now = timezone.now()
    with time_machine.travel(now, tick=False):
        blocked = identify(
            Client(REMOTE_ADDR="10.0.0.9"), slot.campaign.slug, rrn="6207141234567", phone="1"
        )
    assert blocked.status_code == 429
    wait = int(blocked["Retry-After"])
    assert 0 < wait <= 600
    # the page says when, in Korea time
    assert format_kst(now + timedelta(seconds=wait)) in blocked.context["message"]
    assert format_kst(now + timedelta(seconds=wait)) in blocked.content.decode()
    # another person is not affected
    assert (
        identify(
            Client(REMOTE_ADDR="10.0.0.9"), slot.campaign.slug, rrn="630303-1234567", phone="1"
        ).status_code
        == 200
    )


def test_too_many_tries_from_one_address_get_a_429_then_pass_after_the_window(tight):
    slot = SlotFactory()
    client = Client(REMOTE_ADDR="10.1.1.1")
    codes = [
        identify(client, slot.campaign.slug, rrn=f"6{n}0101-1234567", phone="1").status_code
        for n in range(2, 9)
    ]
    assert codes == [200] * 6 + [429]
    with time_machine.travel(timezone.now() + timedelta(seconds=601)):
        assert (
            identify(client, slot.campaign.slug, rrn="620101-1234567", phone="1").status_code == 200
        )


def test_lookup_is_limited_and_enumerating_codes_finds_nothing(tight):
    booking = BookingFactory(code="ABCDEFGH", status=Booking.Status.CONFIRMED)
    client = Client(REMOTE_ADDR="10.2.2.2")
    answers = []
    for code in (
        "AAAAAAAA",
        "ABCDEFGA",
        "ABCDEFGB",
        "ABCDEFGC",
        "ABCDEFGD",
        "ABCDEFGE",
        "ABCDEFGH",
    ):
        response = client.post(reverse("bookings:lookup"), {"code": code, "rrn": "640101-2000001"})
        answers.append(response.status_code)
        if response.status_code == 200:  # well-formed, and no booking matches
            form = response.context["form"]
            assert list(form.errors) == [NON_FIELD_ERRORS] and form.cleaned_data["rrn"]
    assert answers[-1] == 429
    assert booking.code not in client.get(reverse("home")).content.decode()


def test_the_api_is_limited_too(tight):
    slot = SlotFactory()
    api = Client(REMOTE_ADDR="10.3.3.3")
    body = {"name": "Kim", "rrn": "620714-1234567", "phone": "1", "slot": slot.pk}
    codes = [
        api.post(
            reverse("api:booking-create", kwargs={"campaign": slot.campaign.slug}),
            body,
            content_type="application/json",
        ).status_code
        for _ in range(4)
    ]
    assert codes == [400, 400, 400, 429]


def test_staff_sessions_expire_after_inactivity(settings, django_user_model):
    settings.VAXBOOK_STAFF_SESSION_IDLE_SECONDS = 60
    django_user_model.objects.create_superuser("official", password="the-right-password-1")
    client = Client()
    client.post(
        reverse("admin-login"), {"username": "official", "password": "the-right-password-1"}
    )
    response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    # the browser drops the cookie after a minute without a request, and so does the server
    assert response.cookies["sessionid"]["max-age"] == 60
    assert client.session.get_expiry_age() == 60


def test_the_429_page_speaks_the_language_asked_for(tight):
    slot = SlotFactory()
    said = {}
    for n, language in enumerate(["ko", "en"]):
        browser = Client(REMOTE_ADDR=f"10.2.2.{n}", headers={"accept-language": language})
        rrn = f"62071{n}-1234567"
        now = timezone.now()
        with time_machine.travel(now, tick=False):
            for _ in range(3):
                identify(browser, slot.campaign.slug, rrn=rrn, phone="1")
            blocked = identify(browser, slot.campaign.slug, rrn=rrn, phone="1")
        assert blocked.status_code == 429
        assert blocked["Content-Language"] == language
        with translation.override(language):
            until = format_kst(now + timedelta(seconds=int(blocked["Retry-After"])))
        message = blocked.context["message"]
        assert until in message, "the time, as this language writes it"
        said[language] = (message.replace(until, "…"), str(blocked.context["title"]))
    # the words around the time are translated too, not only the date
    assert said["ko"][0] != said["en"][0] and said["ko"][1] != said["en"][1]
