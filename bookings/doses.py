"""Which slots a course's later doses get: the vaccine's schedule applied to a first choice.

A vaccine of more than one dose (``campaigns.Vaccine``) is given ``interval_min_days`` to
``interval_max_days`` days apart and booking aims for ``interval_recommended_days``. The next
dose is offered at the same clinic, on the recommended day at the same time of day where that
slot has a place; otherwise at the slot with a place nearest to that moment within the interval
(the earlier one on a tie). Places are read, not taken: the confirm service takes them, all the
course's at once.
"""

from datetime import date, datetime, timedelta

from django.db.models import F
from django.utils import timezone

from campaigns.models import Campaign, Vaccine
from clinics.models import Slot
from clinics.selectors import upcoming


def later_doses(campaign: Campaign) -> int:
    """How many doses follow the first in this campaign's vaccine (0 for one dose or none)."""
    vaccine = campaign.vaccine
    return max(vaccine.doses - 1, 0) if vaccine else 0


def interval(vaccine: Vaccine) -> tuple[int, int, int]:
    """(shortest, recommended, longest) days between two doses."""
    return (
        vaccine.interval_min_days,
        vaccine.interval_recommended_days,
        vaccine.interval_max_days,
    )


def within_interval(vaccine: Vaccine, *, previous: date, day: date) -> bool:
    shortest, _, longest = interval(vaccine)
    return previous + timedelta(days=shortest) <= day <= previous + timedelta(days=longest)


def next_dose_slot(
    campaign: Campaign,
    *,
    after: Slot,
    now: datetime,
    exclude: tuple[int, ...] = (),
) -> Slot | None:
    """The slot offered for the dose that follows one at ``after``, or None when the clinic has
    no place within the interval. ``exclude``: slots not to offer (those the course leaves)."""
    shortest, recommended, longest = interval(campaign.vaccine)
    target = datetime.combine(after.date + timedelta(days=recommended), after.start_time)
    candidates = (
        Slot.objects.filter(
            upcoming(now),
            campaign=campaign,
            clinic_id=after.clinic_id,
            date__gte=after.date + timedelta(days=shortest),
            date__lte=after.date + timedelta(days=longest),
            booked__lt=F("capacity"),
        )
        .exclude(pk__in=exclude)
        .select_related("clinic")
    )

    def distance(slot: Slot) -> tuple[float, datetime]:
        at = datetime.combine(slot.date, slot.start_time)
        return abs((at - target).total_seconds()), at

    return min(candidates, key=distance, default=None)


def later_dose_slots(
    campaign: Campaign, *, first: Slot, now: datetime | None = None
) -> list[Slot] | None:
    """The slots offered for every dose after a first at ``first`` (empty for a one-dose
    vaccine), each placed after the one before; None when one of them has no place."""
    now = now or timezone.now()
    chosen: list[Slot] = []
    previous = first
    for _ in range(later_doses(campaign)):
        slot = next_dose_slot(campaign, after=previous, now=now)
        if slot is None:
            return None
        chosen.append(slot)
        previous = slot
    return chosen
