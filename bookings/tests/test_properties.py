"""Property-based tests of every citizen-facing form and API field.

Whatever arrives — arbitrary text with control characters and NUL bytes, strings of thousands
of characters, SQL, HTML and spreadsheet-formula fragments, digits of other scripts, arbitrary
JSON values, forged cookies and headers — the answer is never a server error, a refused request
writes no booking, and a name that passes validation is shown escaped (and neutralised in the
CSV) wherever people read it: the admin, the rosters, the status and review pages.

The test client re-raises an exception of a view (``raise_request_exception``, on by default),
so a server error fails the property with its traceback; ``_answered`` also checks the status
code for a 5xx the app might render itself.

Hypothesis runs the examples of one test inside that test's database transaction and with its
function-scoped fixtures, so rows add up from example to example: each property compares counts
around one request. Clients that must not carry cookies from one example to the next are made
inside the example.
"""

import base64
import codecs
import csv
import io
import itertools
import json
from datetime import datetime, time, timedelta
from urllib.parse import urlencode, urlparse

import hypothesis
import pytest
import time_machine
from django.core import signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from hypothesis import HealthCheck, example, given
from hypothesis import strategies as st

from bookings import services, steps
from bookings.identity import IdentityError, normalise_name, normalise_phone
from bookings.models import Booking
from bookings.tests.factories import BookingFactory, rrn_for
from bookings.tests.flow import identify, submit, token_of, walk_to_review
from campaigns import waiting_room
from campaigns.services import configure_waiting_room
from campaigns.tests.factories import CampaignFactory
from campaigns.tests.queue import join
from campaigns.windows import KST
from clinics.rosters import FORMULA_TRIGGERS
from clinics.tests.factories import ClinicFactory, SlotFactory

pytestmark = pytest.mark.django_db

