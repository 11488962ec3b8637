import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from bookings.identity import mask_birth_date


class Booking(models.Model):
    """One person's booking of one slot in one campaign.

    Born ``pending``; the confirm service decides it (``confirmed`` with a code, or
    ``rejected``) under a row lock. The registration number is kept only as a keyed HMAC (for
    matching) and a Fernet ciphertext; what people read is the masked form.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        CONFIRMED = "confirmed", _("Confirmed")
        REJECTED = "rejected", _("Rejected")
        CANCELLED = "cancelled", _("Cancelled")

    ACTIVE_STATUSES = (Status.PENDING, Status.CONFIRMED)

    class RejectReason(models.TextChoices):
        SLOT_FULL = "slot_full", _("The time filled up before your booking was confirmed.")
        OUTSIDE_WINDOW = (
            "outside_window",
            _("The booking was requested outside the booking window."),
        )
        # Its confirmation failed for good: bookings.tasks gave up on it.
        SYSTEM_ERROR = (
            "system_error",
            _("We could not confirm this booking because of a system problem."),
        )

    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    campaign = models.ForeignKey(
        "campaigns.Campaign",
        on_delete=models.PROTECT,
        related_name="bookings",
        verbose_name=_("campaign"),
    )
    slot = models.ForeignKey(
        "clinics.Slot", on_delete=models.PROTECT, related_name="bookings", verbose_name=_("time")
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    code = models.CharField(_("booking code"), max_length=12, unique=True, null=True, blank=True)
    reject_reason = models.CharField(
        _("why not booked"), max_length=20, choices=RejectReason.choices, blank=True
    )

    name = models.CharField(_("name"), max_length=50)
    phone = models.CharField(_("phone number"), max_length=20)
    # Optional; the messages about the booking go there too (vaxbook.notifications).
    email = models.EmailField(_("e-mail address"), max_length=254, blank=True)
    birth_date = models.DateField(_("date of birth"))
    rrn_gender_digit = models.CharField(_("registration number's 7th digit"), max_length=1)
    rrn_hmac = models.CharField(_("registration number (keyed hash)"), max_length=64, db_index=True)
    rrn_encrypted = models.TextField(_("registration number (encrypted)"))

    requested_at = models.DateTimeField(
        _("requested at"), help_text=_("Server time of the request.")
    )
    admission_pass = models.CharField(
        _("admission pass"),
        max_length=32,
        blank=True,
        help_text=_("The waiting-room ticket whose pass let it in."),
    )
    waiting_room_required = models.BooleanField(
        _("waiting room on"),
        default=False,
        help_text=_("The waiting room was on when the booking was requested."),
    )
    language = models.CharField(
        _("language"),
        max_length=8,
        choices=settings.LANGUAGES,
        default="ko",
        help_text=_("The language the booking was made in: its messages are sent in it."),
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    checked_in_at = models.DateTimeField(_("checked in at"), null=True, blank=True)
    checked_in_by = models.ForeignKey(
        "auth.User",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("checked in by"),
    )

    class Meta:
        verbose_name = _("booking")
        verbose_name_plural = _("bookings")
        ordering = ["-requested_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "rrn_hmac"],
                condition=Q(status__in=["pending", "confirmed"]),
                name="one_active_booking_per_person",
            ),
            models.CheckConstraint(
                condition=~Q(status="confirmed") | Q(code__isnull=False),
                name="confirmed_booking_has_code",
            ),
        ]
        indexes = [models.Index(fields=["status", "requested_at"])]

    def __str__(self) -> str:
        return self.code or f"booking {self.public_id}"

    @property
    def rrn_masked(self) -> str:
        return mask_birth_date(self.birth_date, self.rrn_gender_digit)

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES
