"""The planner's page, walked as an official does: the form, the proposal for a 3.5 million
cohort from a measured benchmark rate, creating the windows (BookingWindows and their audit
events), the refusals, the warnings, and who may use it."""

import json
from collections import Counter
from datetime import datetime, time, timedelta
from fractions import Fraction

import pytest
from django.conf import settings
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from bookings.tests.doses import course_slots, first_day, two_dose_campaign
from campaigns.models import BookingWindow, Campaign
from campaigns.tests.factories import CampaignFactory
from clinics.tests.factories import ClinicFactory, SlotFactory, StaffMembershipFactory, UserFactory
from vaxbook.auditlog.models import AuditEvent
from vaxbook.dates import KST
from vaxbook.planner import benchmark
from vaxbook.roles import CLINIC_STAFF, OFFICIALS, ensure_roles

pytestmark = pytest.mark.django_db

FIRST_OPENING = "2027-01-04 20:00"


@pytest.fixture
def bench_results(tmp_path, settings):
    """An empty results directory the planner reads instead of bench/results."""
    settings.VAXBOOK_BENCH_RESULTS_DIR = tmp_path
    return tmp_path


def _write_result(directory, stamp: str, **values) -> None:
    (directory / f"{stamp}.json").write_text(
        json.dumps({"when": "2026-11-26T01:24:04+00:00", **values})
    )


@pytest.fixture
def campaign() -> Campaign:
    opens = datetime(2027, 1, 4, 20, 0, tzinfo=KST)
    return CampaignFactory(opens_at=opens, closes_at=opens + timedelta(days=30))


def _page(campaign) -> str:
    return reverse("planner:campaign", args=[campaign.pk])


def _fields(**overrides) -> dict:
    fields = {
        "cohort_size": 3_500_000,
        "rate_per_minute": "",
        "first_opening": FIRST_OPENING,
        "window_hours": 22,
        "surge_percent": "48.6",
        "set_admission_rate": "on",
    }
    fields.update(overrides)
    return fields


def test_the_form_alone_first(official, campaign, bench_results):
    response = official.get(_page(campaign))
    assert response.status_code == 200
    form = response.context["form"]
    assert set(form.fields) == {
        "cohort_size",
        "rate_per_minute",
        "first_opening",
        "window_hours",
        "surge_percent",
        "set_admission_rate",
    }
    assert form.initial["first_opening"] == campaign.opens_at
    assert response.context["proposal"] is None


def test_a_3_5_million_cohort_with_the_measured_rate_gets_windows_under_it(
    official, campaign, bench_results
):
    _write_result(bench_results, "20261120T100000", sustainable_admission_per_minute=3_000)
    _write_result(
        bench_results,
        "20261126T102404",
        sustainable_admission_per_minute=10_000.7,
        confirmed_per_s=13.4,
    )
    response = official.get(_page(campaign), _fields())
    assert response.status_code == 200
    rate = response.context["rate"]
    assert (rate.per_minute, rate.source, rate.result_file) == (
        10_000,
        benchmark.MEASURED,
        "20261126T102404.json",
    )
    proposal = response.context["proposal"]
    assert proposal.admission_rate_per_minute == 10_000
    assert sorted(d for w in proposal.windows for d in w.digits) == list(range(10))
    assert all(w.people * proposal.surge_fraction <= 10_000 * 60 for w in proposal.windows)
    assert len(proposal.windows) == 4
    assert proposal.windows[0].opens_at == datetime(2027, 1, 4, 20, 0, tzinfo=KST)


def test_without_a_measured_rate_it_is_derived_from_the_confirmations(
    official, campaign, bench_results
):
    _write_result(bench_results, "20261126T102404", confirmed_per_s=13.4)
    response = official.get(_page(campaign), _fields())
    rate = response.context["rate"]
    assert (rate.per_minute, rate.source) == (804, benchmark.DERIVED)
    proposal = response.context["proposal"]
    assert all(w.people * proposal.surge_fraction <= 804 * 60 for w in proposal.windows)
    assert "digit_over_rate" not in proposal.codes()


def test_a_rate_by_hand_wins_and_without_any_the_form_asks_for_one(
    official, campaign, bench_results
):
    response = official.get(_page(campaign), _fields())
    assert response.context["proposal"] is None
    assert "rate_per_minute" in response.context["form"].errors
    response = official.get(_page(campaign), _fields(rate_per_minute=20_000))
    assert response.context["rate"].source == benchmark.BY_HAND
    assert response.context["proposal"].admission_rate_per_minute == 20_000


