"""A verified phone where officials ask for it (``Campaign.verify_phone``): the identity step
texts a one-time code, and the booking goes on only when that code is typed back; a wrong,
expired or over-tried code goes no further and writes no booking; the proven phone is the
booking's; the API, which has no code step, is refused."""

import re
import time
from urllib.parse import urlparse

import pytest
import time_machine
from django.forms.forms import NON_FIELD_ERRORS
from django.test import Client
from django.urls import reverse

from bookings import services, steps
from bookings.errors import PhoneNotVerified
from bookings.identity import Identity
from bookings.models import Booking
from bookings.tests.factories import BookingFactory
from bookings.tests.flow import identify, submit, token_of
from bookings.tests.page import parse
from campaigns.tests.factories import CampaignFactory
from clinics.tests.factories import SlotFactory
from vaxbook.notifications.models import Notification

pytestmark = pytest.mark.django_db

RRN = "620714-1234567"
PHONE = "010-1234-5678"


@pytest.fixture
def slot():
    return SlotFactory(campaign=CampaignFactory(verify_phone=True), capacity=3)


def _path(url: str) -> str:
    return urlparse(url).path


def _texted_code(phone: str = PHONE) -> str:
    """The code in the latest text sent to ``phone``."""
    message = Notification.objects.filter(kind="phone_code", recipient=phone).latest("pk")
    [code] = re.findall(r"\b\d{6}\b", message.text)
    return code


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def _to_code_step(client, slot, *, rrn=RRN, phone=PHONE) -> str:
    response = identify(client, slot.campaign.slug, rrn=rrn, phone=phone)
    assert response.status_code == 302, response.content.decode()[:2000]
    url = response["Location"]
    assert _path(url) == reverse("bookings:verify-phone", kwargs={"campaign": slot.campaign.slug})
    return url


def _type(client, code_url: str, code: str):
    return client.post(code_url, {"t": token_of(code_url), "code": code})


def _refused(response, error: str = "wrong_code") -> None:
    """The code page again, with the code refused on its field."""
    assert response.status_code == 200
    form = response.context["form"]
    assert form.has_error("code", error)
    page = parse(response)
    assert page.by_id("error-summary") and page.by_id("phone-code")
    assert page.by_id("id_code").attrs["aria-invalid"] == "true"


def _choose_to_review(client, slot, choose_url: str) -> str:
    response = client.post(
        choose_url,
        {
            "t": token_of(choose_url),
            "clinic": slot.clinic.code,
            "date": slot.date.isoformat(),
            "slot": slot.pk,
        },
    )
    assert response.status_code == 302
    return response["Location"]


def test_the_code_texted_opens_the_way_to_booking_with_that_phone(client, slot):
    code_url = _to_code_step(client, slot)
    [message] = Notification.objects.filter(kind="phone_code")
    assert message.recipient == PHONE and message.urgent and message.booking is None
    assert "1234567" not in message.text and "620714" not in message.text

    page = client.get(code_url)
    assert page.status_code == 200
    assert list(page.context["form"].fields) == ["code"]
    assert parse(page).by_id("resend-code") and parse(page).by_id("booking-step")

    response = _type(client, code_url, _texted_code())
    assert response.status_code == 302
    assert _path(response["Location"]) == reverse(
        "bookings:choose", kwargs={"campaign": slot.campaign.slug}
    )
    review_url = _choose_to_review(client, slot, response["Location"])
    assert client.get(review_url).context["identity"].phone == PHONE
    assert submit(client, review_url).status_code == 302
    booking = Booking.objects.get()
    assert booking.phone == PHONE
    # the confirmation goes to the proven phone
    services.confirm_booking(booking.pk)
    assert Notification.objects.get(kind="confirmed").recipient == PHONE


def test_without_the_option_no_code_is_sent(client):
    plain = SlotFactory()
    response = identify(client, plain.campaign.slug, rrn=RRN)
    assert _path(response["Location"]) == reverse(
        "bookings:choose", kwargs={"campaign": plain.campaign.slug}
    )
    assert not Notification.objects.exists()


