"""Messages: written to the outbox in the transaction of the change they announce
(``notify``), sent after it commits by a task (``deliver``).

Sending is at most once towards the provider for each message, and once in effect: before
handing a message over, its row is marked ``sending`` and committed; a worker that finds a row
still ``sending`` (its worker stopped mid-send) asks the channel whether the provider has it
(``already_sent``) before sending it again.
"""

import logging
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation

from vaxbook.notifications.channels import SendFailed, channel_for
from vaxbook.notifications.models import Notification, mask_phone

logger = logging.getLogger(__name__)

Kind = Notification.Kind


def render(kind: str, channel: str, context: dict, *, language: str) -> str:
    """The text of a message in the language of the person it goes to."""
    with translation.override(language):
        text = render_to_string(f"notifications/{channel}/{kind}.txt", context)
    # templates are laid out for reading; a message is its lines, without blank runs
    lines = [line.strip() for line in text.strip().splitlines()]
    return "\n".join(line for i, line in enumerate(lines) if line or (i and lines[i - 1]))


def notify(
    *,
    kind: str,
    recipient: str,
    key: str,
    context: dict,
    language: str,
    booking=None,
    channel: str = Notification.Channel.SMS,
    urgent: bool = False,
) -> None:
    """Put a message in the outbox, once per ``key`` (a second call with the same key writes
    nothing), and send it after the surrounding transaction commits. One INSERT … ON CONFLICT
    DO NOTHING: no savepoint on the confirmation's hot path."""
    text = render(kind, channel, context, language=language)
    Notification.objects.bulk_create(
        [
            Notification(
                booking=booking,
                kind=kind,
                channel=channel,
                recipient=recipient,
                language=language,
                text=text,
                key=key,
                urgent=urgent,
            )
        ],
        ignore_conflicts=True,
    )
    transaction.on_commit(lambda: _enqueue(key, urgent=urgent), robust=True)


def _enqueue(key: str, *, urgent: bool) -> None:
    from vaxbook.notifications.tasks import send_notification

    # "urgent" is consumed ahead of the default queue by every worker (settings.py, Celery)
    send_notification.apply_async((key,), queue="urgent" if urgent else None)


def booking_key(
    booking, kind: str, channel: str = Notification.Channel.SMS, extra: str = ""
) -> str:
    return ":".join(filter(None, ["booking", str(booking.pk), kind, extra, channel]))


def booking_context(booking) -> dict:
    from django.urls import reverse

    return {
        "booking": booking,
        "slot": booking.slot,
        "clinic": booking.slot.clinic,
        "campaign": booking.campaign,
        "link": settings.VAXBOOK_SITE_URL.rstrip("/")
        + reverse("bookings:status", kwargs={"public_id": booking.public_id}),
        "start_again": settings.VAXBOOK_SITE_URL.rstrip("/")
        + reverse("bookings:start", kwargs={"campaign": booking.campaign.slug}),
    }


def booking_decided(booking) -> None:
    """Inside the transaction that confirmed or rejected ``booking``."""
    kind = Kind.CONFIRMED if booking.status == booking.Status.CONFIRMED else Kind.REJECTED
    notify(
        kind=kind,
        recipient=booking.phone,
        key=booking_key(booking, kind),
        context=booking_context(booking),
        language=booking.language,
        booking=booking,
    )


def booking_cancelled(booking) -> None:
    """Inside the transaction that cancelled ``booking``."""
    notify(
        kind=Kind.CANCELLED,
        recipient=booking.phone,
        key=booking_key(booking, Kind.CANCELLED),
        context=booking_context(booking),
        language=booking.language,
        booking=booking,
    )


def deliver(key: str, *, now: datetime | None = None) -> Notification | None:
    """Send one queued message. Returns it as it stands afterwards: ``sent``; ``queued`` again
    after a temporary failure with attempts left (the task tries again later); ``failed``."""
    with transaction.atomic():
        notification = Notification.objects.select_for_update().filter(key=key).first()
        if notification is None or notification.status in (
            Notification.Status.SENT,
            Notification.Status.FAILED,
        ):
            return notification
        channel = channel_for(notification)
        interrupted = notification.status == Notification.Status.SENDING
        notification.status = Notification.Status.SENDING
        notification.attempts += 1
        notification.save(update_fields=["status", "attempts"])
    try:
        provider_id = (channel.already_sent(notification) if interrupted else None) or (
            channel.send(notification)
        )
    except SendFailed as failure:
        give_up = not failure.temporary or (
            notification.attempts >= settings.VAXBOOK_MESSAGE_MAX_ATTEMPTS
        )
        notification.status = Notification.Status.FAILED if give_up else Notification.Status.QUEUED
        notification.last_error = str(failure)[:500]
        notification.save(update_fields=["status", "last_error"])
        logger.warning(
            "message %s to %s: %s (attempt %s%s)",
            notification.kind,
            mask_phone(notification.recipient),
            failure,
            notification.attempts,
            ", given up" if give_up else "",
        )
        return notification
    notification.status = Notification.Status.SENT
    notification.provider_id = provider_id[:100]
    notification.sent_at = now or timezone.now()
    notification.save(update_fields=["status", "provider_id", "sent_at"])
    return notification
