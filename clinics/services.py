"""Every change to clinics' slots goes through a function here."""

from collections.abc import Iterable, Iterator
from datetime import date, datetime, time, timedelta
from itertools import islice

from django.db import transaction

from campaigns.models import Campaign
from clinics.models import Clinic, Slot

MAX_DAYS = 366
# Rows per INSERT, and the most slot objects held in memory at once: a year of 5-minute slots
# at a few clinics is hundreds of thousands of rows.
BATCH_SIZE = 2000


def _start_times(day_starts: time, day_ends: time, interval: timedelta) -> list[time]:
    # Any date will do: the arithmetic only needs a datetime, and a day never wraps because
    # day_ends is later than day_starts on the same day.
    anchor = date(2000, 1, 1)
    moment, end = datetime.combine(anchor, day_starts), datetime.combine(anchor, day_ends)
    times = []
    while moment < end:
        times.append(moment.time())
        moment += interval
    return times


def generate_slots(
    *,
    clinics: Iterable[Clinic],
    campaign: Campaign,
    first_day: date,
    last_day: date,
    day_starts: time,
    day_ends: time,
    interval_minutes: int,
    capacity: int,
) -> int:
    """Create the campaign's slots at each clinic, each day, every ``interval_minutes``.

    Days run from ``first_day`` to ``last_day`` inclusive; start times from ``day_starts``
    up to, not including, ``day_ends``. A slot that already exists (same clinic, campaign,
    day and start time) is left as it is, its capacity and bookings untouched, so running it
    again is harmless. Returns how many slots were created.

    Raises ``ValueError`` with a message fit to show an official when the input makes no sense.
    """
    if last_day < first_day:
        raise ValueError("The last day is before the first day.")
    days = (last_day - first_day).days + 1
    if days > MAX_DAYS:
        raise ValueError(f"At most {MAX_DAYS} days at a time ({days} asked).")
    if interval_minutes <= 0:
        raise ValueError("The interval between slots must be at least one minute.")
    if capacity < 1:
        raise ValueError("Each slot needs a capacity of at least one person.")
    if day_ends <= day_starts:
        raise ValueError("The day must end after it starts.")

    clinic_ids = [clinic.pk for clinic in clinics]
    if not clinic_ids:
        return 0
    times = _start_times(day_starts, day_ends, timedelta(minutes=interval_minutes))
    new_slots: Iterator[Slot] = (
        Slot(
            clinic_id=clinic_id,
            campaign=campaign,
            date=first_day + timedelta(days=offset),
            start_time=start_time,
            capacity=capacity,
        )
        for clinic_id in clinic_ids
        for offset in range(days)
        for start_time in times
    )
    scope = Slot.objects.filter(
        clinic_id__in=clinic_ids, campaign=campaign, date__range=(first_day, last_day)
    )
    with transaction.atomic():
        # ignore_conflicts leans on the slot_unique_time constraint and does not report which
        # rows it skipped, so the count is a difference. A concurrent run on the same clinics
        # could have its rows counted here too; for an official's report that is acceptable.
        before = scope.count()
        while batch := list(islice(new_slots, BATCH_SIZE)):
            Slot.objects.bulk_create(batch, ignore_conflicts=True)
        return scope.count() - before
