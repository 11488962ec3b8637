"""Staggered windows: part of the cohort books at a time (the August 2021 birth-day rotation)."""

from datetime import date, timedelta

import pytest
import time_machine
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.forms.forms import NON_FIELD_ERRORS
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from bookings import services as booking_services
from bookings.models import Booking
from bookings.tests.factories import BookingFactory
from bookings.tests.flow import identify, submit, walk_to_review
from campaigns import services
from campaigns.models import BookingWindow
from campaigns.tests.admin_forms import campaign_form, campaign_page
from campaigns.tests.factories import CampaignFactory
from campaigns.windows import (
    WindowState,
    closed_message,
    describe,
    format_kst,
    window_state,
    windows_of,
)
from clinics.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db

BORN_ON_19TH = "620719-1234567"  # birth day ends in 9
BORN_ON_10TH = "620710-2234567"  # ends in 0


@pytest.fixture
def today_window():
    """Today: birth days ending in 9 (open now); tomorrow: ending in 0."""
    now = timezone.now()
    campaign = CampaignFactory(opens_at=now - timedelta(hours=1), closes_at=now + timedelta(days=5))
    nines = BookingWindow.objects.create(
        campaign=campaign,
        label="Ending in 9",
        birth_day_last_digit=9,
        opens_at=now - timedelta(hours=1),
        closes_at=now + timedelta(hours=2),
    )
    zeros = BookingWindow.objects.create(
        campaign=campaign,
        label="Ending in 0",
        birth_day_last_digit=0,
        opens_at=now + timedelta(days=1),
        closes_at=now + timedelta(days=1, hours=3),
    )
    return campaign, nines, zeros


def test_the_rule_follows_the_persons_window(today_window):
    campaign, nines, zeros = today_window
    assert window_state(campaign) is WindowState.OPEN
    assert window_state(campaign, birth_date=date(1962, 7, 19)) is WindowState.OPEN
    assert window_state(campaign, birth_date=date(1962, 7, 10)) is WindowState.SCHEDULED
    assert window_state(campaign, birth_date=date(1962, 7, 11)) is WindowState.CLOSED  # no window
    between = nines.closes_at + timedelta(minutes=1)
    assert window_state(campaign, now=between) is WindowState.SCHEDULED
    assert (
        window_state(campaign, now=zeros.opens_at, birth_date=date(1962, 7, 10)) is WindowState.OPEN
    )


def test_a_narrower_birth_date_range(today_window):
    campaign, nines, _ = today_window
    nines.birth_day_last_digit = None
    nines.born_from, nines.born_to = date(1962, 1, 1), date(1962, 12, 31)
    nines.save()
    assert window_state(campaign, birth_date=date(1962, 3, 3)) is WindowState.OPEN
    assert window_state(campaign, birth_date=date(1963, 3, 3)) is not WindowState.OPEN


def test_the_person_whose_window_is_tomorrow_is_told_which_and_when(client, today_window):
    campaign, _, zeros = today_window
    response = identify(client, campaign.slug, rrn=BORN_ON_10TH)
    assert response.status_code == 200
    form = response.context["form"]
    assert form.has_error(NON_FIELD_ERRORS, "window_closed")
    [said] = form.non_field_errors()
    assert said == closed_message(campaign, WindowState.SCHEDULED, birth_date=date(1962, 7, 10))
    [tomorrows] = [w for w in windows_of(campaign) if w.opens_at == zeros.opens_at]
    assert describe(tomorrows) in said and format_kst(zeros.opens_at) in said  # which, and when
    page = response.content.decode()
    assert 'data-refusal="window_closed"' in page and escape(said) in page
    assert "booking_flow" not in client.session


def test_the_person_whose_window_is_open_books(client, today_window):
    campaign, _, _ = today_window
    slot = SlotFactory(campaign=campaign)
    response = submit(client, walk_to_review(client, slot, rrn=BORN_ON_19TH))
    assert response.status_code == 302
    booking = Booking.objects.get()
    booking_services.confirm_booking(booking.pk)
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED


def test_between_windows_the_guard_says_when_the_next_opens(client, today_window):
    campaign, nines, zeros = today_window
    with time_machine.travel(nines.closes_at + timedelta(minutes=1), tick=False):
        response = client.get(reverse("bookings:start", kwargs={"campaign": campaign.slug}))
    assert response.status_code == 403
    assert format_kst(zeros.opens_at) in response.content.decode()


def test_a_person_inside_the_flow_when_their_window_closes_cannot_submit(client, today_window):
    campaign, nines, _ = today_window
    nines.closes_at = timezone.now() + timedelta(minutes=10)  # well within the token's life
    nines.save()
    BookingWindow.objects.create(  # another window keeps the campaign open
        campaign=campaign,
        label="Everyone else",
        opens_at=nines.opens_at,
        closes_at=nines.closes_at + timedelta(hours=5),
        birth_day_last_digit=1,
    )
    slot = SlotFactory(campaign=campaign)
    review = walk_to_review(client, slot, rrn=BORN_ON_19TH)
    with time_machine.travel(nines.closes_at + timedelta(seconds=1), tick=False):
        response = submit(client, review)
    assert response.status_code == 403
    # the person's own window has closed, not the campaign's: said as such
    assert 'id="window-closed" data-state="closed"' in response.content.decode()
    told = response.context["message"]
    assert told == closed_message(campaign, WindowState.CLOSED, birth_date=date(1962, 7, 19))
    assert told != closed_message(campaign, WindowState.CLOSED)
    assert Booking.objects.count() == 0


