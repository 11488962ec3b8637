from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from vaxbook.dates import format_day, format_time


class Clinic(models.Model):
    """A place that gives the vaccine (접종기관); its name is shown as entered."""

    name = models.CharField(_("name"), max_length=200)
    code = models.SlugField(
        _("code"),
        max_length=40,
        unique=True,
        help_text=_("Short unique clinic code (letters, digits and hyphens), used in addresses."),
    )
    region = models.CharField(_("region"), max_length=100, db_index=True)
    address = models.CharField(_("address"), max_length=300, blank=True)

    class Meta:
        ordering = ["region", "name"]
        verbose_name = _("clinic")
        verbose_name_plural = _("clinics")

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class Slot(models.Model):
    """A time at a clinic for one campaign, with a hard number of doses.

    ``booked`` counts confirmed bookings. It only changes through the conditional updates in
    ``bookings.services``; the check constraints make overbooking impossible even for code
    that forgets.
    """

    clinic = models.ForeignKey(
        Clinic, on_delete=models.PROTECT, related_name="slots", verbose_name=_("clinic")
    )
    campaign = models.ForeignKey(
        "campaigns.Campaign",
        on_delete=models.PROTECT,
        related_name="slots",
        verbose_name=_("campaign"),
    )
    date = models.DateField(_("date"))
    start_time = models.TimeField(_("start time"))
    capacity = models.PositiveIntegerField(_("capacity"), help_text=_("People per slot."))
    booked = models.PositiveIntegerField(
        pgettext_lazy("places", "booked"), default=0, editable=False
    )

    class Meta:
        ordering = ["date", "start_time"]
        verbose_name = _("slot")
        verbose_name_plural = _("slots")
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
        return f"{self.clinic.code} · {format_day(self.date)} {format_time(self.start_time)}"

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
                    "capacity": gettext(
                        "%(booked)d places are already booked; the capacity cannot be lower "
                        "than that."
                    )
                    % {"booked": self.booked}
                }
            )
        if (
            self.capacity is not None
            and self.capacity > self.booked
            and self.clinic_id is not None
            and self.date is not None
            and ClinicDayClosure.objects.filter(clinic_id=self.clinic_id, date=self.date).exists()
        ):
            raise ValidationError(
                {
                    "capacity": gettext(
                        "The clinic is closed on this day: it takes no more bookings."
                    )
                }
            )


class StaffMembership(models.Model):
    """A staff user works at a clinic: they see its day, check people in and export its
    rosters (``clinics.access``)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="clinic_memberships",
        verbose_name=_("user"),
    )
    clinic = models.ForeignKey(
        Clinic, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("clinic")
    )

    class Meta:
        verbose_name = _("clinic staff member")
        verbose_name_plural = _("clinic staff")
        constraints = [models.UniqueConstraint(fields=["user", "clinic"], name="membership_unique")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.clinic.code}"


class ClinicDayClosure(models.Model):
    """A clinic's day closed by an official (sickness, a late delivery): its appointments were
    moved to the nearest free places at the clinic or, where none was left, rejected
    (``bookings.services.close_clinic_day``), and its slots take no more bookings."""

    clinic = models.ForeignKey(
        Clinic, on_delete=models.PROTECT, related_name="closures", verbose_name=_("clinic")
    )
    date = models.DateField(_("date"))
    reason = models.CharField(
        _("reason"),
        max_length=200,
        help_text=_("Told to the people whose appointments move, e.g. 'vaccine delivery late'."),
    )
    closed_at = models.DateTimeField(_("closed at"))
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("closed by"),
    )
    moved = models.PositiveIntegerField(_("appointments moved"), default=0)
    rejected = models.PositiveIntegerField(_("appointments without a new place"), default=0)

    class Meta:
        ordering = ["-date"]
        verbose_name = _("closed clinic day")
        verbose_name_plural = _("closed clinic days")
        constraints = [
            models.UniqueConstraint(fields=["clinic", "date"], name="clinic_day_closed_once")
        ]

    def __str__(self) -> str:
        return f"{self.clinic.code} · {format_day(self.date)}"
