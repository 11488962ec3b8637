"""The campaign admin for multi-dose courses: the second-dose shortfall page (per clinic and
first-dose day, the first-dose places still free against the second-dose places still free
within the vaccine's interval and on the recommended day), the change deadline in the
campaign's form, and the no-shows among the counts officials see."""

from datetime import date, datetime, time, timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from bookings import services
from bookings.models import Booking
from bookings.tests.doses import (
    LONGEST,
    RECOMMENDED,
    SHORTEST,
    book_course,
    course_slots,
    first_day,
    two_dose_campaign,
)
from bookings.tests.factories import BookingFactory, rrn_for
from campaigns.selectors import second_dose_shortfall
from campaigns.tests.admin_forms import campaign_form
from campaigns.tests.factories import CampaignFactory
from clinics.models import Slot
from clinics.tests.factories import ClinicFactory, SlotFactory, UserFactory
from vaxbook.dates import KST

pytestmark = pytest.mark.django_db


def _page(campaign) -> str:
    return reverse("admin:campaigns_campaign_second_doses", args=[campaign.pk])


@pytest.fixture
def campaign_with_places():
    """Two clinics. At the first: ten places a day on the first-dose day and the day after,
    and only three second-dose places on the recommended day (and one more near the end of
    the interval), two of the first day's taken by courses. At the second: as many second-dose
    places as first-dose ones."""
    campaign = two_dose_campaign()
    short = ClinicFactory(name="가 보건소", code="short")
    day = first_day()
    firsts, seconds = course_slots(
        campaign, clinic=short, day=day, times=(time(9, 0),), second_capacity=3
    )
    SlotFactory(campaign=campaign, clinic=short, date=day + timedelta(days=1), capacity=10)
    SlotFactory(campaign=campaign, clinic=short, date=day + timedelta(days=LONGEST), capacity=1)
    book_course(campaign, firsts[0], 1)
    book_course(campaign, firsts[0], 2)
    enough = ClinicFactory(name="나 보건소", code="enough")
    course_slots(campaign, clinic=enough, day=day, times=(time(9, 0),), capacity=5)
    return campaign, day


def _expected(campaign) -> dict[tuple[str, date], tuple[int, int, int]]:
    """From the slots themselves, one at a time: (first free, second free within the interval,
    second free on the recommended day) of every clinic's day that still has a place."""
    now = timezone.now()
    slots = [s for s in Slot.objects.filter(campaign=campaign) if s.starts_at > now]
    found = {}
    for slot in slots:
        key = (slot.clinic.code, slot.date)
        if key in found:
            continue
        same = [s for s in slots if s.clinic_id == slot.clinic_id]
        first = sum(s.capacity - s.booked for s in same if s.date == slot.date)
        if not first:
            continue
        low, high = slot.date + timedelta(SHORTEST), slot.date + timedelta(LONGEST)
        second = sum(s.capacity - s.booked for s in same if low <= s.date <= high)
        target = slot.date + timedelta(RECOMMENDED)
        recommended = sum(s.capacity - s.booked for s in same if s.date == target)
        found[key] = (first, second, recommended)
    return found


def _shown(rows) -> dict[tuple[str, date], tuple[int, int, int]]:
    return {
        (row.clinic_code, row.day): (row.first_free, row.second_free, row.recommended_free)
        for row in rows
    }


def test_the_page_shows_the_numbers_the_slots_give_and_flags_the_short_days(
    official, campaign_with_places
):
    campaign, day = campaign_with_places
    response = official.get(_page(campaign))
    assert response.status_code == 200
    rows = response.context["rows"]
    assert _shown(rows) == _expected(campaign)
    by_key = {(row.clinic_code, row.day): row for row in rows}
    # 8 first-dose places left on the day, against 1 + 1 second-dose places in the interval
    assert (by_key[("short", day)].first_free, by_key[("short", day)].second_free) == (8, 2)
    assert by_key[("short", day)].recommended_free == 1
    assert by_key[("short", day)].short is True
    assert by_key[("enough", day)].short is False
    flagged = {key for key, row in by_key.items() if row.short}
    assert flagged == {key for key, (f, s, _) in _expected(campaign).items() if s < f}
    page = response.content.decode()
    assert f'data-clinic="short" data-day="{day.isoformat()}" data-short="true"' in page
    assert f'data-clinic="enough" data-day="{day.isoformat()}" data-short="false"' in page
    assert response.context["short_days"] == len(flagged)


def test_only_the_short_days_on_request(official, campaign_with_places):
    campaign, _ = campaign_with_places
    rows = official.get(_page(campaign), {"short": "1"}).context["rows"]
    assert rows and all(row.short for row in rows)


