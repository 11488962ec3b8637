"""Retention: bookings of campaigns closed longer ago than VAXBOOK_RETENTION_DAYS are
anonymised; counts stay, nothing else is touched, and the pages still render them."""

import codecs
import csv
import io
from collections import Counter
from datetime import date, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from bookings import retention, services
from bookings.identity import parse_rrn, rrn_hmac
from bookings.models import Booking
from bookings.tests.factories import BookingFactory
from campaigns.models import AdmissionPass, BookingWindow, PassHolder
from campaigns.tests.factories import CampaignFactory
from clinics.tests.factories import ClinicFactory, SlotFactory, StaffMembershipFactory

pytestmark = pytest.mark.django_db


def _campaign_closed(days_ago: int, **kwargs):
    closes_at = timezone.now() - timedelta(days=days_ago)
    return CampaignFactory(opens_at=closes_at - timedelta(days=7), closes_at=closes_at, **kwargs)


def _slot(campaign, *, clinic=None, day: date | None = None):
    day = day or timezone.localdate(campaign.closes_at) - timedelta(days=1)
    return SlotFactory(campaign=campaign, date=day, **({"clinic": clinic} if clinic else {}))


def _book(slot, status: str, **kwargs) -> Booking:
    """A booking requested inside its campaign's window, then decided as ``status``."""
    kwargs.setdefault("requested_at", slot.campaign.opens_at + timedelta(minutes=5))
    booking = BookingFactory(slot=slot, **kwargs)
    if status == Booking.Status.CONFIRMED:
        services.confirm_booking(booking.pk)
    elif status != Booking.Status.PENDING:
        booking.status = status
        booking.save(update_fields=["status"])
    booking.refresh_from_db()
    return booking


def _status_counts(campaign) -> Counter:
    return Counter(Booking.objects.filter(campaign=campaign).values_list("status", flat=True))


def _holds_personal_data(booking: Booking) -> bool:
    booking.refresh_from_db()
    return bool(booking.name or booking.phone or booking.rrn_encrypted) or not (
        booking.rrn_hmac.startswith(retention.PURGED_MARKER_PREFIX)
    )


@pytest.fixture
def old():
    """A campaign closed 100 days ago with a booking in each status."""
    campaign = _campaign_closed(100)
    slot = _slot(campaign)
    bookings = {
        status: _book(slot, status, rrn=rrn, name=f"Person {status}", phone="010-9999-0000")
        for status, rrn in [
            (Booking.Status.CONFIRMED, "620714-1234567"),
            (Booking.Status.PENDING, "630305-2345678"),
            (Booking.Status.REJECTED, "640920-1456789"),
            (Booking.Status.CANCELLED, "651231-2567890"),
        ]
    }
    return campaign, bookings


def test_a_campaign_closed_past_retention_is_anonymised_and_its_counts_stay(old):
    campaign, bookings = old
    confirmed = bookings[Booking.Status.CONFIRMED]
    before = _status_counts(campaign)
    booked = confirmed.slot.booked

    assert retention.anonymise_closed_campaigns() == 4

    assert _status_counts(campaign) == before
    for status, booking in bookings.items():
        booking.refresh_from_db()
        assert booking.status == status
        assert (booking.name, booking.phone, booking.rrn_encrypted) == ("", "", "")
        assert booking.rrn_hmac == f"purged:{booking.pk}"
        assert booking.birth_date.month == 1 and booking.birth_date.day == 1
    confirmed_after = Booking.objects.get(pk=confirmed.pk)
    assert confirmed_after.code == confirmed.code and confirmed_after.slot_id == confirmed.slot_id
    assert confirmed_after.requested_at == confirmed.requested_at
    assert confirmed_after.decided_at == confirmed.decided_at
    assert confirmed_after.birth_date == date(1962, 1, 1)
    assert confirmed_after.rrn_masked == "620101-1******"
    confirmed_after.slot.refresh_from_db()
    assert confirmed_after.slot.booked == booked == 1
    # Nobody can be found by the registration number any more.
    assert not Booking.objects.filter(rrn_hmac=rrn_hmac(parse_rrn("620714-1234567"))).exists()


