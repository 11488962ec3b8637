"""A second factor (TOTP, django-otp) for officials' and clinic staff's accounts: set up from a
page after logging in, then asked for at every login; required for everyone when
``VAXBOOK_REQUIRE_SECOND_FACTOR`` is on (the production default)."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

pytestmark = pytest.mark.django_db

LOGIN = reverse("admin-login")
RIGHT = "the-right-password-1"
SETUP = reverse("second-factor-setup")


@pytest.fixture
def official(django_user_model):
    return django_user_model.objects.create_superuser("official", password=RIGHT)


def _code(device: TOTPDevice, *, offset: int = 0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits)
    totp.time = totp.time + offset * device.step
    return f"{totp.token():0{device.digits}d}"


def _device(user, *, confirmed: bool = True) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="phone", confirmed=confirmed)


def _login(client: Client, code: str | None = None):
    data = {"username": "official", "password": RIGHT}
    if code is not None:
        data["otp_token"] = code
    return client.post(LOGIN, data)


def _admin_status(client: Client) -> int:
    return client.get(reverse("admin:index")).status_code


def test_an_account_with_a_second_factor_needs_its_code(official):
    device = _device(official)
    without = Client()
    response = _login(without)
    assert response.status_code == 200
    assert _admin_status(without) == 302  # to the login page
    # the same answer as a wrong password: the login does not tell a guesser it was right
    wrong_password = Client().post(LOGIN, {"username": "official", "password": "nope"})
    assert response.context["form"].errors == wrong_password.context["form"].errors
    assert response.context["form"].has_error("__all__", "invalid_login")

    wrong = Client()
    assert _login(wrong, "000000" if _code(device) != "000000" else "111111").status_code == 200
    assert _admin_status(wrong) == 302

    right = Client()
    with time_machine.travel(timezone.now() + timedelta(seconds=2)):  # after the wrong code's wait
        assert _login(right, _code(device)).status_code == 302
        assert _admin_status(right) == 200


def test_a_used_code_cannot_be_replayed(official):
    device = _device(official)
    code = _code(device)
    assert _login(Client(), code).status_code == 302
    assert _login(Client(), code).status_code == 200


def _just_before_a_step() -> datetime:
    """One second before a 30-second TOTP step begins: the moment where a test that moves the
    clock on by seconds crosses into the next step (the worst case, pinned)."""
    now = int(timezone.now().timestamp())
    return datetime.fromtimestamp(now - now % 30 + 29, tz=UTC)


@time_machine.travel(_just_before_a_step())
def test_setting_up_a_second_factor_then_logging_in_with_it(official):
    client = Client()
    assert _login(client).status_code == 302  # no second factor yet: the password is enough

    page = client.get(SETUP)
    assert page.status_code == 200
    assert b"<svg" in page.content  # the QR code to scan
    device = TOTPDevice.objects.get(user=official, confirmed=False)
    key = page.context["secret"]
    assert re.fullmatch(r"[A-Z2-7]{32}", key)

    wrong = client.post(SETUP, {"otp_token": "12345"})
    assert wrong.status_code == 200 and not TOTPDevice.objects.filter(confirmed=True).exists()
    # right after a wrong code even the right one waits (guessing is slowed down)...
    assert client.post(SETUP, {"otp_token": _code(device)}).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(seconds=2)):  # ...a second or two
        confirmed = client.post(SETUP, {"otp_token": _code(device)})
    assert confirmed.status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    assert _admin_status(client) == 200  # this session is verified

    later = Client()
    assert _login(later).status_code == 200  # now the code is asked for
    # a code of a later step than the one that confirmed the device (that one is used up)
    with time_machine.travel(timezone.now() + timedelta(seconds=2)):
        assert _login(later, _code(device, offset=1)).status_code == 302


def test_a_session_that_skipped_the_second_factor_is_sent_to_log_in(official):
    _device(official)
    client = Client()
    client.force_login(official)  # a session made without the login form
    assert _admin_status(client) == 302
    assert client.get(reverse("clinics:staff-home")).status_code in (302, 403)


def test_when_required_an_account_without_one_must_set_it_up_first(settings, official):
    settings.VAXBOOK_REQUIRE_SECOND_FACTOR = True
    client = Client()
    assert _login(client).status_code == 302
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302 and response["Location"].startswith(SETUP)
    api = client.get(reverse("api:roster", kwargs={"code": "anything"}))
    assert api.status_code == 403

    client.get(SETUP)
    device = TOTPDevice.objects.get(user=official)
    client.post(SETUP, {"otp_token": _code(device)})
    assert _admin_status(client) == 200


def test_citizens_pages_never_ask_for_it(settings, client):
    settings.VAXBOOK_REQUIRE_SECOND_FACTOR = True
    assert client.get(reverse("home")).status_code == 200
    assert client.get(reverse("bookings:lookup")).status_code == 200


def test_clinic_staff_go_on_to_their_clinics_day_once_their_second_factor_is_set_up():
    from clinics.tests.factories import StaffMembershipFactory

    membership = StaffMembershipFactory(user__is_staff=True)
    client = Client()
    client.force_login(membership.user)
    client.get(SETUP)
    device = TOTPDevice.objects.get(user=membership.user, confirmed=False)
    confirmed = client.post(SETUP, {"otp_token": _code(device)})
    assert confirmed.status_code == 302
    assert confirmed["Location"] == reverse("clinics:day", kwargs={"code": membership.clinic.code})
    # and an account that already has one is offered the same way on
    again = client.get(SETUP)
    assert again.context["continue_to"] == confirmed["Location"]
