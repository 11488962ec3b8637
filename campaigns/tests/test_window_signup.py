""" "Tell me when my window opens", through the pages: a phone and a birth date on the
before-opening and queue pages, a code texted to the phone, the sign-up counting only once
the code is typed back; limited per address and per phone; the same answer for a phone
signed up before."""

import re
from datetime import date, timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from campaigns.models import BookingWindow, WindowSignup
from campaigns.tests.factories import CampaignFactory
from vaxbook.notifications.models import Notification

pytestmark = pytest.mark.django_db

PHONE = "010-2222-3333"
BORN = date(1963, 5, 9)


@pytest.fixture
def campaign():
    opens = (timezone.now() + timedelta(days=1)).replace(microsecond=0)
    return CampaignFactory(opens_at=opens, closes_at=opens + timedelta(days=7))


def signup_url(campaign) -> str:
    return reverse("campaigns:window-signup", kwargs={"campaign": campaign.slug})


def code_url(campaign) -> str:
    return reverse("campaigns:window-signup-code", kwargs={"campaign": campaign.slug})


def sign_up(client: Client, campaign, *, phone=PHONE, born=BORN):
    return client.post(signup_url(campaign), {"phone": phone, "birth_date": born.isoformat()})


def texted_code(phone: str = PHONE) -> str:
    text = (
        Notification.objects.filter(kind=Notification.Kind.PHONE_CODE, recipient=phone)
        .latest("pk")
        .text
    )
    return re.search(r"\b\d{6}\b", text).group()


def form_tag(page: bytes, form_id: str) -> str | None:
    found = re.search(rb'<form\b[^>]*\bid="' + form_id.encode() + rb'"[^>]*>', page)
    return found.group().decode() if found else None


def field_names(page: bytes, form_id: str) -> set[str]:
    form = re.search(rb'<form\b[^>]*\bid="' + form_id.encode() + rb'".*?</form>', page, re.S)
    return {n.decode() for n in re.findall(rb'name="([^"]+)"', form.group())} - {
        "csrfmiddlewaretoken"
    }


def test_the_before_opening_page_offers_the_signup(campaign):
    page = Client().get(reverse("bookings:start", kwargs={"campaign": campaign.slug}))
    assert page.status_code == 403  # the window is closed, the page says when it opens
    assert f'action="{signup_url(campaign)}"' in form_tag(page.content, "window-signup")
    assert field_names(page.content, "window-signup") == {"phone", "birth_date"}


def test_the_queue_page_offers_the_signup(campaign):
    from campaigns import services

    services.configure_waiting_room(campaign, enabled=True, per_minute=60)
    page = Client().get(reverse("campaigns:queue", kwargs={"campaign": campaign.slug}))
    assert page.status_code == 200
    assert f'action="{signup_url(campaign)}"' in form_tag(page.content, "window-signup")


def test_a_closed_campaign_offers_no_signup(campaign):
    with time_machine.travel(campaign.closes_at + timedelta(minutes=1), tick=False):
        page = Client().get(reverse("bookings:start", kwargs={"campaign": campaign.slug}))
    assert page.status_code == 403
    assert form_tag(page.content, "window-signup") is None


def test_a_signup_counts_only_once_the_code_texted_to_the_phone_is_typed_back(campaign):
    client = Client(headers={"accept-language": "en"})
    answer = sign_up(client, campaign)
    assert answer.status_code == 303 and answer["Location"] == code_url(campaign)
    signup = WindowSignup.objects.get()
    assert (signup.phone, signup.birth_date, signup.language) == (PHONE, BORN, "en")
    assert signup.confirmed_at is None
    # only the code was texted, and only to that phone
    assert list(Notification.objects.values_list("kind", "recipient")) == [
        (Notification.Kind.PHONE_CODE, PHONE)
    ]

    page = client.get(code_url(campaign))
    assert page.status_code == 200
    assert field_names(page.content, "window-signup-code") == {"code"}

    code = texted_code()
    wrong = "000000" if code != "000000" else "111111"
    refused = client.post(code_url(campaign), {"code": wrong})
    assert refused.status_code == 400
    assert b'id="error-summary"' in refused.content
    assert refused.context["form"].errors.as_data()["code"][0].code == "wrong_code"
    signup.refresh_from_db()
    assert signup.confirmed_at is None

    done = client.post(code_url(campaign), {"code": code})
    assert done.status_code == 200 and b'id="window-signup-done"' in done.content
    signup.refresh_from_db()
    assert signup.confirmed_at is not None
    assert not Notification.objects.filter(kind=Notification.Kind.WINDOW_OPENS).exists()


def test_the_answer_is_the_same_whether_or_not_the_phone_was_signed_up(campaign):
    first = sign_up(Client(), campaign)
    client = Client()
    again = sign_up(client, campaign)
    other = sign_up(Client(), campaign, phone="010-4444-5555")
    assert first.status_code == again.status_code == other.status_code == 303
    assert first["Location"] == again["Location"] == other["Location"]
    pages = [c.get(code_url(campaign)) for c in (client, Client())]
    assert pages[0].status_code == 200 and form_tag(pages[0].content, "window-signup-code")
    assert WindowSignup.objects.filter(phone=PHONE).count() == 1  # the same sign-up
    assert Notification.objects.filter(kind=Notification.Kind.PHONE_CODE).count() == 3


