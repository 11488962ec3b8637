from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone


class Clinic(models.Model):
    name = models.CharField(max_length=200)
    code = models.SlugField(max_length=40, unique=True, help_text="Short unique clinic code.")
    region = models.CharField(max_length=100, db_index=True)
    address = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["region", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class Slot(models.Model):
    """A time at a clinic for one campaign, with a hard number of doses.

    ``booked`` counts confirmed bookings. It only changes through the conditional updates in
    ``bookings.services``; the check constraints make overbooking impossible even for code
    that forgets.
    """

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="slots")
    campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.PROTECT, related_name="slots"
    )
    date = models.DateField()
    start_time = models.TimeField()
    capacity = models.PositiveIntegerField()
    booked = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["date", "start_time"]
        constraints = [
            models.CheckConstraint(condition=Q(booked__gte=0), name="slot_booked_not_negative"),
            models.CheckConstraint(
                condition=Q(booked__lte=F("capacity")), name="slot_booked_within_capacity"
            ),
            models.UniqueConstraint(
                fields=["clinic", "campaign", "date", "start_time"], name="slot_unique_time"
            ),
        ]
        indexes = [models.Index(fields=["campaign", "clinic", "date"])]

    def __str__(self) -> str:
        return f"{self.clinic.code} {self.date:%Y-%m-%d} {self.start_time:%H:%M}"

    @property
    def starts_at(self) -> datetime:
        """The start as an aware datetime; slot dates and times are Korea time."""
        return timezone.make_aware(datetime.combine(self.date, self.start_time))

    @property
    def places_left(self) -> int:
        return max(self.capacity - self.booked, 0)

    def clean(self) -> None:
        if self.capacity is not None and self.capacity < self.booked:
            raise ValidationError(
                {
                    "capacity": f"{self.booked} places are already booked; "
                    "capacity cannot be lower than that."
                }
            )


class StaffMembership(models.Model):
    """A staff user works at a clinic: they see its day, check people in and export its
    rosters (``clinics.access``)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="clinic_memberships"
    )
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="memberships")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "clinic"], name="membership_unique")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.clinic.code}"
