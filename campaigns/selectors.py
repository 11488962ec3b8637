"""Queries about campaigns that pages, services and the API share."""

from dataclasses import dataclass
from datetime import UTC, date, datetime

from django.utils import timezone

from campaigns.models import Campaign, Window
from campaigns.windows import describe, windows_of


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
