"""The reads the planner needs about a campaign's places."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import F, Sum
from django.db.models.functions import Coalesce

from campaigns.models import Campaign
from campaigns.selectors import second_dose_shortfall
from clinics.selectors import bookable_slots


@dataclass(frozen=True)
class Places:
    offered: int  # capacity of the slots not started yet
    booked: int
    second_dose_days_short: int  # clinic days with fewer second-dose places than first
    second_dose_missing: int  # summed over those days

    @property
    def free(self) -> int:
        return self.offered - self.booked


def campaign_places(campaign: Campaign, *, now: datetime) -> Places:
    """The campaign's places in slots not started yet, and where second doses fall short
    (``campaigns.selectors.second_dose_shortfall``; nothing for a one-dose vaccine). Two
    queries."""
    totals = bookable_slots(campaign, now=now).aggregate(
        offered=Coalesce(Sum("capacity"), 0), booked=Coalesce(Sum(F("booked")), 0)
    )
    days = second_dose_shortfall(campaign, now=now) or []
    short = [day for day in days if day.short]
    return Places(
        offered=totals["offered"],
        booked=totals["booked"],
        second_dose_days_short=len(short),
        second_dose_missing=sum(day.missing for day in short),
    )
