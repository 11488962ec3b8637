"""Find my booking without its code: the registration number and the phone given when booking;
if they match an active booking, its code goes to that phone by text, never to the screen, and
the page answers the same whether or not anything matched."""

import re

import pytest
import redis
from django.test import Client
from django.urls import reverse

from bookings import services
from bookings.models import Booking
from bookings.tests.factories import BookingFactory
from bookings.tests.flow import identify
from bookings.tests.page import parse
from campaigns.tests.factories import CampaignFactory
from clinics.tests.factories import SlotFactory
from vaxbook.celery import app
from vaxbook.notifications.models import Notification
from vaxbook.notifications.tests.broker import published

pytestmark = pytest.mark.django_db

RRN = "620714-1234567"
PHONE = "010-1234-5678"
LOOKUP = reverse("bookings:lookup")


def _recover(client: Client, *, rrn=RRN, phone=PHONE):
    return client.post(LOOKUP, {"form": "recover", "recover-rrn": rrn, "recover-phone": phone})


def _confirmed(slot=None, *, rrn=RRN, phone=PHONE) -> Booking:
    booking = BookingFactory(slot=slot or SlotFactory(), rrn=rrn, phone=phone)
    return services.confirm_booking(booking.pk)


def _shape(response) -> dict:
    """Everything a caller can see of the answer, but the CSRF token (new on every page) and
    the time of the answer."""
    content = re.sub(
        r'value="[^"]+" name="csrfmiddlewaretoken"|name="csrfmiddlewaretoken" '
        r'value="[^"]+"',
        "csrf",
        response.content.decode(),
    )
    return {
        "status": response.status_code,
        # all but Expires, which is the moment of the answer (never_cache)
        "headers": {k: v for k, v in response.headers.items() if k != "Expires"},
        "cookies": sorted(response.cookies),
        # the page's templates (the text message rendered on the way is not the answer's)
        "templates": [
            t.name for t in response.templates if not t.name.startswith("notifications/")
        ],
        "forms": {
            name: (list(form.fields), form.is_bound, dict(form.errors))
            for name, form in (
                ("lookup", response.context["form"]),
                ("recover", response.context["recovery"]),
            )
        },
        "ids": [e.attrs["id"] for e in parse(response).find_all(id=True)],
        "content": content,
    }


def test_the_codes_go_to_the_phone_and_never_to_the_screen(client):
    booking = _confirmed()
    page = client.get(LOOKUP)
    assert page.status_code == 200
    recover = parse(page).by_id("recover")
    assert recover.attrs["method"] == "post"
    assert list(page.context["recovery"].fields) == ["rrn", "phone"]

    response = _recover(client, phone="01012345678")  # written any way, it is the same phone
    assert response.status_code == 200
    assert parse(response).by_id("recovery-sent")
    assert booking.code not in response.content.decode()
    [message] = Notification.objects.filter(kind="code_recovery")
    # about no one booking: it names them all, and goes after the retention period
    assert message.recipient == PHONE and message.booking is None
    assert booking.code in message.text
    assert reverse("bookings:status", kwargs={"public_id": booking.public_id}) in message.text
    assert "1234567" not in message.text and "620714" not in message.text
    # a second request is a second text (each is its own message)
    _recover(client)
    assert Notification.objects.filter(kind="code_recovery").count() == 2


def test_every_active_booking_of_the_person_with_that_phone_is_named(client):
    first = _confirmed()
    second = _confirmed(SlotFactory(campaign=CampaignFactory()))
    pending = BookingFactory(slot=SlotFactory(campaign=CampaignFactory()), rrn=RRN, phone=PHONE)
    cancelled = _confirmed(SlotFactory(campaign=CampaignFactory()))
    services.cancel_booking(cancelled.pk)
    other_phone = _confirmed(SlotFactory(campaign=CampaignFactory()), phone="010-9999-8888")
    _recover(client)
    [message] = Notification.objects.filter(kind="code_recovery")
    assert first.code in message.text and second.code in message.text
    assert str(pending.public_id) in message.text
    assert cancelled.code not in message.text and other_phone.code not in message.text


