"""What the property tests throw at every citizen-facing form, API field and waiting-room cookie
(Hypothesis strategies), the settings they run with, and the checks each makes of an answer.

Whatever arrives — arbitrary text with control characters and NUL bytes, strings of thousands
of characters, SQL, HTML and spreadsheet-formula fragments, digits of other scripts, arbitrary
JSON values, forged cookies and headers — the answer is never a server error, a refused request
writes no booking, and a name that passes validation is shown escaped (and neutralised in the
CSV) wherever people read it.

The test client re-raises an exception of a view (``raise_request_exception``, on by default),
so a server error fails the property with its traceback; ``answered`` also checks the status
code for a 5xx the app might render itself.

Hypothesis runs the examples of one test inside that test's database transaction and with its
function-scoped fixtures, so rows add up from example to example: each property compares counts
around one request. Clients that must not carry cookies from one example to the next are made
inside the example.
"""

from datetime import timedelta
from urllib.parse import urlencode, urlparse

import hypothesis
from django.test import Client
from django.utils import timezone
from django.utils.html import escape
from hypothesis import HealthCheck
from hypothesis import strategies as st

from bookings.identity import IdentityError, normalise_name
from bookings.tests.factories import rrn_for

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

# Whole request bodies for the form pages, in whatever content type.
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


def _is_accepted(name: str) -> bool:
    try:
        normalise_name(name)
    except IdentityError:
        return False
    return True


# Names the identity step accepts that hold markup, formulas, SQL or template syntax: what a
# page, a roster or the admin must show as text.
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


def without_abuse_limits(settings) -> None:
    """Hundreds of tries from one client address, often for one person: the abuse limits
    (bookings.throttle) would answer 429 and hide what the views do with the input."""
    settings.VAXBOOK_THROTTLE_PER_ADDRESS = 10**9
    settings.VAXBOOK_THROTTLE_PER_PERSON = 10**9


def answered(response, *inputs) -> None:
    """No server error; no markup fragment of the input comes back unescaped in a page."""
    assert response.status_code < 500, response.content[:2000]
    if response.get("Content-Type", "").startswith("text/html"):
        page = response.content.decode()
        for fragment in MARKUP:
            if any(fragment in str(value) for value in inputs):
                assert fragment not in page, f"{fragment!r} is reflected unescaped"


def shown_escaped(page: str, name: str, where: str) -> None:
    """The name is on the page, as text: none of its markup runs."""
    assert escape(name) in page, f"the name is not on the {where}"
    for fragment in MARKUP:
        if fragment in name:
            assert fragment not in page, f"{fragment!r} runs on the {where}"


def post_form(client: Client, url: str, data: dict, *, multipart: bool = False):
    """A form as a browser sends it (urlencoded), or as multipart."""
    if multipart:
        return client.post(url, data)
    return client.post(url, urlencode(data), content_type="application/x-www-form-urlencoded")


def path_of(url: str) -> str:
    return urlparse(url).path


def on_the_wire(value: str) -> str:
    """A header value as a WSGI server hands it to Django: the bytes the client sent (UTF-8
    here), decoded as ISO-8859-1 (PEP 3333). Django re-encodes it to read it."""
    return value.encode("utf-8").decode("iso-8859-1")