def test_create_makes_the_windows_through_the_audited_services(official, campaign, bench_results):
    _write_result(bench_results, "20261126T102404", sustainable_admission_per_minute=10_000)
    response = official.post(_page(campaign), _fields())
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:campaigns_campaign_change", args=[campaign.pk])
    windows = list(BookingWindow.objects.filter(campaign=campaign).order_by("opens_at", "pk"))
    assert sorted(w.birth_day_last_digit for w in windows) == list(range(10))
    openings = sorted({w.opens_at for w in windows})
    assert len(openings) == 4
    assert openings[0] == datetime(2027, 1, 4, 20, 0, tzinfo=KST)
    assert all(w.closes_at - w.opens_at == timedelta(hours=22) for w in windows)
    added = AuditEvent.objects.filter(action=AuditEvent.Action.BOOKING_WINDOW_ADDED)
    assert sorted(e.details["window"] for e in added) == sorted(w.pk for w in windows)
    assert {e.object_id for e in added} == {str(campaign.pk)}
    campaign.refresh_from_db()
    assert campaign.waiting_room_enabled and campaign.admission_rate_per_minute == 10_000
    rate_events = AuditEvent.objects.filter(
        action=AuditEvent.Action.WAITING_ROOM_CHANGED, details__field="admission_rate_per_minute"
    )
    assert rate_events.get().details["new"] == 10_000
    assert [m.level_tag for m in get_messages(response.wsgi_request)] == ["success"]
    # every birth date of the cohort is covered by a window
    from campaigns.services import uncovered_birth_dates

    assert uncovered_birth_dates(campaign) == []


def test_create_can_leave_the_admission_rate_alone(official, campaign, bench_results):
    response = official.post(
        _page(campaign), _fields(rate_per_minute=10_000, set_admission_rate="")
    )
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert not campaign.waiting_room_enabled and campaign.admission_rate_per_minute == 600
    assert BookingWindow.objects.filter(campaign=campaign).count() == 10


def test_windows_overlapping_existing_ones_are_refused_and_nothing_is_written(
    official, campaign, bench_results
):
    existing = BookingWindow.objects.create(
        campaign=campaign,
        opens_at=datetime(2027, 1, 6, 9, 0, tzinfo=KST),  # inside the third proposed window
        closes_at=datetime(2027, 1, 6, 12, 0, tzinfo=KST),
        birth_day_last_digit=9,
    )
    response = official.post(_page(campaign), _fields(rate_per_minute=10_000))
    assert response.status_code == 409
    assert response.context["refusal"]
    assert list(BookingWindow.objects.filter(campaign=campaign)) == [existing]
    assert not AuditEvent.objects.exists()
    campaign.refresh_from_db()
    assert not campaign.waiting_room_enabled
    # a first opening after it goes through
    response = official.post(
        _page(campaign), _fields(rate_per_minute=10_000, first_opening="2027-01-07 20:00")
    )
    assert response.status_code == 302
    assert BookingWindow.objects.filter(campaign=campaign).count() == 11


def test_an_invalid_post_creates_nothing(official, campaign, bench_results):
    response = official.post(_page(campaign), _fields(rate_per_minute=10_000, window_hours=25))
    assert response.status_code == 200
    assert "window_hours" in response.context["form"].errors
    assert not BookingWindow.objects.exists()
    assert not AuditEvent.objects.exists()


def test_places_and_second_doses_short_are_warned_of(official, bench_results):
    campaign = two_dose_campaign()
    clinic = ClinicFactory()
    # 10 first-dose places, only 3 for their second doses; one place booked elsewhere
    course_slots(campaign, clinic=clinic, day=first_day(), times=(time(9, 0),), second_capacity=3)
    SlotFactory(campaign=campaign, clinic=clinic, date=first_day() - timedelta(days=1), booked=1)
    response = official.get(_page(campaign), _fields(cohort_size=100, rate_per_minute=1_000))
    places = response.context["places"]
    assert (places.offered, places.booked, places.free) == (23, 1, 22)
    assert places.second_dose_days_short >= 1
    codes = {w["code"] for w in response.context["warnings"]}
    assert {"places_short", "second_doses_short"} <= codes
    short = next(w for w in response.context["proposal"].warnings if w.code == "places_short")
    assert short.params["needed"] == 200  # two doses each


def test_enough_places_warn_of_nothing(official, bench_results):
    opens = timezone.now() + timedelta(days=1)
    campaign = CampaignFactory(opens_at=opens, closes_at=opens + timedelta(days=30))
    SlotFactory(campaign=campaign, capacity=500)
    response = official.get(
        _page(campaign),
        _fields(
            cohort_size=100,
            rate_per_minute=1_000,
            first_opening=timezone.localtime(opens).strftime("%Y-%m-%d %H:%M"),
        ),
    )
    assert response.context["warnings"] == []


