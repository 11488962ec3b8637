from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from bookings.models import Booking
from bookings.tests.factories import BookingFactory
from campaigns.models import Campaign
from campaigns.tests.factories import CampaignFactory
from clinics.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:campaigns_campaign_changelist")
ADD = reverse("admin:campaigns_campaign_add")


def _campaign_form(**overrides) -> dict:
    data = {
        "name": "Cohort 60-64 (born 1957-1961)",
        "slug": "cohort-60-64",
        "vaccine": "Moderna",
        "born_from": "1957-01-01",
        "born_to": "1961-12-31",
        "opens_at_0": "2030-05-01",
        "opens_at_1": "20:00:00",
        "closes_at_0": "2030-05-08",
        "closes_at_1": "20:00:00",
        "admission_rate_per_minute": "600",
        "admission_pass_minutes": "20",
        # the staggered-windows inline, empty
        "windows-TOTAL_FORMS": "0",
        "windows-INITIAL_FORMS": "0",
        "windows-MIN_NUM_FORMS": "0",
        "windows-MAX_NUM_FORMS": "1000",
    }
    data.update(overrides)
    return data


def _cell(field: str, value) -> str:
    return f'<td class="field-{field}">{value}</td>'


def test_changelist_shows_window_state_and_booking_counts(admin_client):
    now = timezone.now()
    open_now = CampaignFactory(name="Open cohort")
    CampaignFactory(
        name="Future cohort", opens_at=now + timedelta(days=1), closes_at=now + timedelta(days=8)
    )
    CampaignFactory(
        name="Past cohort", opens_at=now - timedelta(days=8), closes_at=now - timedelta(days=1)
    )
    slot = SlotFactory(campaign=open_now, booked=3)
    for status, how_many in [("pending", 1), ("confirmed", 3), ("rejected", 2), ("cancelled", 4)]:
        for n in range(how_many):
            BookingFactory(slot=slot, status=status, code=f"{status[:4].upper()}{n}")

    response = admin_client.get(CHANGELIST)

    html = response.content.decode()
    for state in ["open", "scheduled", "closed"]:
        assert _cell("state", state) in html
    assert _cell("pending_count", 1) in html
    assert _cell("confirmed_count", 3) in html
    assert _cell("rejected_count", 2) in html
    assert _cell("cancelled_count", 4) in html
    assert _cell("cohort", "1962-01-01 – 1966-12-31") in html
    assert "KST" in html


def test_counts_are_one_query_not_one_per_campaign(admin_client, django_assert_max_num_queries):
    for _ in range(2):
        BookingFactory()
    with django_assert_max_num_queries(50) as few:
        admin_client.get(CHANGELIST)
    for _ in range(10):
        BookingFactory()
    with django_assert_max_num_queries(len(few.captured_queries)):
        admin_client.get(CHANGELIST)


@pytest.mark.parametrize(
    ("state", "shown"),
    [("open", "Open cohort"), ("scheduled", "Future cohort"), ("closed", "Past cohort")],
)
def test_state_filter(admin_client, state, shown):
    now = timezone.now()
    CampaignFactory(name="Open cohort")
    CampaignFactory(
        name="Future cohort", opens_at=now + timedelta(days=1), closes_at=now + timedelta(days=8)
    )
    CampaignFactory(
        name="Past cohort", opens_at=now - timedelta(days=8), closes_at=now - timedelta(days=1)
    )

    response = admin_client.get(CHANGELIST, {"state": state})

    listed = [c.name for c in response.context["cl"].result_list]
    assert listed == [shown]


def test_times_entered_in_the_admin_are_korea_time(admin_client):
    response = admin_client.get(ADD)
    assert "Korea time (KST" in response.content.decode()

    response = admin_client.post(ADD, _campaign_form())

    assert response.status_code == 302
    campaign = Campaign.objects.get(slug="cohort-60-64")
    assert campaign.opens_at == datetime(2030, 5, 1, 11, 0, tzinfo=UTC)


def test_refuses_a_window_that_closes_before_it_opens(admin_client):
    response = admin_client.post(
        ADD, _campaign_form(closes_at_0="2030-05-01", closes_at_1="19:00:00")
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["closes_at"] == [
        "Booking must close after it opens."
    ]
    assert "Booking must close after it opens." in response.content.decode()
    assert not Campaign.objects.exists()


def test_refuses_a_window_that_closes_when_it_opens(admin_client):
    response = admin_client.post(
        ADD, _campaign_form(closes_at_0="2030-05-01", closes_at_1="20:00:00")
    )

    assert "closes_at" in response.context["adminform"].form.errors
    assert not Campaign.objects.exists()


def test_refuses_an_empty_cohort(admin_client):
    response = admin_client.post(ADD, _campaign_form(born_from="1962-01-01", born_to="1961-12-31"))

    assert response.status_code == 200
    assert "The last birth date must not be before the first." in response.content.decode()
    assert not Campaign.objects.exists()


def test_counts_ignore_other_campaigns_bookings(admin_client):
    BookingFactory(status=Booking.Status.PENDING)
    quiet = CampaignFactory(name="Quiet cohort")

    response = admin_client.get(CHANGELIST)

    rows = {c.name: c for c in response.context["cl"].result_list}
    assert rows[quiet.name].pending_count == 0
    assert sum(c.pending_count for c in rows.values()) == 1


def test_state_filter_counts_campaigns_when_facets_are_shown(admin_client):
    now = timezone.now()
    CampaignFactory.create_batch(2)
    CampaignFactory(opens_at=now - timedelta(days=8), closes_at=now - timedelta(days=1))

    response = admin_client.get(CHANGELIST, {"_facets": "True"})

    html = response.content.decode()
    assert "Open (2)" in html
    assert "Closed (1)" in html
    assert "Scheduled (0)" in html
