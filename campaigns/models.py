from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q


class Campaign(models.Model):
    """A vaccination campaign for one age cohort, with the window in which booking is open."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    vaccine = models.CharField(max_length=100, blank=True)
    born_from = models.DateField(help_text="First birth date of the cohort (inclusive).")
    born_to = models.DateField(help_text="Last birth date of the cohort (inclusive).")
    opens_at = models.DateTimeField(help_text="When booking opens, in Korea time (KST).")
    closes_at = models.DateTimeField(help_text="When booking closes, in Korea time (KST).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["opens_at", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(closes_at__gt=F("opens_at")), name="campaign_closes_after_opens"
            ),
            models.CheckConstraint(
                condition=Q(born_from__lte=F("born_to")), name="campaign_cohort_not_empty"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = {}
        if self.opens_at and self.closes_at and self.closes_at <= self.opens_at:
            errors["closes_at"] = "Booking must close after it opens."
        if self.born_from and self.born_to and self.born_from > self.born_to:
            errors["born_to"] = "The last birth date must not be before the first."
        if errors:
            raise ValidationError(errors)

    def covers_birth_date(self, birth_date: date) -> bool:
        return self.born_from <= birth_date <= self.born_to

    @property
    def cohort_label(self) -> str:
        return f"born {self.born_from:%Y-%m-%d} to {self.born_to:%Y-%m-%d}"

    def state(self, *, now: datetime | None = None) -> str:
        from campaigns.windows import window_state

        return window_state(self, now=now).value
