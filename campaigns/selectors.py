"""Queries about campaigns that pages, services and the API share."""

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime
from itertools import accumulate, groupby

from django.db.models import F, Sum
from django.utils import timezone

from campaigns.models import Campaign, Window
from campaigns.windows import describe, windows_of
from clinics.models import Slot
from clinics.selectors import upcoming


def campaign_for_birth_date(
    birth_date: date, *, now: datetime | None = None, excluding: Campaign | None = None
) -> Campaign | None:
    """The campaign a person born on ``birth_date`` may book in now or later: one whose cohort
    covers the date and whose booking has not closed (open ones first, then the one opening
    soonest). None when there is none. ``excluding`` is the campaign the person tried."""
    now = now or timezone.now()
    candidates = Campaign.objects.filter(
        born_from__lte=birth_date, born_to__gte=birth_date, closes_at__gt=now
    ).order_by("opens_at", "pk")
    if excluding is not None and excluding.pk is not None:
        candidates = candidates.exclude(pk=excluding.pk)
    return candidates.first()


@dataclass(frozen=True)
class ListedWindow:
    """A booking window as the home and queue pages list it: whom it is for and when."""

    window: Window
    whom: str
    state: str  # scheduled | open | closed

    @property
    def opens_at(self) -> datetime:
        return self.window.opens_at

    @property
    def closes_at(self) -> datetime:
        return self.window.closes_at

    # For scripts and tests: the moments in UTC, ISO 8601, whatever the zone they came in.
    @property
    def opens_iso(self) -> str:
        return self.window.opens_at.astimezone(UTC).isoformat()

    @property
    def closes_iso(self) -> str:
        return self.window.closes_at.astimezone(UTC).isoformat()


def listed_windows(windows: list[Window], *, now: datetime | None = None) -> list[ListedWindow]:
    """Each window, in the order they open, with whom it is for (in the active language) and
    whether it is open now."""
    now = now or timezone.now()
    listed = []
    for window in sorted(windows, key=lambda w: (w.opens_at, w.closes_at)):
        if window.is_open(now):
            state = "open"
        elif window.opens_at > now:
            state = "scheduled"
        else:
            state = "closed"
        listed.append(ListedWindow(window=window, whom=describe(window), state=state))
    return listed


def campaign_windows(campaign: Campaign, *, now: datetime | None = None) -> list[ListedWindow]:
    """The campaign's windows in force, listed (prefetch ``windows`` to save the query)."""
    return listed_windows(windows_of(campaign), now=now)


@dataclass(frozen=True)
class SecondDoseDay:
    """One clinic's first-dose day: its first-dose places still free, against the places still
    free for their second doses at that clinic within the vaccine's interval
    (``second_free``) and on the recommended day (``recommended_free``)."""

    clinic_id: int
    clinic_code: str
    clinic_name: str
    day: date
    first_free: int
    second_free: int
    recommended_free: int

    @property
    def short(self) -> bool:
        """Fewer second-dose places than first-dose ones: once they are taken, the day's
        remaining first doses cannot be booked (no course is confirmed without its second)."""
        return self.second_free < self.first_free

    @property
    def missing(self) -> int:
        return max(self.first_free - self.second_free, 0)


def _free_between(ordinals: list[int], running: list[int], first: int, last: int) -> int:
    """The places of the days ``first`` to ``last`` (ordinals, both included), from the sorted
    days' ``ordinals`` and the ``running`` totals of their places (``running[i]``: the first
    ``i`` days')."""
    return running[bisect_right(ordinals, last)] - running[bisect_left(ordinals, first)]


def second_dose_shortfall(
    campaign: Campaign, *, now: datetime | None = None
) -> list[SecondDoseDay] | None:
    """Per clinic (by name) and day, every day with a first-dose place still free in
    ``campaign``, with the second-dose places still free for it (``SecondDoseDay``); None when
    the campaign's vaccine is one dose (or none): there is nothing to check.

    Places are the slots' ``capacity - booked`` of the slots not started yet, as of this read.
    A place counts on both sides: the same slot takes a first dose or another's second, so a
    day not flagged can still run short as its neighbours fill; the page is a warning, not a
    promise. For three doses it checks the second only.

    One query whatever the number of slots and bookings (the day totals, grouped in the
    database); the interval sums are made here from them, with running totals per clinic.
    ``campaign.vaccine`` should be loaded with it (``select_related``), or it costs one more.
    """
    vaccine = campaign.vaccine
    if vaccine is None or vaccine.doses < 2:
        return None
    shortest, recommended, longest = (
        vaccine.interval_min_days,
        vaccine.interval_recommended_days,
        vaccine.interval_max_days,
    )
    now = now or timezone.now()
    days = (
        Slot.objects.filter(upcoming(now), campaign=campaign)
        .values("clinic_id", "clinic__code", "clinic__name", "date")
        .annotate(free=Sum(F("capacity") - F("booked")))
        .order_by("clinic__name", "clinic_id", "date")
    )
    found: list[SecondDoseDay] = []
    for _, rows in groupby(days, key=lambda row: row["clinic_id"]):
        rows = list(rows)
        ordinals = [row["date"].toordinal() for row in rows]
        running = [0, *accumulate(row["free"] for row in rows)]
        free_on = dict(zip(ordinals, (row["free"] for row in rows), strict=True))
        for row, ordinal in zip(rows, ordinals, strict=True):
            if row["free"] <= 0:
                continue
            found.append(
                SecondDoseDay(
                    clinic_id=row["clinic_id"],
                    clinic_code=row["clinic__code"],
                    clinic_name=row["clinic__name"],
                    day=row["date"],
                    first_free=row["free"],
                    second_free=_free_between(
                        ordinals, running, ordinal + shortest, ordinal + longest
                    ),
                    recommended_free=free_on.get(ordinal + recommended, 0),
                )
            )
    return found
