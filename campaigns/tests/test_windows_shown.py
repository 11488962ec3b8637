"""Who books when, said before the queue and the identity step: the home and queue pages list
each booking window (whom it is for, when it opens and closes), and a person of the cohort
whom no window is for is told so, with whom to contact — not that a window has closed."""

import math
import re
from datetime import UTC, date, timedelta
from html import unescape

import pytest
import time_machine
from django.forms.forms import NON_FIELD_ERRORS
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from bookings import services as booking_services
from bookings.errors import OutOfCohort, WindowClosed
from bookings.identity import parse_rrn
from bookings.tests.flow import identify
from campaigns import services
from campaigns.models import BookingWindow
from campaigns.tests.factories import CampaignFactory
from campaigns.tests.queue import join

pytestmark = pytest.mark.django_db

BORN_ON_19TH = "620719-1234567"  # birth day ends in 9
BORN_ON_11TH = "620711-1234567"  # ends in 1: no window below is for it
WINDOW = re.compile(r'<li class="booking-window"([^>]*)>')


def _windows_listed(page: str, slug: str) -> list[dict[str, str]]:
    """The data attributes of each window the page lists for the campaign ``slug``."""
    match = re.search(
        rf'<ul class="booking-windows" id="windows-{slug}"[^>]*>(.*?)</ul>', page, re.S
    )
    assert match, f"no list of windows for {slug}"
    listed = [
        {k: unescape(v) for k, v in re.findall(r'data-([\w-]+)="([^"]*)"', attributes)}
        for attributes in WINDOW.findall(match.group(1))
    ]
    assert [w.pop("window") for w in listed] == [str(n) for n in range(1, len(listed) + 1)]
    return listed


@pytest.fixture
def rotation():
    """Birth days ending in 9 book today, those ending in 0 tomorrow; nobody else has a window."""
    now = timezone.now().replace(microsecond=0)
    campaign = CampaignFactory(
        opens_at=now - timedelta(hours=1),
        closes_at=now + timedelta(days=5),
        contact="Seoul public health centre, 02-120",
    )
    nines = BookingWindow.objects.create(
        campaign=campaign,
        birth_day_last_digit=9,
        opens_at=now - timedelta(hours=1),
        closes_at=now + timedelta(hours=2),
    )
    zeros = BookingWindow.objects.create(
        campaign=campaign,
        birth_day_last_digit=0,
        born_from=date(1962, 1, 1),
        born_to=date(1964, 12, 31),
        opens_at=now + timedelta(days=1),
        closes_at=now + timedelta(days=1, hours=3),
    )
    return campaign, nines, zeros


def test_the_home_page_lists_each_window_whom_it_is_for_and_when(rotation):
    campaign, nines, zeros = rotation
    page = Client().get(reverse("home")).content.decode()
    assert _windows_listed(page, campaign.slug) == [
        {
            "state": "open",
            "opens-at": nines.opens_at.astimezone(UTC).isoformat(),
            "closes-at": nines.closes_at.astimezone(UTC).isoformat(),
            "last-digit": "9",
        },
        {
            "state": "scheduled",
            "opens-at": zeros.opens_at.astimezone(UTC).isoformat(),
            "closes-at": zeros.closes_at.astimezone(UTC).isoformat(),
            "last-digit": "0",
            "born-from": "1962-01-01",
            "born-to": "1964-12-31",
        },
    ]


def test_a_campaign_without_staggered_windows_lists_its_own_for_the_whole_cohort():
    campaign = CampaignFactory()
    page = Client().get(reverse("home")).content.decode()
    assert _windows_listed(page, campaign.slug) == [
        {
            "state": "open",
            "opens-at": campaign.opens_at.astimezone(UTC).isoformat(),
            "closes-at": campaign.closes_at.astimezone(UTC).isoformat(),
        }
    ]


def test_the_queue_page_lists_the_windows_before_anyone_queues(rotation):
    campaign, nines, zeros = rotation
    zeros.opens_at = nines.opens_at + timedelta(days=2)  # the room opens for the next window
    zeros.closes_at = zeros.opens_at + timedelta(hours=3)
    zeros.save()
    with time_machine.travel(nines.closes_at + timedelta(minutes=1), tick=False):
        services.configure_waiting_room(campaign, enabled=True, per_minute=60)
        client = Client()
        waiting = client.get(reverse("campaigns:queue", kwargs={"campaign": campaign.slug}))
        assert waiting.status_code == 200
        listed = _windows_listed(waiting.content.decode(), campaign.slug)
        assert [w["state"] for w in listed] == ["closed", "scheduled"]
        assert [w["opens-at"] for w in listed] == [
            nines.opens_at.astimezone(UTC).isoformat(),
            zeros.opens_at.astimezone(UTC).isoformat(),
        ]
        assert listed[1]["last-digit"] == "0" and listed[1]["born-to"] == "1964-12-31"
        # and once in the line, still
        join(client, campaign)
        in_line = client.get(reverse("campaigns:queue", kwargs={"campaign": campaign.slug}))
        assert len(_windows_listed(in_line.content.decode(), campaign.slug)) == 2