# Who may plan: officials; not clinic staff (403), not anonymous (to the login).


def test_clinic_staff_are_refused(campaign, bench_results):
    membership = StaffMembershipFactory(user=UserFactory(is_staff=True))
    membership.user.groups.add(ensure_roles()[CLINIC_STAFF])
    client = Client()
    client.force_login(membership.user)
    assert client.get(_page(campaign)).status_code == 403
    assert client.post(_page(campaign), _fields(rate_per_minute=10_000)).status_code == 403
    assert not BookingWindow.objects.exists()


def test_an_official_without_the_window_permission_is_refused(campaign, bench_results):
    user = UserFactory(is_staff=True)
    user.groups.add(ensure_roles()[OFFICIALS])
    from django.contrib.auth.models import Permission

    group = ensure_roles()[OFFICIALS]
    group.permissions.remove(Permission.objects.get(codename="add_bookingwindow"))
    client = Client()
    client.force_login(user)
    assert client.get(_page(campaign)).status_code == 403


def test_anonymous_is_sent_to_the_login(campaign):
    response = Client().get(_page(campaign))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_a_campaign_that_does_not_exist_is_404(official):
    assert official.get(reverse("planner:campaign", args=[999_999])).status_code == 404


def test_the_campaign_page_links_to_the_planner(official, campaign):
    page = official.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk]))
    assert page.status_code == 200
    assert f'href="{_page(campaign)}"' in page.content.decode()


def test_every_warning_the_plan_gives_has_its_sentence(official, campaign):
    from vaxbook.planner.plan import birth_day_digit_weights, propose
    from vaxbook.planner.views import _warning_text

    proposal = propose(
        cohort=3_500_000,
        rate_per_minute=100,
        first_opening=campaign.opens_at,
        digit_weights=birth_day_digit_weights(campaign.born_from, campaign.born_to),
        window_hours=2,
        places_free=0,
        doses=2,
        second_dose_days_short=2,
        second_dose_missing=7,
        campaign_closes_at=campaign.opens_at,
    )
    codes = {
        "places_short",
        "second_doses_short",
        "digit_over_rate",
        "window_too_short",
        "after_campaign_closes",
    }
    assert proposal.codes() == codes
    one_day_over = propose(  # 60 a first hour; one day of births holds ~548 people
        cohort=1_000_000,
        rate_per_minute=1,
        first_opening=campaign.opens_at,
        birth_range=(campaign.born_from, campaign.born_to),
    )
    assert "day_over_rate" in one_day_over.codes()
    shown = [_warning_text(w) for w in proposal.warnings + one_day_over.warnings[:1]]
    assert all(w["text"] and w["text"] != w["code"] for w in shown)


def _create_form_fields(html: str) -> dict:
    """The hidden fields of the page's "create these windows" form, as a browser posts them."""
    from html.parser import HTMLParser

    class Inputs(HTMLParser):
        inside, fields = False, {}

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            if tag == "form":
                self.inside = attrs.get("id") == "create-windows"
            elif tag == "input" and self.inside and attrs.get("type") == "hidden":
                self.fields[attrs["name"]] = attrs.get("value", "")

        def handle_endtag(self, tag):
            if tag == "form":
                self.inside = False

    parser = Inputs()
    parser.feed(html)
    return parser.fields


def test_the_button_under_the_proposal_creates_what_it_shows(official, campaign, bench_results):
    _write_result(bench_results, "20261126T102404", sustainable_admission_per_minute=10_000)
    page = official.get(_page(campaign), _fields())
    shown = page.context["proposal"]
    posted = _create_form_fields(page.content.decode())
    assert posted.pop("csrfmiddlewaretoken")
    assert set(posted) == set(page.context["form"].fields)
    response = official.post(_page(campaign), posted)
    assert response.status_code == 302
    created = BookingWindow.objects.filter(campaign=campaign)
    assert {(w.opens_at, w.closes_at, w.birth_day_last_digit) for w in created} == {
        (w.opens_at, w.closes_at, d) for w in shown.windows for d in w.digits
    }
    campaign.refresh_from_db()
    assert campaign.waiting_room_enabled


def test_unticking_the_rate_carries_through_the_button(official, campaign, bench_results):
    page = official.get(_page(campaign), _fields(rate_per_minute=10_000, set_admission_rate=""))
    posted = _create_form_fields(page.content.decode())
    assert official.post(_page(campaign), posted).status_code == 302
    campaign.refresh_from_db()
    assert not campaign.waiting_room_enabled
    assert BookingWindow.objects.filter(campaign=campaign).count() == 10


