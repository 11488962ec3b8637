"""The outbox: every message vaxbook sends, written in the same transaction as the change it
announces and sent afterwards by a Celery task (``vaxbook.notifications.tasks``)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Notification(models.Model):
    class Kind(models.TextChoices):
        CONFIRMED = "confirmed", _("Booking confirmed")
        REJECTED = "rejected", _("Booking not made")
        CANCELLED = "cancelled", _("Booking cancelled")
        CHANGED = "changed", _("Booking changed")
        REMINDER = "reminder", _("Reminder the day before")
        WINDOW_OPENS = "window_opens", _("Booking window opens")
        CODE_RECOVERY = "code_recovery", _("Booking codes recovered")
        PHONE_CODE = "phone_code", _("One-time code for a phone")

    class Channel(models.TextChoices):
        SMS = "sms", _("Text message")
        EMAIL = "email", _("E-mail")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Being sent")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    # What it announces: a booking, or nothing (a sign-up, a code: see ``key``).
    booking = models.ForeignKey(
        "bookings.Booking",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notifications",
        verbose_name=_("booking"),
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    recipient = models.CharField(_("recipient"), max_length=254)
    language = models.CharField(_("language"), max_length=8, default="ko")
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    text = models.TextField(_("text"))
    # One message per key, ever: a redelivered task, a retried confirmation or a sweep that
    # announces the same change again finds the key taken and sends nothing more. The writer
    # names what the message is unique for, e.g. "booking:42:confirmed:sms",
    # "booking:42:reminder:2026-11-27:sms".
    key = models.CharField(_("key"), max_length=120, unique=True)
    urgent = models.BooleanField(_("urgent"), default=False)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    provider_id = models.CharField(_("provider's message id"), max_length=100, blank=True)
    # What the provider was asked to send it as (SMS or LMS), decided by us, not guessed by it.
    message_type = models.CharField(_("sent as"), max_length=10, blank=True)
    # When the current attempt handed it to the channel: a row "sending" for longer than
    # VAXBOOK_MESSAGE_SENDING_LEASE lost its worker (see services.deliver).
    sending_since = models.DateTimeField(_("sending since"), null=True, blank=True)
    # After a temporary failure: not before this moment (the sweep respects the backoff).
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status", "created_at"], name="notification_status_idx")]
        permissions = [("resend_notification", _("Can send a failed message again"))]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} → {mask_phone(self.recipient)}"


def mask_phone(recipient: str) -> str:
    """010-****-5678 for logs and the admin; an e-mail address keeps its first letter and domain."""
    if "@" in recipient:
        name, _, domain = recipient.partition("@")
        return f"{name[:1]}***@{domain}"
    digits = "".join(c for c in recipient if c.isdigit())
    if len(digits) < 8:
        return "*" * len(digits)
    return f"{digits[:3]}-****-{digits[-4:]}"