def test_a_person_whom_no_window_is_for_is_told_so_not_that_the_window_closed(rotation):
    campaign, _, _ = rotation
    with pytest.raises(WindowClosed) as refused:
        booking_services.check_booking_allowed(
            campaign, rrn=parse_rrn(BORN_ON_11TH), admission=None
        )
    assert refused.value.reason == "not_covered"
    assert campaign.contact in refused.value.message


def test_the_identity_step_says_not_covered_and_whom_to_contact(client, rotation):
    campaign, _, _ = rotation
    response = identify(client, campaign.slug, rrn=BORN_ON_11TH)
    assert response.status_code == 200
    form = response.context["form"]
    assert form.has_error(NON_FIELD_ERRORS, "window_closed")
    [said] = form.non_field_errors()
    assert campaign.contact in said
    # a person whose window is tomorrow is still told "tomorrow", not "no window"
    with pytest.raises(WindowClosed) as refused:
        booking_services.check_booking_allowed(
            campaign, rrn=parse_rrn("621010-1234567"), admission=None
        )
    assert refused.value.reason == "window"


def test_out_of_cohort_names_the_campaign_that_is_for_that_birth_date():
    now = timezone.now()
    tried = CampaignFactory(born_from=date(1962, 1, 1), born_to=date(1966, 12, 31))
    CampaignFactory(  # closed: no use to anyone
        name="Last year's round",
        born_from=date(1967, 1, 1),
        born_to=date(1971, 12, 31),
        opens_at=now - timedelta(days=30),
        closes_at=now - timedelta(days=20),
    )
    coming = CampaignFactory(
        name="Cohort 50-54",
        born_from=date(1967, 1, 1),
        born_to=date(1971, 12, 31),
        opens_at=now + timedelta(days=3),
        closes_at=now + timedelta(days=10),
    )
    with pytest.raises(OutOfCohort) as refused:
        booking_services.check_booking_allowed(
            tried, rrn=parse_rrn("690305-1234567"), admission=None
        )
    assert refused.value.other_campaign == coming
    assert coming.name in refused.value.message
    with pytest.raises(OutOfCohort) as nobody:  # no campaign for 1990
        booking_services.check_booking_allowed(
            tried, rrn=parse_rrn("900305-1234567"), admission=None
        )
    assert nobody.value.other_campaign is None

    # the identify page links to the campaign that is for this person
    page = Client().post(
        reverse("bookings:start", kwargs={"campaign": tried.slug}),
        {"name": "김영수", "rrn": "690305-1234567", "phone": "010-1234-5678"},
    )
    assert page.status_code == 200 and list(page.context["form"].errors) == ["rrn"]
    link = re.search(r'<a id="other-campaign" href="([^"]+)"', page.content.decode())
    assert link and link.group(1) == reverse("bookings:start", kwargs={"campaign": coming.slug})


@pytest.mark.usefixtures("draw_at_the_opening_instant")
def test_the_queue_page_announces_changes_in_one_polite_region_not_the_whole_box(campaign, opening):
    with time_machine.travel(opening - timedelta(minutes=5), tick=False):
        client = Client()
        join(client, campaign)
        page = client.get(reverse("campaigns:queue", kwargs={"campaign": campaign.slug}))
    body = page.content.decode()
    box = re.search(r'<div class="card" id="queue"[^>]*>', body).group(0)
    assert "aria-live" not in box  # the whole box would be read out at every poll
    region = re.search(r'<p[^>]*id="queue-announce"[^>]*>', body).group(0)
    assert 'aria-live="polite"' in region and 'role="status"' in region
    # the script takes its words from the region's data attributes, not from itself
    assert {"data-position", "data-ahead", "data-wait"} <= set(re.findall(r"data-[\w-]+", region))


@pytest.mark.usefixtures("draw_at_the_opening_instant")
def test_the_status_answer_carries_the_wait_as_words_for_the_page(campaign, opening):
    with time_machine.travel(opening - timedelta(minutes=5), tick=False):
        clients = [Client() for _ in range(3)]
        for c in clients:
            join(c, campaign)
    with time_machine.travel(opening + timedelta(seconds=1), tick=False):
        services.run_draw(campaign.pk)
        answers = [
            c.get(reverse("campaigns:queue-status", kwargs={"campaign": campaign.slug})).json()
            for c in clients
        ]
    waiting = [a for a in answers if a["state"] == "waiting"]
    assert waiting
    for answer in waiting:  # the minutes the page shows are the ones the estimate gives
        assert str(math.ceil(answer["wait_seconds"] / 60)) in answer["wait_text"]