def _covering(windows, day) -> list:
    return [w for w in windows if w.covers(day)]


@pytest.mark.parametrize(("rate", "openings"), [(10_000, 4), (800, 41)])
def test_3_5_million_created_through_the_page_keep_every_opening_under_the_rate(
    official, bench_results, rate, openings
):
    """The page's proposal, created with its button: each person of the cohort is in exactly
    one booking window, and each opening's expected first-hour arrivals (its share of the
    cohort's calendar days × 3.5 million × 48.6 %) are at most the rate × 60 — at a high
    measured rate and at the small benchmark box's, where digits are split by birth date."""
    opens = datetime(2027, 1, 4, 20, 0, tzinfo=KST)
    campaign = CampaignFactory(opens_at=opens, closes_at=opens + timedelta(days=60))
    _write_result(bench_results, "20261126T102404", sustainable_admission_per_minute=rate)
    page = official.get(_page(campaign), _fields())
    assert page.status_code == 200
    # no slots in this campaign: only the places are short
    assert [w["code"] for w in page.context["warnings"]] == ["places_short"]
    posted = _create_form_fields(page.content.decode())
    response = official.post(_page(campaign), posted)
    assert response.status_code == 302
    rows = list(BookingWindow.objects.filter(campaign=campaign))
    windows = campaign.booking_windows()
    cohort_days = (campaign.born_to - campaign.born_from).days + 1
    days_of = Counter()
    day = campaign.born_from
    while day <= campaign.born_to:
        (covering,) = _covering(windows, day)  # exactly one window for every birth date
        days_of[covering.opens_at] += 1
        day += timedelta(days=1)
    assert len(days_of) == openings
    surge = Fraction(486, 1000)
    for days in days_of.values():
        assert Fraction(3_500_000 * days, cohort_days) * surge <= rate * 60
    # one opening a day, each through the audited path
    assert sorted(days_of) == [opens + timedelta(days=n) for n in range(openings)]
    added = AuditEvent.objects.filter(action=AuditEvent.Action.BOOKING_WINDOW_ADDED)
    assert sorted(e.details["window"] for e in added) == sorted(w.pk for w in rows)
    campaign.refresh_from_db()
    assert campaign.admission_rate_per_minute == rate


def test_more_windows_than_the_campaign_has_days_are_shown_with_a_warning(
    official, campaign, bench_results
):
    response = official.get(_page(campaign), _fields(rate_per_minute=800))
    proposal = response.context["proposal"]
    assert len(proposal.windows) == 41 and len(response.context["rows"]) == 41
    late = next(w for w in proposal.warnings if w.code == "after_campaign_closes")
    assert late.params == {"window": 31, "days": 41, "fit": 30}
    assert [w["code"] for w in response.context["warnings"]] == [
        "places_short",  # no slots in this campaign
        "after_campaign_closes",
    ]
    # and it can still be created, whole
    posted = _create_form_fields(response.content.decode())
    assert official.post(_page(campaign), posted).status_code == 302
    assert BookingWindow.objects.filter(campaign=campaign).count() == 41


def test_large_numbers_are_grouped_in_thousands(official, campaign, bench_results):
    for language in ("ko", "en"):
        official.cookies[settings.LANGUAGE_COOKIE_NAME] = language
        page = official.get(_page(campaign), _fields(rate_per_minute=10_000))
        html = page.content.decode()
        assert "3,500,000" in html and "600,000" in html and "10,000" in html
        row = page.context["rows"][0]["window"]
        assert f"{row.people:,}" in html


@pytest.mark.parametrize(
    "content",
    [
        '{"when": "2026-13-45T00:00:00+00:00", "sustainable_admission_per_minute": 900}',
        '{"when": "2026-11-26T01:24:04", "sustainable_admission_per_minute": 900}',
        '{"when": "2026-11-26T01:24:04+00:00", "sustainable_admission_per_minute": Infinity}',
        '{"sustainable_admission_per_minute": 900}',
    ],
)
def test_a_bad_benchmark_result_does_not_break_the_page(official, campaign, bench_results, content):
    """A result the planner cannot use is passed over (then the rate is entered by hand);
    one without a time, or with a time without its offset (taken as UTC), is shown."""
    (bench_results / "20261126T000000.json").write_text(content)
    response = official.get(_page(campaign))
    assert response.status_code == 200
    response = official.get(_page(campaign), _fields(rate_per_minute=10_000))
    assert response.status_code == 200
    assert response.context["proposal"] is not None