def test_the_people_bound_to_admission_passes_go_with_the_campaigns_personal_data(old):
    campaign, bookings = old
    recent = _campaign_closed(10)
    for closed in (campaign, recent):
        the_pass = AdmissionPass.objects.create(
            campaign=closed,
            ticket_id="a" * 16,
            opening=closed.opens_at,
            admitted_at=closed.opens_at,
        )
        PassHolder.objects.create(
            admission_pass=the_pass,
            person=bookings[Booking.Status.CONFIRMED].rrn_hmac,
            bound_at=closed.opens_at,
        )

    retention.anonymise_closed_campaigns()

    assert not PassHolder.objects.filter(admission_pass__campaign=campaign).exists()
    assert not AdmissionPass.objects.filter(campaign=campaign).exists()
    assert PassHolder.objects.filter(admission_pass__campaign=recent).count() == 1


def test_recent_and_open_campaigns_are_untouched(old):
    recent = _campaign_closed(10)
    open_now = CampaignFactory()
    kept = [
        _book(_slot(recent), Booking.Status.CONFIRMED),
        _book(SlotFactory(campaign=open_now), Booking.Status.CONFIRMED),
        _book(SlotFactory(campaign=open_now), Booking.Status.PENDING),
    ]
    snapshot = {b.pk: (b.name, b.phone, b.rrn_hmac, b.rrn_encrypted, b.birth_date) for b in kept}

    assert retention.anonymise_closed_campaigns() == 4  # only the old campaign's

    for booking in Booking.objects.filter(pk__in=snapshot):
        after = (booking.name, booking.phone, booking.rrn_hmac, booking.rrn_encrypted)
        assert (*after, booking.birth_date) == snapshot[booking.pk]


def test_a_rerun_does_nothing(old):
    campaign, _ = old
    assert retention.anonymise_closed_campaigns() == 4
    after_first = list(Booking.objects.filter(campaign=campaign).values().order_by("pk"))

    assert retention.anonymise_closed_campaigns() == 0
    assert list(Booking.objects.filter(campaign=campaign).values().order_by("pk")) == after_first


def test_the_retention_period_comes_from_the_setting_or_the_argument(settings):
    campaign = _campaign_closed(40)
    booking = _book(_slot(campaign), Booking.Status.CONFIRMED)

    assert retention.anonymise_closed_campaigns() == 0  # 90 days by default
    assert retention.anonymise_closed_campaigns(older_than_days=60) == 0
    settings.VAXBOOK_RETENTION_DAYS = 30
    assert retention.anonymise_closed_campaigns() == 1
    assert not _holds_personal_data(booking)


def test_now_moves_the_cutoff():
    campaign = _campaign_closed(10)
    booking = _book(_slot(campaign), Booking.Status.CONFIRMED)
    assert retention.anonymise_closed_campaigns(now=timezone.now() + timedelta(days=79)) == 0
    assert retention.anonymise_closed_campaigns(now=timezone.now() + timedelta(days=81)) == 1
    assert not _holds_personal_data(booking)


def test_a_staggered_window_closing_later_keeps_the_campaign(old):
    campaign, bookings = old
    BookingWindow.objects.create(
        campaign=campaign,
        opens_at=campaign.opens_at,
        closes_at=timezone.now() - timedelta(days=20),
    )
    assert retention.anonymise_closed_campaigns() == 0
    assert all(_holds_personal_data(b) for b in bookings.values())


def test_an_appointment_still_ahead_keeps_its_booking():
    """A long-closed campaign whose appointments run late: the clinic still needs the name."""
    campaign = _campaign_closed(100)
    past = _book(_slot(campaign), Booking.Status.CONFIRMED)
    ahead = _book(
        _slot(campaign, day=timezone.localdate() + timedelta(days=3)), Booking.Status.CONFIRMED
    )
    assert retention.anonymise_closed_campaigns() == 1
    assert not _holds_personal_data(past)
    assert _holds_personal_data(ahead)


