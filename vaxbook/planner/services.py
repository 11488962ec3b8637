"""The planner's one write: create the proposed windows, through the campaign services that
the campaign admin uses (so every window added, and the admission rate set, is audited)."""

from collections.abc import Sequence
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from campaigns import services as campaign_services
from campaigns.models import BookingWindow, Campaign, format_birth_date
from vaxbook.planner.plan import ProposedWindow


class PlanRefused(Exception):
    """Why the windows were not created, as data: ``code`` and ``params``."""

    def __init__(self, code: str, **params) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


def booking_opened_at(campaign: Campaign, *, now: datetime) -> datetime | None:
    """When the campaign's booking opened — the first opening of its windows in force (its
    staggered windows, else its own) — or None while that is still to come."""
    first = min(w.opens_at for w in campaign.booking_windows())
    return first if first <= now else None


def check_can_plan(campaign: Campaign, windows: Sequence[ProposedWindow], *, now: datetime) -> None:
    """Refuse once the campaign's booking has opened (``booking_opened``): windows added then
    would take the place of the ones in force — a campaign's own window, for its whole cohort,
    would close at once, bookings requested in it would be rejected when decided, tickets for
    its opening would be void, and the waiting room switched on would send everyone on a
    booking form to the queue. Refuse too a proposal whose first window
    opens now or earlier (``first_opening_past``). Call it holding the campaign's row lock."""
    opened = booking_opened_at(campaign, now=now)
    if opened is not None:
        raise PlanRefused("booking_opened", opened_at=opened)
    first = min(w.opens_at for w in windows)
    if first <= now:
        raise PlanRefused("first_opening_past", first_opening=first)


def check_no_overlap(campaign: Campaign, windows: Sequence[ProposedWindow]) -> None:
    """Refuse (``overlapping_windows``) when a window the campaign already has is open at any
    moment a proposed one is: the two plans would mix, so the official decides. Call it holding the
    campaign's row lock, or two plans created at once both pass it."""
    overlapping = [
        existing.pk
        for existing in campaign.windows.all()
        if any(w.opens_at < existing.closes_at and existing.opens_at < w.closes_at for w in windows)
    ]
    if overlapping:
        raise PlanRefused("overlapping_windows", windows=overlapping)


def create_planned_windows(
    campaign: Campaign,
    windows: Sequence[ProposedWindow],
    *,
    actor,
    admission_rate_per_minute: int | None = None,
    now: datetime | None = None,
) -> list[BookingWindow]:
    """Create one ``BookingWindow`` per digit of each proposed window (a window is one digit
    of the birth day; a proposed window of three digits is three rows with the same opening,
    so one line in the waiting room; a part of a digit split by birth date is one row with
    that digit and its ``born_from``–``born_to``, which covers their intersection), and, when
    ``admission_rate_per_minute`` is given, switch the waiting room on at that rate.

    Only before the campaign's booking opens, from a first opening to come (``check_can_plan``).
    Under the campaign's row lock (``save_campaign`` takes it, as in the admin): the checks and
    the writes see the same windows, and a refusal (``PlanRefused``) writes nothing.
    Each window added is recorded (``booking_window_added``), the rate too
    (``waiting_room_changed``).
    """
    if not windows:
        raise PlanRefused("nothing_to_create")
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        check_can_plan(campaign, windows, now=now or timezone.now())
        check_no_overlap(campaign, windows)
        if admission_rate_per_minute is None:
            enabled, rate = campaign.waiting_room_enabled, campaign.admission_rate_per_minute
        else:
            enabled, rate = True, admission_rate_per_minute
        campaign_services.save_campaign(
            campaign, actor=actor, waiting_room_enabled=enabled, per_minute=rate
        )
        created = []
        with campaign_services.booking_window_changes_recorded(campaign, actor=actor):
            for window in windows:
                for digit in window.digits:
                    row = BookingWindow(
                        campaign=campaign,
                        label=window_label(window),
                        opens_at=window.opens_at,
                        closes_at=window.closes_at,
                        birth_day_last_digit=digit,
                        born_from=window.born_from,
                        born_to=window.born_to,
                    )
                    row.full_clean()
                    row.save()
                    created.append(row)
    return created


def window_label(window: ProposedWindow) -> str:
    """The label officials see on the campaign's timeline, in the creating official's language
    (the booking pages describe a window by its rule, not by this)."""
    if window.born_from is not None:
        return gettext(
            "Planned window %(number)s: birth days ending in %(digits)s, born %(first)s to %(last)s"
        ) % {
            "number": window.number,
            "digits": ", ".join(str(d) for d in window.digits),
            "first": format_birth_date(window.born_from),
            "last": format_birth_date(window.born_to),
        }
    return gettext("Planned window %(number)s: birth days ending in %(digits)s") % {
        "number": window.number,
        "digits": ", ".join(str(d) for d in window.digits),
    }