def test_the_answer_is_the_same_whether_or_not_a_booking_matched(client):
    _confirmed()
    cancelled = _confirmed(SlotFactory(campaign=CampaignFactory()), rrn="650101-2345678")
    services.cancel_booking(cancelled.pk)
    matched = _shape(_recover(client))
    assert Notification.objects.filter(kind="code_recovery").count() == 1
    for no_match in (
        {"phone": "010-9999-8888"},  # the person, another phone
        {"rrn": "630101-1234567"},  # the phone, another person
        {"rrn": "650101-2345678"},  # a cancelled booking only
    ):
        assert _shape(_recover(client, **no_match)) == matched
    assert Notification.objects.filter(kind="code_recovery").count() == 1


def test_the_message_is_in_the_language_of_the_page():
    booking = _confirmed()
    _recover(Client(headers={"accept-language": "en"}))
    _recover(Client(headers={"accept-language": "ko"}))
    english, korean = Notification.objects.filter(kind="code_recovery").order_by("pk")
    assert (english.language, korean.language) == ("en", "ko")
    assert english.text != korean.text and booking.code in korean.text


@pytest.mark.parametrize(
    "data, field",
    [({"recover-rrn": "123"}, "rrn"), ({"recover-phone": "abc"}, "phone")],
)
def test_a_wrong_entry_is_shown_on_its_field_and_nothing_is_sent(client, data, field):
    _confirmed()
    response = client.post(
        LOOKUP, {"form": "recover", "recover-rrn": RRN, "recover-phone": PHONE, **data}
    )
    assert response.status_code == 200
    assert field in response.context["recovery"].errors
    assert not response.context["form"].is_bound
    assert parse(response).by_id("error-summary")
    assert parse(response).by_id(f"id_recover-{field}").attrs["aria-invalid"] == "true"
    assert not Notification.objects.filter(kind="code_recovery").exists()


@pytest.mark.usefixtures("one_limits_window")
def test_recovery_is_limited_per_person(client, settings):
    settings.VAXBOOK_THROTTLE_PER_PERSON = 2
    _confirmed()
    for n in range(2):
        assert _recover(client, phone=f"010-0000-000{n}").status_code == 200
    response = _recover(client)  # the right phone, but too many tries for this person
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert not Notification.objects.filter(kind="code_recovery").exists()


@pytest.mark.usefixtures("one_limits_window")
def test_recovery_is_limited_per_phone(client, settings):
    settings.VAXBOOK_THROTTLE_PER_PERSON = 2
    _confirmed()
    for rrn in ("630101-1234567", "640101-1234567"):
        assert _recover(client, rrn=rrn).status_code == 200
    assert _recover(client).status_code == 429
    assert not Notification.objects.filter(kind="code_recovery").exists()


@pytest.mark.usefixtures("one_limits_window")
def test_recovery_is_limited_per_address(settings):
    settings.VAXBOOK_THROTTLE_PER_ADDRESS = 2
    _confirmed()
    for n in range(2):
        assert _recover(Client(), rrn=f"63010{n}-1234567").status_code == 200
    assert _recover(Client()).status_code == 429
    assert not Notification.objects.filter(kind="code_recovery").exists()
    # the code lookup keeps its own count
    assert Client().post(LOOKUP, {"code": "X", "rrn": RRN}).status_code == 200


def test_already_booked_leads_to_the_recovery_form(client):
    slot = SlotFactory()
    BookingFactory(slot=slot, rrn=RRN)
    response = identify(client, slot.campaign.slug, rrn=RRN)
    link = parse(response).by_id("recover-booking-code")
    assert link.attrs["href"] == f"{LOOKUP}#recover"
    assert parse(client.get(LOOKUP)).by_id("recover")


def test_a_match_and_a_miss_cost_the_broker_the_same(client, django_capture_on_commit_callbacks):
    """One task published either way: a slow broker would otherwise make a match slower."""
    _confirmed()
    app.control.purge()
    with redis.Redis.from_url(app.conf.broker_url) as broker:
        with django_capture_on_commit_callbacks(execute=True):
            _recover(client)
        matched = published(broker)
        app.control.purge()
        with django_capture_on_commit_callbacks(execute=True):
            _recover(client, phone="010-9999-8888")
        missed = published(broker)
        app.control.purge()
    assert len(matched) == len(missed) == 1
    assert Notification.objects.filter(kind="code_recovery").count() == 1
