"""The planner creates windows only before the campaign's booking opens, and only from a first
opening to come: windows added once people can book would take away the window in force
(the campaign's own, for the whole cohort) at once, so bookings requested inside it would be
rejected when the worker decides them, and switching the waiting room on would void its
tickets. Refused with a code, nothing written."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from bookings import services as booking_services
from bookings.models import Booking
from bookings.tests.factories import BookingFactory
from campaigns.models import BookingWindow
from campaigns.tests.factories import CampaignFactory
from clinics.tests.factories import SlotFactory, UserFactory
from vaxbook.auditlog.models import AuditEvent
from vaxbook.planner.plan import birth_day_digit_weights, propose
from vaxbook.planner.services import PlanRefused, create_planned_windows

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def bench_results(tmp_path, settings):
    settings.VAXBOOK_BENCH_RESULTS_DIR = tmp_path
    return tmp_path


def _page(campaign) -> str:
    return reverse("planner:campaign", args=[campaign.pk])


def _kst(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def _fields(first_opening: str, **overrides) -> dict:
    fields = {
        "cohort_size": 100_000,
        "rate_per_minute": 5_000,
        "first_opening": first_opening,
        "window_hours": 22,
        "surge_percent": "48.6",
        "set_admission_rate": "on",
    }
    fields.update(overrides)
    return fields


def _tomorrow_evening() -> str:
    return (timezone.localtime() + timedelta(days=1)).strftime("%Y-%m-%d 20:00")


def test_an_open_campaign_is_refused_and_its_pending_bookings_stand(official):
    """Open for its whole cohort (its own window, no staggered ones): planning windows from
    tomorrow is refused (409, ``booking_opened``), nothing is written, the waiting room is left
    as it was, and a booking requested a minute ago is still confirmed."""
    campaign = CampaignFactory(opens_at=timezone.now() - timedelta(hours=1))
    epoch = campaign.waiting_room_epoch
    slot = SlotFactory(campaign=campaign, date=timezone.localdate() + timedelta(days=5))
    pending = BookingFactory(slot=slot, requested_at=timezone.now() - timedelta(minutes=1))

    page = official.get(_page(campaign), _fields(_tomorrow_evening()))
    assert page.status_code == 200
    assert page.context["booking_opened"] is True  # said before anyone clicks
    assert page.context["proposal"] is not None  # still shown, without the button
    assert b'id="booking-opened"' in page.content
    assert b'id="create-windows"' not in page.content

    response = official.post(_page(campaign), _fields(_tomorrow_evening()))
    assert response.status_code == 409
    assert response.context["refusal_code"] == "booking_opened"
    assert not BookingWindow.objects.filter(campaign=campaign).exists()
    assert not AuditEvent.objects.exists()
    campaign.refresh_from_db()
    assert (campaign.waiting_room_enabled, campaign.waiting_room_epoch) == (False, epoch)

    booking_services.confirm_booking(pending.pk)
    pending.refresh_from_db()
    assert pending.status == Booking.Status.CONFIRMED


def test_a_campaign_whose_first_staggered_window_has_opened_is_refused(official):
    campaign = CampaignFactory(opens_at=timezone.now() - timedelta(days=1))
    BookingWindow.objects.create(
        campaign=campaign,
        label="first",
        opens_at=timezone.now() - timedelta(hours=2),
        closes_at=timezone.now() - timedelta(hours=1),
        birth_day_last_digit=0,
    )
    response = official.post(_page(campaign), _fields(_tomorrow_evening()))
    assert response.status_code == 409
    assert response.context["refusal_code"] == "booking_opened"
    assert BookingWindow.objects.filter(campaign=campaign).count() == 1


def test_staggered_windows_all_to_come_still_take_more(official):
    """The campaign's own opening has passed, but its staggered windows, which are in force,
    all open later: nobody can book yet, so the planner may add windows."""
    campaign = CampaignFactory(opens_at=timezone.now() - timedelta(hours=1))
    BookingWindow.objects.create(
        campaign=campaign,
        label="later",
        opens_at=timezone.now() + timedelta(days=20),
        closes_at=timezone.now() + timedelta(days=20, hours=1),
        birth_day_last_digit=0,
    )
    page = official.get(_page(campaign), _fields(_tomorrow_evening()))
    assert page.context["booking_opened"] is False
    response = official.post(_page(campaign), _fields(_tomorrow_evening()))
    assert response.status_code == 302
    assert BookingWindow.objects.filter(campaign=campaign).count() > 1


def test_a_first_opening_in_the_past_is_a_form_error(official):
    campaign = CampaignFactory(opens_at=timezone.now() + timedelta(days=3))
    past = _kst(timezone.now() - timedelta(hours=1))
    for send in (official.get, official.post):
        response = send(_page(campaign), _fields(past))
        assert response.status_code == 200
        codes = [e.code for e in response.context["form"].errors.as_data()["first_opening"]]
        assert codes == ["first_opening_past"]
        assert response.context["proposal"] is None
    assert not BookingWindow.objects.exists()
    assert not AuditEvent.objects.exists()


def _windows(campaign, first_opening):
    return propose(
        cohort=100_000,
        rate_per_minute=5_000,
        first_opening=first_opening,
        digit_weights=birth_day_digit_weights(campaign.born_from, campaign.born_to),
    ).windows


def test_the_service_refuses_under_the_lock_too():
    """Whoever calls it (not only the page): the rule is the service's."""
    actor = UserFactory(is_staff=True)
    opened = CampaignFactory(opens_at=timezone.now() - timedelta(minutes=1))
    with pytest.raises(PlanRefused) as refused:
        create_planned_windows(
            opened, _windows(opened, timezone.now() + timedelta(days=1)), actor=actor
        )
    assert refused.value.code == "booking_opened"

    to_come = CampaignFactory(opens_at=timezone.now() + timedelta(days=3))
    with pytest.raises(PlanRefused) as refused:
        create_planned_windows(
            to_come, _windows(to_come, timezone.now() - timedelta(minutes=1)), actor=actor
        )
    assert refused.value.code == "first_opening_past"
    assert not BookingWindow.objects.exists()
    assert not AuditEvent.objects.exists()