# The examples of one test share its function-scoped fixtures (client, database transaction)
# on purpose, see the module docstring. No example database: a failure prints the falsifying
# example to re-run (.hypothesis/ still gets Hypothesis's own caches, which it git-ignores).
FUZZ = hypothesis.settings(
    max_examples=80,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
FUZZ_SLOW = hypothesis.settings(FUZZ, max_examples=40)  # examples of many requests each

SQL = (
    "' OR 1=1 --",
    "'; DROP TABLE bookings_booking; --",
    "1' AND pg_sleep(5)--",
    '" OR ""="',
    "%' UNION SELECT NULL, NULL--",
    "\\'; COMMIT; DELETE FROM bookings_booking; --",
)
# Fragments that must never come back unescaped in a page (each holds a < or a quote that
# escaping changes, so a raw occurrence in the page is always a reflection).
MARKUP = (
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'><svg onload=alert(1)>",
    "</textarea><script>alert(1)</script>",
    '<a href="javascript:alert(1)">x</a>',
)
TEMPLATE = ("{{ request }}", "{% debug %}", "${7*7}", "%s%s%n", "{0.__class__}")
FORMULAS = ("=cmd|' /C calc'!A0", "+1", "-1+1", "@SUM(1)", '=HYPERLINK("http://x","y")')
CONTROL = ("\x00", "a\x00b", "\r\n", "\t", "\x1b[2J", "\u202e", "\ufeff", "\u200b", "\x7f")
FULL_WIDTH_ZERO = 0xFF10
OTHER_ZEROS = {"Arabic-Indic": 0x0660, "Extended Arabic-Indic": 0x06F0, "Devanagari": 0x0966}

RRN = "620714-1234567"
PHONE = "010-1234-5678"


def in_digits(text: str, zero: int) -> str:
    """``text`` with its ASCII digits written in the script whose zero is ``zero``."""
    return text.translate({ord("0") + i: zero + i for i in range(10)})


fragments = st.sampled_from(SQL + MARKUP + TEMPLATE + FORMULAS + CONTROL)
long_text = st.builds(
    lambda unit, times: (unit * times)[:10_000],
    st.text(min_size=1, max_size=10),
    st.integers(min_value=200, max_value=10_000),
)
garbage = st.one_of(
    st.text(),  # any code point but surrogates: control characters and NUL included
    fragments,
    st.lists(st.one_of(fragments, st.text(max_size=8)), min_size=2, max_size=5).map("".join),
    long_text,
)
zeros = st.sampled_from([FULL_WIDTH_ZERO, *OTHER_ZEROS.values()])


def field(valid: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """A valid value, the same in other digits or with a fragment around it, or garbage."""
    return st.one_of(
        valid,
        st.builds(in_digits, valid, zeros),
        st.builds(lambda value, extra: value + extra, valid, fragments),
        st.builds(lambda extra, value: extra + value, fragments, valid),
        garbage,
    )


def tampered(genuine: str) -> st.SearchStrategy[str]:
    """What a person can make of a signed value they were given: cut, extended, edited."""
    return st.one_of(
        st.integers(min_value=0, max_value=len(genuine) - 1).map(lambda i: genuine[:i]),
        st.text(min_size=1, max_size=20).map(lambda tail: genuine + tail),
        st.builds(
            lambda i, char: genuine[:i] + char + genuine[i + 1 :],
            st.integers(min_value=0, max_value=len(genuine) - 1),
            st.characters(),
        ),
        st.sampled_from([genuine.upper(), genuine.lower(), genuine[::-1], " " + genuine]),
    ).filter(lambda value: value != genuine)


names = st.one_of(
    st.sampled_from(["Kim Minsu", "김민수", "O'Brien", "Jean-Luc Picard", "  Lee   Ji-eun "]),
    st.text(alphabet=st.characters(categories=("L",)), min_size=1, max_size=40),
)
rrns = st.one_of(
    st.integers(min_value=0, max_value=999_999).map(rrn_for),
    st.integers(min_value=0, max_value=999_999).map(lambda n: rrn_for(n).replace("-", "")),
)
phones = st.sampled_from(
    [PHONE, "01012345678", "+82 10-1234-5678", "02-123-4567", "(031) 1234-5678"]
)
days = st.one_of(
    # mapped at draw time, so "today" is the test's today
    st.integers(min_value=-3, max_value=400).map(
        lambda n: (timezone.localdate() + timedelta(days=n)).isoformat()
    ),
    st.sampled_from(
        ["9999-12-31", "0001-01-01", "0000-01-01", "2021-02-30", "2030-13-01", "20300101"]
        + ["12/31/2030", "Dec 31 2030", "2030-1-1", "+2030-01-01", "2030-01-01T00:00"]
    ),
)
slot_numbers = st.one_of(
    st.integers().map(str),
    st.sampled_from(["0", "-1", "1.0", "1e3", "0x10", " 1 ", "١", "９", str(2**63), "9" * 5000]),
)

json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([2**31, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, 10**100, 10**4000]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
)
json_values = st.recursive(
    json_leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)


@st.composite
def forms(draw, valid: dict, fuzz: dict) -> dict:
    """A valid form, then some of its fields (often none, so the valid path is walked too)
    replaced by a fuzzed value. Shrinking leaves only the fields that matter."""
    form = {name: draw(strategy, label=name) for name, strategy in valid.items()}
    for name in sorted(draw(st.sets(st.sampled_from(sorted(valid))), label="fuzzed fields")):
        form[name] = draw(fuzz[name], label=f"fuzzed {name}")
    return {name: value for name, value in form.items() if value is not MISSING}


MISSING = object()  # a fuzzed API field that is left out of the body

identities = {"name": names, "rrn": rrns, "phone": phones}
fuzzed_identities = {name: field(strategy) for name, strategy in identities.items()}


@pytest.fixture(autouse=True)
def _no_abuse_limits(settings):
    # Hundreds of tries from one client address, often for one person: the abuse limits
    # (bookings.throttle) would answer 429 and hide what the views do with the input.
    settings.VAXBOOK_THROTTLE_PER_ADDRESS = 10**9
    settings.VAXBOOK_THROTTLE_PER_PERSON = 10**9


@pytest.fixture
def slot():
    return SlotFactory(clinic=ClinicFactory(code="jongno", region="Seoul"), capacity=1000)


def _answered(response, *inputs) -> None:
    """No server error; no markup fragment of the input comes back unescaped in a page."""
    assert response.status_code < 500, response.content[:2000]
    if response.get("Content-Type", "").startswith("text/html"):
        page = response.content.decode()
        for fragment in MARKUP:
            if any(fragment in str(value) for value in inputs):
                assert fragment not in page, f"{fragment!r} is reflected unescaped"


def _post_form(client: Client, url: str, data: dict, *, multipart: bool = False):
    """A form as a browser sends it (urlencoded), or as multipart."""
    if multipart:
        return client.post(url, data)
    return client.post(url, urlencode(data), content_type="application/x-www-form-urlencoded")


def _path(url: str) -> str:
    return urlparse(url).path


def _on_the_wire(value: str) -> str:
    """A header value as a WSGI server hands it to Django: the bytes the client sent (UTF-8
    here), decoded as ISO-8859-1 (PEP 3333). Django re-encodes it to read it."""
    return value.encode("utf-8").decode("iso-8859-1")


# --- Step 1: identify ----------------------------------------------------------------------


@FUZZ
@given(form=forms(identities, fuzzed_identities), multipart=st.booleans())
@example(form={"name": MARKUP[0], "rrn": RRN, "phone": PHONE}, multipart=False)
@example(form={"name": "Kim\x00", "rrn": RRN + "\x00", "phone": "\x00" + PHONE}, multipart=False)
@example(form={"name": "x" * 10_000, "rrn": "6" * 10_000, "phone": "0" * 10_000}, multipart=True)
@example(form={"name": SQL[1], "rrn": SQL[0], "phone": FORMULAS[0]}, multipart=False)
def test_identify_step_answers_any_name_rrn_and_phone(client, slot, form, multipart):
    slug = slot.campaign.slug
    before = Booking.objects.count()

    response = _post_form(
        client, reverse("bookings:start", kwargs={"campaign": slug}), form, multipart=multipart
    )

    _answered(response, *form.values())
    hypothesis.event(f"HTTP {response.status_code}")
    assert response.status_code in (200, 302)
    if response.status_code == 302:
        assert _path(response["Location"]) == reverse("bookings:choose", kwargs={"campaign": slug})
    assert Booking.objects.count() == before


@FUZZ
@given(n=st.integers(min_value=0, max_value=999_999), zero=zeros)
def test_registration_numbers_in_full_width_digits_pass_other_scripts_do_not(client, slot, n, zero):
    """NFKC folds full-width digits to ASCII; Arabic-Indic or Devanagari digits would give one
    person several spellings (and keyed hashes), so they are refused (bookings.identity)."""
    rrn = in_digits(rrn_for(n), zero)

    response = identify(client, slot.campaign.slug, rrn=rrn, phone=PHONE)

    assert response.status_code == (302 if zero == FULL_WIDTH_ZERO else 200)


form_bodies = st.one_of(
    st.binary(max_size=300),
    st.text().map(str.encode),
    st.lists(st.tuples(garbage, garbage), max_size=4).map(lambda pairs: urlencode(pairs).encode()),
    st.sampled_from([b"name=%FF%FE&rrn=%C0%80", b"name=%", b"%%%", b"a=b" + b"&a=b" * 2000]),
)
form_content_types = st.sampled_from(
    [
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=utf-8",
        "application/x-www-form-urlencoded; charset=latin-1",
        "application/x-www-form-urlencoded; charset=rot13",
        "multipart/form-data; boundary=x",
        "multipart/form-data",
        "application/json",
        "text/plain",
        "",
    ]
)


@FUZZ
@given(page=st.sampled_from(["start", "lookup"]), body=form_bodies, content_type=form_content_types)
def test_the_form_pages_answer_any_request_body(client, slot, page, body, content_type):
    url = (
        reverse("bookings:start", kwargs={"campaign": slot.campaign.slug})
        if page == "start"
        else reverse("bookings:lookup")
    )
    before = Booking.objects.count()

    response = client.generic("POST", url, body, content_type=content_type)

    hypothesis.event(f"HTTP {response.status_code}")
    assert response.status_code in (200, 400), response.content[:2000]
    assert Booking.objects.count() == before


# --- Step 2: choose ------------------------------------------------------------------------


@pytest.fixture
def choose_url(client, slot):
    response = identify(client, slot.campaign.slug, rrn=RRN)
    assert response.status_code == 302, response.content.decode()[:2000]
    return response["Location"]


@FUZZ
@given(data=st.data())
def test_choose_step_answers_any_region_clinic_and_date(client, slot, choose_url, data):
    valid = {
        "region": st.sampled_from(["Seoul", "Busan", ""]),
        "clinic": st.sampled_from([slot.clinic.code, ""]),
        "date": st.sampled_from([slot.date.isoformat(), ""]) | days,
    }
    query = data.draw(forms(valid, {name: field(s) for name, s in valid.items()}), label="query")
    before = Booking.objects.count()

    response = client.get(_path(choose_url), {"t": token_of(choose_url), **query})

    _answered(response, *query.values())
    assert response.status_code == 200
    assert Booking.objects.count() == before


@FUZZ
@given(data=st.data())
def test_choose_step_answers_any_slot(client, slot, choose_url, data):
    valid = {
        "clinic": st.just(slot.clinic.code),
        "date": st.just(slot.date.isoformat()),
        "slot": st.just(str(slot.pk)),
    }
    fuzz = {name: field(s) for name, s in valid.items()}
    fuzz["slot"] = field(st.just(str(slot.pk)) | slot_numbers)
    form = data.draw(forms(valid, fuzz), label="form")
    before = Booking.objects.count()

    response = _post_form(client, _path(choose_url), {"t": token_of(choose_url), **form})

    _answered(response, *form.values())
    hypothesis.event(f"HTTP {response.status_code}")
    assert response.status_code in (200, 302)
    if response.status_code == 302:
        review = reverse("bookings:review", kwargs={"campaign": slot.campaign.slug})
        assert _path(response["Location"]) == review
    assert Booking.objects.count() == before


# --- Step 3: review ------------------------------------------------------------------------


@pytest.fixture
def review_url(client, slot):
    return walk_to_review(client, slot, rrn=RRN)


@FUZZ
@given(data=st.data())
def test_review_step_refuses_any_token_but_its_own_and_writes_nothing(
    client, slot, review_url, data
):
    genuine = token_of(review_url)
    flow = steps.Flow(**client.session[steps.SESSION_KEY])
    other_step = steps.token_for(flow, steps.CHOOSE)  # this flow's, for the step before
    token = data.draw(st.one_of(garbage, tampered(genuine), st.just(other_step)), label="t")
    before = Booking.objects.count()

    response = _post_form(client, _path(review_url), {"t": token})

    _answered(response, token)
    # back to step 1 with "your booking session expired": the flow is not opened
    assert response.status_code == 302
    assert _path(response["Location"]) == reverse(
        "bookings:start", kwargs={"campaign": slot.campaign.slug}
    )
    assert Booking.objects.count() == before


# --- Lookup --------------------------------------------------------------------------------


@pytest.fixture
def confirmed(slot):
    booking = BookingFactory(slot=slot, rrn="630303-2345678", phone="010-9876-5432")
    return services.confirm_booking(booking.pk)


@FUZZ
@given(data=st.data())
def test_lookup_answers_any_code_rrn_and_phone(client, confirmed, data):
    code = confirmed.code
    valid = {
        "code": st.sampled_from([code, code.lower(), f"{code[:4]}-{code[4:]}", f" {code} "]),
        "rrn": st.sampled_from(["630303-2345678", "6303032345678", ""]),
        "phone": st.sampled_from(["010-9876-5432", "01098765432", ""]),
    }
    form = data.draw(forms(valid, {name: field(s) for name, s in valid.items()}), label="form")
    before = Booking.objects.count()

    response = _post_form(client, reverse("bookings:lookup"), form)

    _answered(response, *form.values())
    hypothesis.event(f"HTTP {response.status_code}")
    assert response.status_code in (200, 302)
    if response.status_code == 302:  # only ever to the one booking there is
        assert response["Location"] == reverse(
            "bookings:status", kwargs={"public_id": confirmed.public_id}
        )
    assert Booking.objects.count() == before


# --- API -----------------------------------------------------------------------------------


def _create_url(slot) -> str:
    return reverse("api:booking-create", kwargs={"campaign": slot.campaign.slug})


def _fuzzed_json(valid: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(field(valid), json_values, st.just(MISSING))


@FUZZ
@given(data=st.data())
def test_api_create_answers_any_json_and_stores_only_normal_forms(client, slot, data):
    valid = {**identities, "slot": st.sampled_from([slot.pk, str(slot.pk)])}
    fuzz = {name: _fuzzed_json(s) for name, s in identities.items()}
    fuzz["slot"] = _fuzzed_json(st.just(str(slot.pk)) | slot_numbers)
    body = data.draw(st.one_of(forms(valid, fuzz), json_values), label="body")
    before = Booking.objects.count()

    response = client.post(_create_url(slot), json.dumps(body), content_type="application/json")

    hypothesis.event(f"HTTP {response.status_code}")
    assert response.status_code in (202, 400, 409), response.content[:2000]
    answer = response.json()
    if response.status_code == 202:
        assert Booking.objects.count() == before + 1
        booking = Booking.objects.get(public_id=answer["id"])
        assert booking.name == normalise_name(booking.name)
        assert booking.phone == normalise_phone(booking.phone)
    else:
        assert Booking.objects.count() == before


raw_bodies = st.one_of(
    st.text().map(str.encode),
    st.binary(max_size=300),
    st.sampled_from(
        [
            b'{"slot": NaN}',
            b'{"slot": Infinity}',
            b'{"slot": -Infinity}',
            b'{"slot": 1e999}',
            b'{"slot": ' + b"9" * 5000 + b"}",
            b'{"name": "\\ud800", "rrn": "\\udfff", "phone": "\\u0000"}',
            b'{"\\ud800": 1}',
            b'{"name": "a", "name": "b"}',
            b"",
            b"null",
            b"[]",
            b'"text"',
            b"\xef\xbb\xbf{}",
            b"\xff\xfe{\x00}\x00",
            b'{"slot": 1',
        ]
    ),
)
api_content_types = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "application/json; charset=latin-1",
        "application/json; charset=utf-16",
        "application/json; charset=rot13",
        "application/json; charset=no-such-charset",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "",
    ]
)


@FUZZ
@given(body=raw_bodies, content_type=api_content_types)
def test_api_create_answers_any_request_body(client, slot, body, content_type):
    before = Booking.objects.count()

    # generic(): the body goes out byte for byte, whatever charset the header claims
    response = client.generic("POST", _create_url(slot), body, content_type=content_type)

    hypothesis.event(f"HTTP {response.status_code}")
    assert response.status_code in (400, 415), response.content[:2000]
    assert Booking.objects.count() == before


def _nested(depth: int, opening: str, closing: str, inner: str = "") -> str:
    return opening * depth + inner + closing * depth


@FUZZ
@given(
    depth=st.integers(min_value=1, max_value=200_000),
    container=st.sampled_from(["array", "object"]),
)
@example(depth=100_000, container="array")  # 200 kB; CPython 3.11 gives up at about 1,000
def test_api_create_answers_a_deeply_nested_body(client, slot, depth, container):
    """JSON nested deeper than the decoder can follow is malformed input like any other: 400,
    never a RecursionError escaping as a 500."""
    if container == "array":
        body = _nested(depth, "[", "]")
    else:
        body = _nested(depth, '{"name":', "}", '"Kim"')
    before = Booking.objects.count()

    response = client.post(_create_url(slot), body, content_type="application/json")

    assert response.status_code == 400, response.content[:2000]
    assert Booking.objects.count() == before


@FUZZ
@given(data=st.data())
def test_api_availability_answers_any_clinic_and_date(client, slot, data):
    valid = {"clinic": st.just(slot.clinic.code), "date": st.just(slot.date.isoformat())}
    fuzz = {
        "clinic": st.one_of(
            field(valid["clinic"]), st.lists(garbage, max_size=3), st.just(MISSING)
        ),
        "date": st.one_of(field(days), st.lists(days, max_size=3), st.just(MISSING)),
    }
    query = data.draw(forms(valid, fuzz), label="query")

    response = client.get(
        reverse("api:availability", kwargs={"campaign": slot.campaign.slug}), query
    )

    hypothesis.event(f"HTTP {response.status_code}")
    assert response.status_code in (200, 400, 404), response.content[:2000]
    assert isinstance(response.json(), dict)


# --- The waiting room ----------------------------------------------------------------------


def _queue_url(campaign) -> str:
    return reverse("campaigns:queue", kwargs={"campaign": campaign.slug})


@pytest.fixture
def rooms():
    """Three waiting rooms — admitting now, before its opening, switched off — and the
    genuine tickets and passes a person could get from them."""
    now = timezone.now()
    with time_machine.travel(now - timedelta(minutes=10), tick=False):
        admitting, elsewhere = (
            configure_waiting_room(
                CampaignFactory(opens_at=now - timedelta(hours=1)), enabled=True, per_minute=600
            )
            for _ in range(2)
        )
    upcoming = configure_waiting_room(
        CampaignFactory(opens_at=now + timedelta(hours=2), closes_at=now + timedelta(days=3)),
        enabled=True,
        per_minute=60,
    )
    switched_off = CampaignFactory()
    genuine = {}
    for campaign in (admitting, elsewhere, upcoming):
        browser = Client()
        assert join(browser, campaign).status_code == 303
        genuine.update({name: morsel.value for name, morsel in browser.cookies.items()})
    assert waiting_room.pass_cookie(admitting.slug) in genuine
    return [admitting, upcoming, switched_off], genuine


def _forged(salt: str) -> st.SearchStrategy[str]:
    """Signed the way the server signs, with a key that is not the server's."""
    return json_values.map(lambda value: signing.dumps(value, key="not-the-server-key", salt=salt))


def _cookie_values(genuine: dict, own: str) -> st.SearchStrategy[str | None]:
    values = list(genuine.values())
    return st.one_of(
        st.none(),
        garbage,
        _forged(waiting_room.TICKET_SALT),
        _forged(waiting_room.PASS_SALT),
        st.sampled_from(values),  # another room's, or a ticket used as a pass and back
        st.sampled_from(values).flatmap(tampered),
    ).filter(lambda value: value is None or value != genuine.get(own))


@FUZZ
@given(data=st.data())
def test_the_waiting_room_answers_any_ticket_pass_and_header(rooms, data):
    campaigns, genuine = rooms
    campaign = data.draw(st.sampled_from(campaigns), label="campaign")
    slug = campaign.slug
    ticket_name, pass_name = waiting_room.ticket_cookie(slug), waiting_room.pass_cookie(slug)
    cookies = {
        ticket_name: data.draw(_cookie_values(genuine, ticket_name), label="ticket"),
        pass_name: data.draw(_cookie_values(genuine, pass_name), label="pass"),
    }
    header = data.draw(_cookie_values(genuine, pass_name), label="X-Admission-Pass")
    headers = {} if header is None else {"X-Admission-Pass": _on_the_wire(header)}
    before = Booking.objects.count()

    def browser() -> Client:  # one per request: a response may set a new ticket
        client = Client()
        for name, value in cookies.items():
            if value is not None:
                client.cookies[name] = _on_the_wire(value)
        return client

    page = browser().get(_queue_url(campaign), headers=headers)
    status = browser().get(
        reverse("campaigns:queue-status", kwargs={"campaign": slug}), headers=headers
    )
    start = browser().get(reverse("bookings:start", kwargs={"campaign": slug}), headers=headers)

    _answered(page, *cookies.values(), header)
    hypothesis.event(f"queue page HTTP {page.status_code}")
    assert page.status_code in (200, 302)
    # a ticket the server did not issue for this room is no ticket
    assert status.status_code == 403 and status.json()["state"] == "no_ticket"
    # and a pass it did not issue for this room lets nobody through to the form
    if campaign.waiting_room_enabled:
        assert start.status_code == 302 and start["Location"] == _queue_url(campaign)
    else:
        assert start.status_code == 200
    assert Booking.objects.count() == before


@FUZZ
@given(data=st.data())
def test_the_waiting_room_answers_any_cookie_header(rooms, data):
    campaigns, _ = rooms
    campaign = data.draw(st.sampled_from(campaigns), label="campaign")
    raw = data.draw(
        st.one_of(
            garbage,
            st.lists(
                st.tuples(
                    st.sampled_from(
                        [waiting_room.ticket_cookie(campaign.slug), "sessionid", "a b", ""]
                        + [waiting_room.pass_cookie(campaign.slug)]
                    ),
                    garbage,
                ),
                max_size=4,
            ).map(lambda pairs: "; ".join(f"{name}={value}" for name, value in pairs)),
        ),
        label="Cookie",
    )

    for url in (
        _queue_url(campaign),
        reverse("campaigns:queue-status", kwargs={"campaign": campaign.slug}),
    ):
        response = Client().get(url, HTTP_COOKIE=_on_the_wire(raw))
        assert response.status_code in (200, 302, 403), response.content[:2000]


@FUZZ
@given(data=st.data())
def test_joining_the_waiting_room_answers_any_payload_without_a_ticket(rooms, data):
    campaigns, _ = rooms
    campaign = data.draw(st.sampled_from(campaigns[:2]), label="campaign")
    payload = data.draw(
        st.one_of(
            garbage,
            json_values.map(lambda v: base64.b64encode(json.dumps(v).encode()).decode()),
            st.builds(
                lambda challenge, solution: base64.b64encode(
                    json.dumps({"challenge": challenge, "solution": solution}).encode()
                ).decode(),
                json_values,
                json_values,
            ),
        ),
        label="altcha",
    )
    client = Client(REMOTE_ADDR=f"10.77.{data.draw(st.integers(0, 255))}.1")
    response = client.post(
        reverse("campaigns:queue-join", kwargs={"campaign": campaign.slug}),
        {"altcha": payload},
    )
    hypothesis.event(f"join HTTP {response.status_code}")
    assert response.status_code == 400, response.content[:2000]
    assert waiting_room.ticket_cookie(campaign.slug) not in response.cookies


# --- Names stored with markup --------------------------------------------------------------


def _is_accepted(name: str) -> bool:
    try:
        normalise_name(name)
    except IdentityError:
        return False
    return True


markup_names = (
    st.one_of(
        st.sampled_from(MARKUP + FORMULAS + SQL + TEMPLATE),
        st.lists(
            st.one_of(
                st.sampled_from(MARKUP + FORMULAS + SQL),
                st.text(alphabet=st.characters(categories=("L", "N", "P", "S", "Zs")), max_size=6),
            ),
            min_size=1,
            max_size=4,
        ).map("".join),
    )
    .map(lambda name: name[:50])
    .filter(_is_accepted)
)

people = itertools.count(700_000)  # rrn_for(n): people none of the other tests book


def _book_and_confirm(slot, raw_name: str) -> tuple[Booking, Client, str]:
    """Book through the pages as a person does; returns the confirmed booking, that person's
    browser and the review page it saw."""
    browser = Client()
    review_url = walk_to_review(browser, slot, rrn=rrn_for(next(people)), name=raw_name)
    review = browser.get(review_url)
    assert review.status_code == 200
    response = submit(browser, review_url)
    assert response.status_code == 302, response.content.decode()[:2000]
    public_id = _path(response["Location"]).rstrip("/").rsplit("/", 1)[1]
    booking = services.confirm_booking(Booking.objects.get(public_id=public_id).pk)
    assert booking.status == Booking.Status.CONFIRMED
    return booking, browser, review.content.decode()


def _shown_escaped(page: str, name: str, where: str) -> None:
    assert escape(name) in page, f"the name is not on the {where}"
    for fragment in MARKUP:
        if fragment in name:
            assert fragment not in page, f"{fragment!r} runs on the {where}"


def _roster_rows(content: bytes) -> list[list[str]]:
    assert content.startswith(codecs.BOM_UTF8)
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


@FUZZ_SLOW
@given(raw_name=markup_names)
@example(raw_name="<script>alert(1)</script>")
@example(raw_name='"><img src=x onerror=alert(1)>')
@example(raw_name="=cmd|' /C calc'!A0")
@example(raw_name="\t@SUM(1)")
def test_a_stored_name_is_escaped_in_the_admin_pages_and_neutralised_in_the_roster(
    admin_client, slot, raw_name
):
    name = normalise_name(raw_name)
    booking, browser, review = _book_and_confirm(slot, raw_name)
    assert booking.name == name

    pages = {
        "review page": review,
        "status page": browser.get(
            reverse("bookings:status", kwargs={"public_id": booking.public_id})
        ),
        "admin list": admin_client.get(
            reverse("admin:bookings_booking_changelist"), {"q": booking.code}
        ),
        "admin page": admin_client.get(reverse("admin:bookings_booking_change", args=[booking.pk])),
    }
    for where, page in pages.items():
        if not isinstance(page, str):
            assert page.status_code == 200, where
            page = page.content.decode()
        _shown_escaped(page, name, where)
        if name == "<script>alert(1)</script>":
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page, where

    csv_response = admin_client.get(
        reverse("clinics:roster", kwargs={"code": slot.clinic.code, "file_format": "csv"}),
        {"date": slot.date.isoformat()},
    )
    assert csv_response.status_code == 200
    [row] = [row for row in _roster_rows(csv_response.content) if row[1] == booking.code]
    cell = row[2]
    assert cell in (name, "'" + name)
    assert not cell.startswith(FORMULA_TRIGGERS), f"{cell!r} runs as a formula"

    api_roster = admin_client.get(
        reverse("api:roster", kwargs={"code": slot.clinic.code}), {"date": slot.date.isoformat()}
    )
    assert api_roster.status_code == 200
    assert api_roster["Content-Type"] == "application/json"
    assert name in [entry["name"] for entry in api_roster.json()["bookings"]]


@FUZZ_SLOW
@given(raw_name=markup_names)
@example(raw_name="<script>alert(1)</script>")
def test_a_stored_name_is_escaped_on_the_clinic_day_list(admin_user, slot, raw_name):
    name = normalise_name(raw_name)
    booking, _, _ = _book_and_confirm(slot, raw_name)

    # the day list shows today's bookings: look at it on the day of the appointment
    with time_machine.travel(datetime.combine(slot.date, time(8, 0), tzinfo=KST), tick=False):
        staff = Client()
        staff.force_login(admin_user)
        response = staff.get(reverse("clinics:day", kwargs={"code": slot.clinic.code}))

    assert response.status_code == 200
    page = response.content.decode()
    assert booking.code in page
    _shown_escaped(page, name, "clinic day list")
