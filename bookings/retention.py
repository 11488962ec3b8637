"""Retention of personal data: bookings of long-closed campaigns lose what identifies a person.

``VAXBOOK_RETENTION_DAYS`` after a campaign's last window closed (and after the booking's
appointment day), its bookings keep only what the statistics need: status, slot, code,
timestamps, the birth year and the gender digit (so the masked registration number still reads
``620101-1******``). Name, phone and the encrypted registration number are blanked, the
people bound to the campaign's admission passes are deleted, and the
HMAC that matched the person is replaced by a marker unique to the booking, so the partial
unique constraint ``one_active_booking_per_person`` on (campaign, rrn_hmac) never collides and
nobody can be found again by their registration number.

A booking is anonymised in one UPDATE with all its fields, so "still holds personal data" is
simply "its registration number is still stored": a re-run skips what is done, and an
interrupted run leaves whole batches, never half-blanked rows.
"""

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max, QuerySet
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from bookings.models import Booking
from campaigns.models import AdmissionPass, Campaign, WindowSignup
from vaxbook.notifications.retention import blank_messages_of, delete_unattached_messages

logger = logging.getLogger(__name__)

BATCH_SIZE = 500
PURGED_MARKER_PREFIX = "purged:"
ANONYMISED_FIELDS = ["name", "phone", "email", "rrn_encrypted", "rrn_hmac", "birth_date"]


@dataclass(frozen=True)
class RetentionCutoff:
    """Campaigns closed before ``moment`` and appointments before ``day`` are past retention."""

    moment: datetime
    day: date


def retention_cutoff(
    *, now: datetime | None = None, older_than_days: int | None = None
) -> RetentionCutoff:
    days = settings.VAXBOOK_RETENTION_DAYS if older_than_days is None else older_than_days
    if days < 0:
        raise ValueError("The retention period cannot be negative.")
    moment = (now or timezone.now()) - timedelta(days=days)
    return RetentionCutoff(moment=moment, day=timezone.localdate(moment))


def campaigns_past_retention(cutoff: RetentionCutoff) -> QuerySet[Campaign]:
    """Campaigns whose booking closed before the cutoff: their own ``closes_at`` and every
    staggered window's (a window may close after the campaign's own date)."""
    return (
        Campaign.objects.annotate(
            last_closes_at=Greatest("closes_at", Coalesce(Max("windows__closes_at"), "closes_at"))
        )
        .filter(last_closes_at__lt=cutoff.moment)
        .order_by("closes_at", "pk")
    )


def bookings_holding_personal_data(
    campaign: Campaign, cutoff: RetentionCutoff
) -> QuerySet[Booking]:
    """The campaign's bookings that still hold personal data and whose appointment day is
    before the cutoff too (clinics need the name on the day, even of a long-closed campaign)."""
    return Booking.objects.filter(campaign=campaign, slot__date__lt=cutoff.day).exclude(
        rrn_encrypted=""
    )


def anonymise_campaign(campaign: Campaign, cutoff: RetentionCutoff) -> int:
    """Anonymise the campaign's bookings past ``cutoff``; returns how many were anonymised.

    Works in batches of ``BATCH_SIZE``, each in its own transaction with the rows locked, so a
    concurrent cancel or key rotation waits for the batch instead of writing back what it read
    before. Safe to interrupt and to re-run.
    """
    done = 0
    last_pk = 0
    while True:
        with transaction.atomic():
            batch = list(
                bookings_holding_personal_data(campaign, cutoff)
                .select_for_update(of=("self",))
                .filter(pk__gt=last_pk)
                .order_by("pk")
                .only("pk", *ANONYMISED_FIELDS)[:BATCH_SIZE]
            )
            if not batch:
                break
            for booking in batch:
                booking.name = ""
                booking.phone = ""
                booking.email = ""
                booking.rrn_encrypted = ""
                booking.rrn_hmac = f"{PURGED_MARKER_PREFIX}{booking.pk}"
                # The cohort year stays for statistics; the day of birth goes.
                booking.birth_date = booking.birth_date.replace(month=1, day=1)
            Booking.objects.bulk_update(batch, ANONYMISED_FIELDS)
            # The messages about them hold the phone (or address) and the booking's details.
            blank_messages_of(booking.pk for booking in batch)
        last_pk = batch[-1].pk
        done += len(batch)
    # Who booked through which admission pass (keyed hashes of registration numbers) served
    # only while booking was open; it goes with the rest.
    AdmissionPass.objects.filter(campaign=campaign).delete()
    if done:
        logger.info("Anonymised %d bookings of campaign %s.", done, campaign.slug)
    return done


def campaigns_due(cutoff: RetentionCutoff) -> Iterator[tuple[Campaign, int]]:
    """Each campaign past retention with the number of its bookings still to anonymise (a
    dry run); campaigns with nothing left are skipped."""
    for campaign in campaigns_past_retention(cutoff):
        pending = bookings_holding_personal_data(campaign, cutoff).count()
        if pending:
            yield campaign, pending


def anonymise_closed_campaigns(
    *, now: datetime | None = None, older_than_days: int | None = None
) -> int:
    """Anonymise the bookings of every campaign that closed more than ``older_than_days``
    (default ``VAXBOOK_RETENTION_DAYS``) days before ``now`` (default the server's clock).

    Blanks name, phone and the encrypted registration number, replaces the RRN HMAC with a
    marker unique to the booking, and keeps only the year of the birth date; status, slot,
    code and timestamps stay, so every count stays the same. Bookings whose appointment day is
    not yet past the cutoff are left alone. Idempotent: returns the number of bookings
    anonymised by this call (0 when nothing was left).
    """
    cutoff = retention_cutoff(now=now, older_than_days=older_than_days)
    delete_unattached_messages(cutoff.moment)
    delete_window_signups(now=now)
    return sum(
        anonymise_campaign(campaign, cutoff) for campaign in campaigns_past_retention(cutoff)
    )


def window_signups_of_closed_campaigns(*, now: datetime | None = None) -> QuerySet[WindowSignup]:
    """Sign-ups for a text when a window opens (phone and birth date) serve no purpose once
    their campaign's last window has closed: they go then, without waiting for the retention
    period."""
    closed = campaigns_past_retention(retention_cutoff(now=now, older_than_days=0))
    return WindowSignup.objects.filter(campaign__in=closed.values("pk"))


def delete_window_signups(*, now: datetime | None = None) -> int:
    """Delete the sign-ups of every closed campaign; returns how many."""
    deleted, _ = window_signups_of_closed_campaigns(now=now).delete()
    if deleted:
        logger.info("Deleted %d window sign-ups of closed campaigns.", deleted)
    return deleted
