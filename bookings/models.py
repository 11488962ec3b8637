import uuid

from django.db import models
from django.db.models import Q

from bookings.identity import mask_birth_date


class Booking(models.Model):
    """One person's booking of one slot in one campaign.

    Born ``pending``; the confirm service decides it (``confirmed`` with a code, or
    ``rejected``) under a row lock. The registration number is kept only as a keyed HMAC (for
    matching) and a Fernet ciphertext; what people read is the masked form.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        CONFIRMED = "confirmed", "Confirmed"
        REJECTED = "rejected", "Rejected"
        CANCELLED = "cancelled", "Cancelled"

    ACTIVE_STATUSES = (Status.PENDING, Status.CONFIRMED)

    class RejectReason(models.TextChoices):
        SLOT_FULL = "slot_full", "The slot filled before your booking was confirmed."
        OUTSIDE_WINDOW = "outside_window", "The booking was requested outside the window."
        # Its confirmation failed for good: bookings.tasks gave up on it.
        SYSTEM_ERROR = (
            "system_error",
            "We could not confirm this booking because of a system problem.",
        )

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.PROTECT, related_name="bookings"
    )
    slot = models.ForeignKey("clinics.Slot", on_delete=models.PROTECT, related_name="bookings")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    code = models.CharField(max_length=12, unique=True, null=True, blank=True)
    reject_reason = models.CharField(max_length=20, choices=RejectReason.choices, blank=True)

    name = models.CharField(max_length=50)
    phone = models.CharField(max_length=20)
    birth_date = models.DateField()
    rrn_gender_digit = models.CharField(max_length=1)
    rrn_hmac = models.CharField(max_length=64, db_index=True)
    rrn_encrypted = models.TextField()

    requested_at = models.DateTimeField(help_text="Server time of the request.")
    admission_pass = models.CharField(
        max_length=32, blank=True, help_text="The waiting-room ticket whose pass let it in."
    )
    waiting_room_required = models.BooleanField(
        default=False, help_text="The waiting room was on when the booking was requested."
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    checked_in_at = models.DateTimeField(null=True, blank=True)
    checked_in_by = models.ForeignKey(
        "auth.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
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