def test_a_place_taken_is_one_less_on_both_sides(official, campaign_with_places):
    campaign, day = campaign_with_places
    before = _shown(official.get(_page(campaign)).context["rows"])
    slot = Slot.objects.get(campaign=campaign, clinic__code="enough", date=day)
    book_course(campaign, slot, 3)
    after = _shown(official.get(_page(campaign)).context["rows"])
    assert after[("enough", day)] == tuple(
        n - 1 for n in before[("enough", day)]
    )  # the first dose that day, the second on the recommended day
    assert after == _expected(campaign)


def test_the_query_is_bounded_whatever_the_bookings_and_slots(
    campaign_with_places, django_assert_num_queries
):
    campaign, day = campaign_with_places
    campaign = type(campaign).objects.select_related("vaccine").get(pk=campaign.pk)
    with django_assert_num_queries(1):
        few = second_dose_shortfall(campaign)
    more = ClinicFactory(code="more")
    for offset in range(5):
        for hour in (9, 10, 11):
            slot = SlotFactory(
                campaign=campaign,
                clinic=more,
                date=day + timedelta(days=offset),
                start_time=time(hour),
            )
            if offset < 3:
                BookingFactory(slot=slot, rrn=rrn_for(100 + offset * 24 + hour))
    for slot in Slot.objects.filter(campaign=campaign, clinic=more, date__lt=day + timedelta(3)):
        SlotFactory(
            campaign=campaign,
            clinic=more,
            date=slot.date + timedelta(RECOMMENDED),
            start_time=slot.start_time,
        )
    with django_assert_num_queries(1):
        many = second_dose_shortfall(campaign)
    assert len(many) > len(few)


def test_the_page_costs_the_same_queries_with_more_slots(official, campaign_with_places):
    campaign, day = campaign_with_places

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert official.get(_page(campaign)).status_code == 200
        return len(captured)

    before = queries()
    other = ClinicFactory(code="other")
    course_slots(campaign, clinic=other, day=day + timedelta(days=2), times=(time(9), time(10)))
    assert queries() == before


def test_a_one_dose_campaign_has_nothing_to_check(official):
    campaign = CampaignFactory()  # Janssen: one dose
    SlotFactory(campaign=campaign)
    response = official.get(_page(campaign))
    assert response.status_code == 200
    assert response.context["one_dose"] is True and response.context["rows"] == []
    assert 'id="one-dose"' in response.content.decode()
    assert second_dose_shortfall(campaign) is None


def test_the_campaign_page_links_to_it(official, campaign_with_places):
    campaign, _ = campaign_with_places
    page = official.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk]))
    assert f'href="{_page(campaign)}"' in page.content.decode()


def test_clinic_staff_and_strangers_are_refused(campaign_with_places):
    campaign, _ = campaign_with_places
    staff = Client()
    staff.force_login(UserFactory(is_staff=True))
    assert staff.get(_page(campaign)).status_code == 403
    assert Client().get(_page(campaign)).status_code == 302


# The campaign's page: the change deadline, and the no-shows among the counts.


def test_the_campaign_form_sets_until_when_people_may_move(official):
    campaign = two_dose_campaign()
    page = official.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk]))
    form = page.context["adminform"].form
    assert {"change_deadline_days", "change_deadline_time"} <= set(form.fields)
    data = campaign_form(
        campaign, change_deadline_days="2", change_deadline_time="12:30", _save="Save"
    )
    response = official.post(reverse("admin:campaigns_campaign_change", args=[campaign.pk]), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    campaign.refresh_from_db()
    assert (campaign.change_deadline_days, campaign.change_deadline_time) == (2, time(12, 30))
    too_far = campaign_form(campaign, change_deadline_days="15", change_deadline_time="12:30")
    refused = official.post(reverse("admin:campaigns_campaign_change", args=[campaign.pk]), too_far)
    assert refused.status_code == 200
    assert "change_deadline_days" in refused.context["adminform"].form.errors


def test_the_counts_include_the_no_shows(official, campaign_with_places):
    campaign, day = campaign_with_places
    enough = Slot.objects.get(campaign=campaign, clinic__code="enough", date=day)
    services.cancel_booking(book_course(campaign, enough, 3).pk)  # two rows cancelled
    with time_machine.travel(datetime.combine(day + timedelta(days=1), time(0, 30), tzinfo=KST)):
        assert services.mark_no_shows() == 2  # their seconds cancelled: four in all
    listing = official.get(reverse("admin:campaigns_campaign_changelist"))
    found = {c.pk: c for c in listing.context["cl"].result_list}
    counts = Booking.objects.filter(campaign=campaign)
    assert (
        (found[campaign.pk].no_show_count, found[campaign.pk].cancelled_count)
        == (
            counts.filter(status=Booking.Status.NO_SHOW).count(),
            counts.filter(status=Booking.Status.CANCELLED).count(),
        )
        == (2, 4)
    )
    assert '<td class="field-no_show_count">2</td>' in listing.content.decode()