@pytest.mark.parametrize("typed", ["wrong", "", "12345", "abcdef"])
def test_a_wrong_code_is_refused_and_nothing_is_written(client, slot, typed):
    code_url = _to_code_step(client, slot)
    code = _texted_code()
    typed = _wrong(code) if typed == "wrong" else typed
    _refused(_type(client, code_url, typed), "wrong_code" if typed else "required")
    assert not client.session["booking_flow"]["verified_phone"]
    assert Booking.objects.count() == 0
    # fewer wrong tries than the limit leave the right code good
    assert _type(client, code_url, code).status_code == 302


def test_an_expired_code_is_refused(client, slot, settings):
    settings.VAXBOOK_PHONE_CODE_TTL = 300
    with time_machine.travel(time.time(), tick=False) as clock:
        code_url = _to_code_step(client, slot)
        clock.shift(301)
        _refused(_type(client, code_url, _texted_code()))
    assert Booking.objects.count() == 0


def test_an_over_tried_code_is_void_and_a_new_one_works(client, slot, settings):
    settings.VAXBOOK_PHONE_CODE_TRIES = 3
    code_url = _to_code_step(client, slot)
    code = _texted_code()
    for _ in range(3):
        _refused(_type(client, code_url, _wrong(code)))
    _refused(_type(client, code_url, code))
    assert Booking.objects.count() == 0

    resent = client.post(code_url, {"t": token_of(code_url), "resend": "1"})
    assert resent.status_code == 200 and parse(resent).by_id("code-resent")
    assert Notification.objects.filter(kind="phone_code", recipient=PHONE).count() == 2
    new_code = _texted_code()
    if new_code != code:
        _refused(_type(client, code_url, code))
    assert _type(client, code_url, new_code).status_code == 302


def test_a_used_code_does_not_open_a_second_flow(client, slot):
    code_url = _to_code_step(client, slot)
    code = _texted_code()
    assert _type(client, code_url, code).status_code == 302
    # a new identity step (even with the same phone) needs a new code
    second_url = _to_code_step(client, slot)
    _refused(_type(client, second_url, code))


def test_no_step_after_the_code_without_the_code(client, slot):
    code_url = _to_code_step(client, slot)
    flow = steps.Flow(**client.session["booking_flow"])
    # a token for the next steps, as if forged with the server's key: still back to the start
    for step, name in ((steps.CHOOSE, "bookings:choose"), (steps.REVIEW, "bookings:review")):
        url = reverse(name, kwargs={"campaign": slot.campaign.slug})
        response = client.get(url, {"t": steps.token_for(flow, step)})
        assert response.status_code == 302
        assert _path(response["Location"]) == reverse(
            "bookings:start", kwargs={"campaign": slot.campaign.slug}
        )
    assert client.get(code_url).status_code == 200
    # and the code step itself needs its token
    assert client.get(_path(code_url)).status_code == 302


def test_the_phone_cannot_change_after_it_is_proven(client, slot):
    code_url = _to_code_step(client, slot)
    choose_url = _type(client, code_url, _texted_code())["Location"]
    # identifying again with another phone starts a new flow, which needs its own code
    other = "010-9999-8888"
    second_url = _to_code_step(client, slot, phone=other)
    response = client.get(choose_url)  # the proven flow is gone
    assert response.status_code == 302 and _path(response["Location"]) == reverse(
        "bookings:start", kwargs={"campaign": slot.campaign.slug}
    )
    _refused(_type(client, second_url, _texted_code(PHONE)))
    second_choose = _type(client, second_url, _texted_code(other))["Location"]
    assert submit(client, _choose_to_review(client, slot, second_choose)).status_code == 302
    assert Booking.objects.get().phone == other


def test_the_service_books_only_the_proven_phone(slot):
    identity = Identity.parse(name="Kim Minsu", rrn=RRN, phone=PHONE)
    for verified in (None, "", "010-9999-8888"):
        with pytest.raises(PhoneNotVerified):
            services.request_booking(
                slot.campaign, identity=identity, slot_id=slot.pk, verified_phone=verified
            )
    assert Booking.objects.count() == 0
    booking = services.request_booking(
        slot.campaign, identity=identity, slot_id=slot.pk, verified_phone=PHONE
    )
    assert booking.phone == PHONE