def test_a_signup_confirmed_before_stays_confirmed_when_signed_up_again(campaign):
    client = Client()
    sign_up(client, campaign)
    client.post(code_url(campaign), {"code": texted_code()})
    confirmed_at = WindowSignup.objects.get().confirmed_at
    assert sign_up(Client(), campaign).status_code == 303
    assert WindowSignup.objects.get().confirmed_at == confirmed_at


def test_the_code_page_needs_a_signup_started_in_this_session(campaign):
    answer = Client().get(code_url(campaign))
    assert answer.status_code == 302 and answer["Location"] == signup_url(campaign)


@pytest.mark.parametrize(
    ("fields", "field", "code"),
    [
        ({"phone": "12", "birth_date": BORN.isoformat()}, "phone", "phone"),
        ({"phone": PHONE, "birth_date": ""}, "birth_date", "required"),
        ({"phone": PHONE, "birth_date": "1990-01-01"}, "birth_date", "out_of_cohort"),
    ],
)
def test_a_form_with_mistakes_is_shown_again_with_its_errors(campaign, fields, field, code):
    page = Client().post(signup_url(campaign), fields)
    assert page.status_code == 400
    assert b'id="error-summary"' in page.content
    assert form_tag(page.content, "window-signup")
    assert page.context["form"].errors.as_data()[field][0].code == code
    assert not WindowSignup.objects.exists() and not Notification.objects.exists()


def test_a_birth_date_whose_window_is_open_or_past_is_not_signed_up(campaign):
    now = timezone.now()
    BookingWindow.objects.create(  # birth days ending in 9: open now
        campaign=campaign,
        opens_at=now - timedelta(hours=1),
        closes_at=now + timedelta(hours=5),
        birth_day_last_digit=9,
    )
    BookingWindow.objects.create(  # ending in 1: closed already
        campaign=campaign,
        opens_at=now - timedelta(hours=5),
        closes_at=now - timedelta(hours=1),
        birth_day_last_digit=1,
    )
    BookingWindow.objects.create(  # ending in 2: later
        campaign=campaign,
        opens_at=now + timedelta(hours=5),
        closes_at=now + timedelta(hours=9),
        birth_day_last_digit=2,
    )
    refusals = {}
    for born in (date(1963, 5, 9), date(1963, 5, 11), date(1963, 5, 13)):
        page = sign_up(Client(), campaign, born=born)
        assert page.status_code == 400
        refusals[born.day] = page.context["form"].errors.as_data()["birth_date"][0].code
    assert refusals == {9: "open_now", 11: "no_window_to_come", 13: "not_covered"}
    assert sign_up(Client(), campaign, born=date(1963, 5, 12)).status_code == 303


@pytest.mark.usefixtures("one_limits_window")
def test_signing_up_is_limited_per_address(campaign, settings):
    settings.VAXBOOK_THROTTLE_PER_ADDRESS = 2
    client = Client()
    for n in range(2):
        assert sign_up(client, campaign, phone=f"010-5555-000{n}").status_code == 303
    over = sign_up(client, campaign, phone="010-5555-0009")
    assert over.status_code == 429 and int(over["Retry-After"]) > 0
    assert WindowSignup.objects.count() == 2


@pytest.mark.usefixtures("one_limits_window")
def test_forms_with_mistakes_count_against_the_address_too(campaign, settings):
    settings.VAXBOOK_THROTTLE_PER_ADDRESS = 2
    client = Client()
    statuses = [sign_up(client, campaign, phone="12").status_code for _ in range(3)]
    assert statuses == [400, 400, 429]


@pytest.mark.usefixtures("one_limits_window")
def test_signing_up_is_limited_per_phone(campaign, settings):
    settings.VAXBOOK_THROTTLE_PER_PERSON = 2
    for n in range(2):
        client = Client(REMOTE_ADDR=f"198.51.100.{n + 1}")
        assert sign_up(client, campaign, born=BORN + timedelta(days=n)).status_code == 303
    over = sign_up(Client(REMOTE_ADDR="198.51.100.9"), campaign, born=BORN + timedelta(days=5))
    assert over.status_code == 429
    assert WindowSignup.objects.count() == 2


@pytest.mark.usefixtures("one_limits_window")
def test_no_code_is_texted_beyond_the_phones_limit_of_codes(campaign, settings):
    settings.VAXBOOK_PHONE_CODE_SENDS = 1
    assert sign_up(Client(REMOTE_ADDR="198.51.100.1"), campaign).status_code == 303
    over = sign_up(Client(REMOTE_ADDR="198.51.100.2"), campaign, born=BORN + timedelta(days=1))
    assert over.status_code == 429
    assert Notification.objects.count() == 1
    assert WindowSignup.objects.count() == 1  # nothing written for the refused one


@pytest.mark.usefixtures("one_limits_window")
def test_typing_codes_is_limited_per_phone(campaign, settings):
    settings.VAXBOOK_THROTTLE_PER_PERSON = 3
    client = Client()
    sign_up(client, campaign)
    statuses = [client.post(code_url(campaign), {"code": "x"}).status_code for _ in range(4)]
    assert statuses == [400, 400, 400, 429]


def test_the_pages_carry_no_inline_script_or_style(campaign):
    client = Client()
    pages = [client.get(signup_url(campaign)), sign_up(client, campaign)]
    pages.append(client.get(code_url(campaign)))
    for page in (pages[0], pages[2]):
        assert page.status_code == 200
        assert b"style=" not in page.content
        assert not re.search(rb"<script(?![^>]*\bsrc=)[^>]*>", page.content)