def test_the_worker_rejects_a_booking_requested_outside_the_persons_window(today_window):
    campaign, nines, _ = today_window
    slot = SlotFactory(campaign=campaign)
    planted = BookingFactory(
        slot=slot, rrn=BORN_ON_10TH, requested_at=nines.opens_at + timedelta(minutes=1)
    )
    booking_services.confirm_booking(planted.pk)
    planted.refresh_from_db()
    assert planted.status == Booking.Status.REJECTED
    assert planted.reject_reason == Booking.RejectReason.OUTSIDE_WINDOW


def test_windows_that_leave_part_of_the_cohort_out_are_found(today_window):
    campaign, _, _ = today_window
    campaign.born_from, campaign.born_to = date(1962, 7, 1), date(1962, 7, 31)
    gaps = services.uncovered_birth_dates(campaign)
    assert (date(1962, 7, 1), date(1962, 7, 8)) in gaps
    assert (date(1962, 7, 11), date(1962, 7, 18)) in gaps
    for digit in range(10):
        BookingWindow.objects.create(
            campaign=campaign,
            birth_day_last_digit=digit,
            opens_at=campaign.opens_at,
            closes_at=campaign.closes_at,
        )
    assert services.uncovered_birth_dates(campaign) == []


def test_a_campaign_without_windows_has_no_gaps():
    assert services.uncovered_birth_dates(CampaignFactory()) == []


def test_the_admin_warns_about_a_gap_and_shows_the_timeline(admin_client, today_window):
    campaign, nines, zeros = today_window
    url = campaign_page(campaign)
    page = admin_client.get(url).content.decode()
    assert "Ending in 9" in page and "Ending in 0" in page and format_kst(zeros.opens_at) in page

    local_open, local_close = (
        timezone.localtime(campaign.opens_at),
        timezone.localtime(campaign.closes_at),
    )
    form = campaign_form(
        campaign,
        opens_at_0=local_open.date().isoformat(),
        opens_at_1=local_open.time().isoformat(),
        closes_at_0=local_close.date().isoformat(),
        closes_at_1=local_close.time().isoformat(),
        **{"windows-TOTAL_FORMS": "2", "windows-INITIAL_FORMS": "2"},
    )
    for i, window in enumerate((nines, zeros)):
        o, c = timezone.localtime(window.opens_at), timezone.localtime(window.closes_at)
        form.update(
            {
                f"windows-{i}-id": window.pk,
                f"windows-{i}-campaign": campaign.pk,
                f"windows-{i}-label": window.label,
                f"windows-{i}-opens_at_0": o.date().isoformat(),
                f"windows-{i}-opens_at_1": o.time().isoformat(),
                f"windows-{i}-closes_at_0": c.date().isoformat(),
                f"windows-{i}-closes_at_1": c.time().isoformat(),
                f"windows-{i}-birth_day_last_digit": window.birth_day_last_digit,
            }
        )
    response = admin_client.post(url, form, follow=True)
    assert response.status_code == 200
    # part of the cohort is in no window, and no window reaches outside the campaign's own:
    # the one warning is the gap's
    assert services.uncovered_birth_dates(campaign)
    assert all(w.opens_at >= campaign.opens_at for w in (nines, zeros))
    assert all(w.closes_at <= campaign.closes_at for w in (nines, zeros))
    levels = [message.level for message in response.context["messages"]]
    assert levels.count(messages.WARNING) == 1


def test_an_inline_window_that_closes_before_it_opens_is_a_form_error(admin_client, today_window):
    campaign, _, _ = today_window
    BookingWindow.objects.filter(campaign=campaign).delete()
    url = campaign_page(campaign)
    local_open = timezone.localtime(campaign.opens_at)
    form = campaign_form(
        campaign,
        opens_at_0=local_open.date().isoformat(),
        opens_at_1=local_open.time().isoformat(),
        **{"windows-TOTAL_FORMS": "1"},
    )
    form.update(
        {
            "windows-0-opens_at_0": "2030-05-02",
            "windows-0-opens_at_1": "20:00",
            "windows-0-closes_at_0": "2030-05-01",
            "windows-0-closes_at_1": "20:00",
        }
    )
    response = admin_client.post(url, form)
    assert response.status_code == 200
    [windows] = response.context["inline_admin_formsets"]
    with pytest.raises(ValidationError) as refused:  # the window's own rule says
        BookingWindow(opens_at=campaign.closes_at, closes_at=campaign.opens_at).clean()
    assert windows.formset.errors == [{"closes_at": refused.value.message_dict["closes_at"]}]
    assert escape(refused.value.message_dict["closes_at"][0]) in response.content.decode()
    assert not BookingWindow.objects.filter(campaign=campaign).exists()


def test_home_lists_a_campaign_open_in_one_of_its_windows(today_window):
    campaign, _, _ = today_window
    page = Client().get(reverse("home")).content.decode()
    assert reverse("bookings:start", kwargs={"campaign": campaign.slug}) in page