def test_batches_cover_every_booking(old, monkeypatch):
    campaign, _ = old
    for n in range(3):
        _book(_slot(campaign), Booking.Status.CANCELLED, rrn=f"62010{n + 1}-1000000")
    monkeypatch.setattr(retention, "BATCH_SIZE", 2)
    assert retention.anonymise_closed_campaigns() == 7
    assert Booking.objects.filter(campaign=campaign).exclude(rrn_encrypted="").count() == 0


def test_the_same_person_in_several_anonymised_bookings_does_not_collide():
    """One person may have a cancelled and an active booking in one campaign; the markers that
    replace their HMAC differ, so the one-active-booking constraint cannot collide."""
    campaign = _campaign_closed(100)
    slot = _slot(campaign)
    _book(slot, Booking.Status.CANCELLED, rrn="620714-1234567")
    _book(slot, Booking.Status.CONFIRMED, rrn="620714-1234567")
    _book(slot, Booking.Status.PENDING, rrn="630714-1234567")
    assert retention.anonymise_closed_campaigns() == 3
    markers = list(Booking.objects.filter(campaign=campaign).values_list("rrn_hmac", flat=True))
    assert len(set(markers)) == 3


def test_anonymised_bookings_still_render_on_the_status_page_roster_and_admin(old, admin_client):
    campaign, bookings = old
    confirmed = bookings[Booking.Status.CONFIRMED]
    clinic = confirmed.slot.clinic
    retention.anonymise_closed_campaigns()

    page = Client().get(reverse("bookings:status", kwargs={"public_id": confirmed.public_id}))
    assert page.status_code == 200
    assert "620101-1******" in page.content.decode()
    assert "Person confirmed" not in page.content.decode()

    member = StaffMembershipFactory(clinic=clinic)
    staff = Client()
    staff.force_login(member.user)
    roster = staff.get(
        reverse("clinics:roster", kwargs={"code": clinic.code, "file_format": "csv"}),
        {"date": confirmed.slot.date.isoformat()},
    )
    assert roster.status_code == 200
    assert roster.content.startswith(codecs.BOM_UTF8)
    rows = list(csv.reader(io.StringIO(roster.content.decode("utf-8-sig"))))
    by_code = {row[1]: row for row in rows[1:]}
    row = by_code[confirmed.code]
    assert row[2:6] == ["", "1962-01-01", "620101-1******", ""]

    changelist = admin_client.get(reverse("admin:bookings_booking_changelist"))
    assert changelist.status_code == 200
    change = admin_client.get(reverse("admin:bookings_booking_change", args=[confirmed.pk]))
    assert change.status_code == 200 and "620101-1******" in change.content.decode()


def test_the_command_prints_counts_per_campaign_and_a_dry_run_changes_nothing(old):
    campaign, bookings = old
    other = _campaign_closed(200)
    _book(_slot(other, clinic=ClinicFactory()), Booking.Status.CONFIRMED)

    out = io.StringIO()
    call_command("purge_personal_data", "--dry-run", stdout=out)
    assert f"{campaign.slug}: would anonymise 4 booking(s)" in out.getvalue()
    assert f"{other.slug}: would anonymise 1 booking(s)" in out.getvalue()
    assert "5 booking(s) would be anonymised" in out.getvalue()
    assert all(_holds_personal_data(b) for b in bookings.values())

    out = io.StringIO()
    call_command("purge_personal_data", "--days", "150", stdout=out)
    assert f"{other.slug}: anonymised 1 booking(s)" in out.getvalue()
    assert campaign.slug not in out.getvalue()
    assert all(_holds_personal_data(b) for b in bookings.values())

    out = io.StringIO()
    call_command("purge_personal_data", stdout=out)
    assert f"{campaign.slug}: anonymised 4 booking(s)" in out.getvalue()
    assert "4 booking(s) anonymised" in out.getvalue()

    out = io.StringIO()
    call_command("purge_personal_data", stdout=out)
    assert out.getvalue().startswith("0 booking(s) anonymised")

    with pytest.raises(CommandError):
        call_command("purge_personal_data", "--days", "-1")
