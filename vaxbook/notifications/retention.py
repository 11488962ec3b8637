"""Retention of messages: a message's recipient (a phone, an address) and its text (a booking
code, a clinic, a time) are personal data, and go with the personal-data purge
(``bookings.retention``): blanked with the bookings they announce, in the same transaction, and
deleted ``VAXBOOK_RETENTION_DAYS`` after they were written when they belong to no booking (a
one-time code, a window-opens notice). Kind, channel, status and timestamps stay, so what was
sent can still be counted."""

import logging
from collections.abc import Iterable
from datetime import datetime

from django.db.models import QuerySet

from vaxbook.notifications.models import Notification

logger = logging.getLogger(__name__)


def blank_messages_of(booking_ids: Iterable[int]) -> int:
    """Blank recipient, subject and text of the messages about these bookings; returns how
    many still held them."""
    return (
        Notification.objects.filter(booking_id__in=list(booking_ids))
        .exclude(recipient="", text="")
        .update(recipient="", subject="", text="")
    )


def unattached_messages_before(moment: datetime) -> QuerySet[Notification]:
    """Messages about no booking written before ``moment``."""
    return Notification.objects.filter(booking__isnull=True, created_at__lt=moment)


def delete_unattached_messages(moment: datetime) -> int:
    deleted, _ = unattached_messages_before(moment).delete()
    if deleted:
        logger.info("Deleted %d messages about no booking, past retention.", deleted)
    return deleted
