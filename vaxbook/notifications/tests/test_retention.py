"""Messages go with the personal-data purge: blanked with the bookings they announce, deleted
when they belong to no booking and are older than the retention period; nothing else."""

from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from bookings import retention, services
from bookings.tests.factories import BookingFactory
from campaigns.tests.factories import CampaignFactory
from clinics.tests.factories import SlotFactory
from vaxbook.notifications.models import Notification

pytestmark = pytest.mark.django_db


def _confirmed_booking(*, closed_days_ago: int):
    closes_at = timezone.now() - timedelta(days=closed_days_ago)
    campaign = CampaignFactory(opens_at=closes_at - timedelta(days=7), closes_at=closes_at)
    slot = SlotFactory(campaign=campaign, date=timezone.localdate(closes_at) - timedelta(days=1))
    booking = BookingFactory(slot=slot, requested_at=campaign.opens_at + timedelta(minutes=5))
    services.confirm_booking(booking.pk)
    booking.refresh_from_db()
    return booking


def _unattached(key: str) -> Notification:
    return Notification.objects.create(
        kind=Notification.Kind.WINDOW_OPENS,
        channel=Notification.Channel.SMS,
        recipient="010-2222-3333",
        text="Booking opens soon",
        key=key,
        status=Notification.Status.SENT,
    )


@pytest.mark.parametrize("by", ["command", "task"])
def test_messages_go_with_the_purge(settings, by):
    settings.VAXBOOK_RETENTION_DAYS = 90
    old = _confirmed_booking(closed_days_ago=100)
    recent = _confirmed_booking(closed_days_ago=10)
    with time_machine.travel(timezone.now() - timedelta(days=91)):
        _unattached("window:old")
    _unattached("window:recent")

    if by == "command":
        call_command("purge_personal_data", stdout=open("/dev/null", "w"))  # noqa: SIM115
    else:
        retention.anonymise_closed_campaigns()

    [blanked] = Notification.objects.filter(booking=old)
    assert (blanked.recipient, blanked.text, blanked.subject) == ("", "", "")
    assert (blanked.kind, blanked.status) == ("confirmed", "queued")  # still counted
    [kept] = Notification.objects.filter(booking=recent)
    assert kept.recipient == recent.phone and recent.code in kept.text
    assert list(
        Notification.objects.filter(booking__isnull=True).values_list("key", flat=True)
    ) == ["window:recent"]


def test_a_dry_run_counts_and_changes_nothing(settings):
    settings.VAXBOOK_RETENTION_DAYS = 90
    old = _confirmed_booking(closed_days_ago=100)
    with time_machine.travel(timezone.now() - timedelta(days=91)):
        _unattached("window:old")
    out = __import__("io").StringIO()
    call_command("purge_personal_data", "--dry-run", stdout=out)
    assert "1 message(s) about no booking, past retention, would be deleted." in out.getvalue()
    assert Notification.objects.get(booking=old).recipient == old.phone
    assert Notification.objects.filter(key="window:old").exists()
