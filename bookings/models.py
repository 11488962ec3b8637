import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from bookings.identity import mask_birth_date


class Booking(models.Model):
    """One person's appointment for one dose in one campaign: a slot.

    A course of a multi-dose vaccine is one row per dose: the first dose's row is *the
    booking* (its code and link are what the person keeps; ``dose`` 1, no ``first_dose``) and
    each later dose is a row pointing at it (``first_dose``), with the same person and the
    code ``<code>-<dose>``. The rows of a course are decided together: confirmed all at once or
    none (``bookings.services``). Each row holds its own slot, check-in and no-show, so rosters
    and check-in work per appointment.

    Born ``pending``; the confirm service decides it (``confirmed`` with a code, or
    ``rejected``) under a row lock. The registration number is kept only as a keyed HMAC (for
    matching) and a Fernet ciphertext; what people read is the masked form.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        CONFIRMED = "confirmed", _("Confirmed")
        REJECTED = "rejected", _("Rejected")
        CANCELLED = "cancelled", _("Cancelled")
        # The day ended without a check-in (bookings.services.mark_no_shows).
        NO_SHOW = "no_show", _("Did not come")

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
        LATER_DOSE_FULL = (
            "later_dose_full",
            _("The time for a later dose filled up before your booking was confirmed."),
        )
        CLINIC_CLOSED = (
            "clinic_closed",
            _("The clinic closed on that day and had no other place to offer."),
        )

    class CancelReason(models.TextChoices):
        BY_PERSON = "by_person", _("Cancelled by the person.")
        FIRST_DOSE_MISSED = (
            "first_dose_missed",
            _("The first dose was not given, so the place for this dose was freed."),
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
    dose = models.PositiveSmallIntegerField(
        _("dose"), default=1, help_text=_("Which dose of the vaccine this appointment is for.")
    )
    first_dose = models.ForeignKey(
        "self",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="later_doses",
        verbose_name=_("first dose's booking"),
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
    cancel_reason = models.CharField(
        _("why cancelled"), max_length=20, choices=CancelReason.choices, blank=True
    )
    moved_at = models.DateTimeField(
        _("last moved at"), null=True, blank=True, help_text=_("When its time was last changed.")
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
                fields=["campaign", "rrn_hmac", "dose"],
                condition=Q(status__in=["pending", "confirmed"]),
                name="one_active_booking_per_person",
            ),
            models.CheckConstraint(
                condition=~Q(status="confirmed") | Q(code__isnull=False),
                name="confirmed_booking_has_code",
            ),
            models.CheckConstraint(
                condition=Q(dose=1, first_dose__isnull=True)
                | Q(dose__gt=1, dose__lte=3, first_dose__isnull=False),
                name="booking_dose_and_first_dose_agree",
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

    @property
    def is_first_dose(self) -> bool:
        return self.first_dose_id is None

    @property
    def course_id(self) -> int:
        """The id of the course's first-dose row (the booking people know)."""
        return self.first_dose_id or self.pk
