import re
from datetime import UTC, date, datetime, timedelta

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from bookings.models import Booking
from bookings.tests.factories import BookingFactory
from campaigns.models import Campaign
from campaigns.tests.admin_forms import campaign_form
from campaigns.tests.factories import CampaignFactory
from campaigns.windows import format_kst
from clinics.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:campaigns_campaign_changelist")
ADD = reverse("admin:campaigns_campaign_add")


def _cell(field: str, value) -> str:
    return f'<td class="field-{field}">{value}</td>'


def _model_refusal(**fields) -> dict[str, list[str]]:
    """What the campaign's own rule (``Campaign.clean``) says of these values, by field."""
    with pytest.raises(ValidationError) as refused:
        Campaign(**fields).clean()
    return refused.value.message_dict


def _shown_refusal(response, field: str, expected: list[str]) -> None:
    """The page comes back with the model's refusal on ``field``, and shows it."""
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.errors[field] == expected
    html = response.content.decode()
    assert all(escape(message) in html for message in expected)


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
        assert re.search(
            rf'<td class="field-state"><span class="window-state" data-state="{state}">', html
        ), state
    assert _cell("pending_count", 1) in html
    assert _cell("confirmed_count", 3) in html
    assert _cell("rejected_count", 2) in html
    assert _cell("cancelled_count", 4) in html
    assert _cell("cohort", escape(open_now.cohort_label)) in html
    # the times in Korea time, whatever the official's computer
    assert _cell("opens_at_kst", format_kst(open_now.opens_at)) in html
    assert _cell("closes_at_kst", format_kst(open_now.closes_at)) in html


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
    # the fieldset of the opening and closing says which time zone they are in
    [when] = [
        fieldset
        for fieldset in response.context["adminform"]
        if "opens_at" in fieldset.fields and "closes_at" in fieldset.fields
    ]
    assert settings.TIME_ZONE == "Asia/Seoul" and settings.TIME_ZONE in when.description
    assert str(when.description) in response.content.decode()

    response = admin_client.post(ADD, campaign_form())

    assert response.status_code == 302
    campaign = Campaign.objects.get(slug="cohort-60-64")
    assert campaign.opens_at == datetime(2030, 5, 1, 11, 0, tzinfo=UTC)


def test_refuses_a_window_that_closes_before_it_opens(admin_client):
    response = admin_client.post(
        ADD, campaign_form(closes_at_0="2030-05-01", closes_at_1="19:00:00")
    )

    opens = datetime(2030, 5, 1, 11, 0, tzinfo=UTC)
    refusal = _model_refusal(opens_at=opens, closes_at=opens - timedelta(hours=1))
    _shown_refusal(response, "closes_at", refusal["closes_at"])
    assert not Campaign.objects.exists()


def test_refuses_a_window_that_closes_when_it_opens(admin_client):
    response = admin_client.post(
        ADD, campaign_form(closes_at_0="2030-05-01", closes_at_1="20:00:00")
    )

    assert "closes_at" in response.context["adminform"].form.errors
    assert not Campaign.objects.exists()


def test_refuses_an_empty_cohort(admin_client):
    response = admin_client.post(ADD, campaign_form(born_from="1962-01-01", born_to="1961-12-31"))

    refusal = _model_refusal(born_from=date(1962, 1, 1), born_to=date(1961, 12, 31))
    _shown_refusal(response, "born_to", refusal["born_to"])
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

    # each state's link in the filter, with its count: "<a href="?...state=open">… (2)</a>"
    links = re.findall(
        r'<a href="\?[^"]*\bstate=(\w+)[^"]*">[^<]*\((\d+)\)</a>', response.content.decode()
    )
    assert dict(links) == {"scheduled": "0", "open": "2", "closed": "1"}