def test_a_rejected_booking_is_moved_with_its_own_phone(slot):
    rejected = BookingFactory(slot=slot, status=Booking.Status.REJECTED)
    other = SlotFactory(campaign=slot.campaign, clinic=slot.clinic, start_time="10:00")
    moved = services.rebook(rejected, slot_id=other.pk)
    assert moved.phone == rejected.phone and moved.status == Booking.Status.PENDING


def test_the_api_refuses_a_campaign_that_wants_a_verified_phone(slot):
    from rest_framework.test import APIClient

    response = APIClient().post(
        reverse("api:booking-create", kwargs={"campaign": slot.campaign.slug}),
        {"name": "Kim Minsu", "rrn": RRN, "phone": PHONE, "slot": slot.pk},
        format="json",
    )
    assert response.status_code == 403
    assert response.json()["code"] == "phone_not_verified"
    assert Booking.objects.count() == 0 and not Notification.objects.exists()


@pytest.mark.usefixtures("one_limits_window")
def test_codes_sent_are_limited_per_phone(client, slot, settings):
    settings.VAXBOOK_PHONE_CODE_SENDS = 2
    for n in range(2):
        _to_code_step(client, slot, rrn=f"62071{n}-1234567")
    response = identify(client, slot.campaign.slug, rrn="620719-1234567", phone=PHONE)
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert Notification.objects.filter(kind="phone_code").count() == 2
    # a new code asked for on the code step counts too
    code_url = _to_code_step(client, slot, phone="010-2222-3333")
    settings.VAXBOOK_PHONE_CODE_SENDS = 1
    response = client.post(code_url, {"t": token_of(code_url), "resend": "1"})
    assert response.status_code == 429
    assert Booking.objects.count() == 0


@pytest.mark.usefixtures("one_limits_window")
def test_codes_sent_are_limited_per_address(client, slot, settings):
    settings.VAXBOOK_PHONE_CODE_SENDS_PER_ADDRESS = 2
    code_url = _to_code_step(client, slot)  # the first text
    resend = {"t": token_of(code_url), "resend": "1"}
    assert client.post(code_url, resend).status_code == 200  # the second
    response = client.post(code_url, resend)
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert Notification.objects.filter(kind="phone_code").count() == 2


@pytest.mark.usefixtures("one_limits_window")
def test_code_tries_are_limited_per_person(client, slot, settings):
    settings.VAXBOOK_THROTTLE_PER_PERSON = 4
    settings.VAXBOOK_PHONE_CODE_TRIES = 100
    code_url = _to_code_step(client, slot)
    code = _texted_code()
    for _ in range(4):
        _refused(_type(client, code_url, _wrong(code)))
    response = _type(client, code_url, code)
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert Booking.objects.count() == 0 and not client.session["booking_flow"]["verified_phone"]


@pytest.mark.usefixtures("one_limits_window")
def test_code_tries_are_limited_per_address(slot, settings):
    settings.VAXBOOK_THROTTLE_PER_ADDRESS = 3
    first, second = Client(), Client()  # two people behind one address
    first_url = _to_code_step(first, slot, rrn="620101-1234567", phone="010-1111-2222")
    second_url = _to_code_step(second, slot, rrn="630101-2345678", phone="010-3333-4444")
    _refused(_type(first, first_url, _wrong(_texted_code("010-1111-2222"))))
    _refused(_type(second, second_url, _wrong(_texted_code("010-3333-4444"))))
    _refused(_type(first, first_url, _wrong(_texted_code("010-1111-2222"))))
    response = _type(second, second_url, _texted_code("010-3333-4444"))
    assert response.status_code == 429
    assert Booking.objects.count() == 0


def test_the_identity_step_refuses_before_any_code_is_sent(client, slot):
    BookingFactory(slot=slot, rrn=RRN)
    response = identify(client, slot.campaign.slug, rrn=RRN)
    assert response.status_code == 200
    assert response.context["form"].has_error(NON_FIELD_ERRORS, "already_booked")
    assert not Notification.objects.exists()


def test_officials_turn_it_on_in_the_admin(admin_client):
    from campaigns.tests.admin_forms import campaign_form, campaign_page

    campaign = CampaignFactory()
    page = admin_client.get(campaign_page(campaign))
    assert "verify_phone" in page.context["adminform"].form.fields
    response = admin_client.post(
        campaign_page(campaign), campaign_form(campaign, verify_phone="on")
    )
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.verify_phone
