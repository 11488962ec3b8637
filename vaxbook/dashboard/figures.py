"""The figures of the officials' live dashboard (selectors: reads only).

``campaign_figures`` is everything the page and its JSON show of one campaign. Its cost does
not grow with the number of bookings: every block is one aggregate query (``GROUP BY``, or
filtered counts) whose result has as many rows as there are minutes, regions × days, reasons
or windows — never one per booking — and the whole is computed in a fixed number of queries
(``FIGURES_QUERIES``, pinned by the tests) and kept in the cache (Redis) for
``CACHE_SECONDS``, however many officials are watching. The waiting room's figures come from
the cache too, through ``campaigns.waiting_room``'s functions, as the queue computes them.

What is counted: *bookings* (people) are first-dose rows (``first_dose`` empty: one per course,
however many doses it has); *places* are slots' capacity and ``booked`` (every dose's row takes
a place). The JSON says so in ``counting``.
"""

import math
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db.models import Count, Min, Prefetch, Q, Sum
from django.db.models.functions import TruncMinute
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from bookings.models import Booking
from campaigns import waiting_room
from campaigns.models import BookingWindow, Campaign, QueueDraw, Window
from campaigns.windows import WindowState, describe, window_state
from clinics.models import Slot

CACHE_SECONDS = 5  # the page refreshes at this pace; every official shares one computation
SERIES_HOURS = 3  # the per-minute series covers this many hours before now
RUNNING_OUT = 10  # how many region × day cells the "runs out first" list shows
# Queries for one campaign's figures on a cache miss, whatever the number of bookings: the
# campaign (1) with its windows (1), the booking counts (1), the series (1), the rejections
# (1), the fill (1), the windows' bookings (1), the admission rates (1) and the draws (1).
FIGURES_QUERIES = 9

# What each state is called where officials read it.
STATE_NAMES = {
    WindowState.SCHEDULED: _("Before opening"),
    WindowState.OPEN: _("Open"),
    WindowState.CLOSED: _("Closed"),
}

# Each rejection's reason as officials name it (Booking.RejectReason's labels are what the
# person is told, too long for a chart's axis).
REASON_NAMES = {
    Booking.RejectReason.SLOT_FULL: _("Slot full"),
    Booking.RejectReason.OUTSIDE_WINDOW: _("Outside the window"),
    Booking.RejectReason.SYSTEM_ERROR: _("System error"),
    Booking.RejectReason.LATER_DOSE_FULL: _("Later dose full"),
    Booking.RejectReason.CLINIC_CLOSED: _("Clinic closed"),
}

FIRST_DOSES = Q(first_dose__isnull=True)


def _cache_key(campaign_id: int) -> str:
    # per language: the figures carry labels (states, reasons, whom a window is for)
    return f"dashboard:{campaign_id}:{translation.get_language()}"


def campaign_figures(campaign_id: int, *, now: datetime | None = None) -> dict | None:
    """The dashboard's figures of one campaign as JSON-ready data, at most ``CACHE_SECONDS``
    old (by the server's clock: a cached copy older than that is recomputed), or None if there
    is no such campaign."""
    now = now or timezone.now()
    cached = cache.get(_cache_key(campaign_id))
    if cached is not None and 0 <= now.timestamp() - cached["computed_at"] < CACHE_SECONDS:
        return cached["figures"]
    campaign = (
        Campaign.objects.prefetch_related(
            Prefetch("windows", queryset=BookingWindow.objects.order_by("opens_at", "pk"))
        )
        .filter(pk=campaign_id)
        .first()
    )
    if campaign is None:
        return None
    figures = compute_figures(campaign, now=now)
    # Redis forgets it a little later anyway (its own clock); the check above is what counts.
    cache.set(
        _cache_key(campaign_id),
        {"computed_at": now.timestamp(), "figures": figures},
        timeout=CACHE_SECONDS * 2,
    )
    return figures


def compute_figures(campaign: Campaign, *, now: datetime) -> dict:
    """Every block, computed now (prefetch the campaign's ``windows``)."""
    state = window_state(campaign, now=now)
    windows = campaign.booking_windows()
    config = waiting_room.build_config(campaign)  # the admission rates' query
    return {
        "campaign": {
            "id": campaign.pk,
            "slug": campaign.slug,
            "name": campaign.name,
            "state": state.value,
            "state_name": str(STATE_NAMES[state]),
            "opens_at": campaign.opens_at.isoformat(),
            "closes_at": campaign.closes_at.isoformat(),
        },
        "generated_at": now.isoformat(),
        "refresh_seconds": CACHE_SECONDS,
        "counting": {
            "bookings": "first_doses",
            "places": "all_doses",
        },
        "bookings": booking_counts(campaign, now=now),
        "series": minute_series(campaign, config, now=now),
        "rejections": rejections_by_reason(campaign),
        "fill": fill(campaign),
        "windows": windows_booked(campaign, windows, now=now),
        "waiting_room": waiting_room_figures(campaign, config, now=now),
    }


def booking_counts(campaign: Campaign, *, now: datetime) -> dict:
    """People's bookings by status, and the pending backlog's oldest request (one query)."""
    counts = Booking.objects.filter(FIRST_DOSES, campaign=campaign).aggregate(
        **{status.value: Count("pk", filter=Q(status=status.value)) for status in Booking.Status},
        oldest_pending=Min("requested_at", filter=Q(status=Booking.Status.PENDING)),
    )
    oldest = counts.pop("oldest_pending")
    return {
        **counts,
        "oldest_pending_at": oldest.isoformat() if oldest else None,
        "oldest_pending_seconds": max(int((now - oldest).total_seconds()), 0) if oldest else None,
    }


def minute_series(
    campaign: Campaign,
    config: waiting_room.QueueConfig,
    *,
    now: datetime,
    hours: int = SERIES_HOURS,
) -> dict:
    """Per minute over the last ``hours`` (oldest first, every minute present): people's
    bookings confirmed in that minute (those cancelled since included: a confirmation keeps its
    code), those rejected in it, and the waiting room's admission rate then (one query)."""
    end = now.replace(second=0, microsecond=0)
    start = end - timedelta(hours=hours) + timedelta(minutes=1)
    rows = (
        Booking.objects.filter(FIRST_DOSES, campaign=campaign, decided_at__gte=start)
        .annotate(minute=TruncMinute("decided_at"))
        .values("minute")
        .annotate(
            confirmed=Count("pk", filter=Q(code__isnull=False)),
            rejected=Count("pk", filter=Q(status=Booking.Status.REJECTED, code__isnull=True)),
        )
    )
    found = {row["minute"].timestamp(): row for row in rows}
    minutes, confirmed, rejected, rates = [], [], [], []
    for index in range(hours * 60):
        minute = start + timedelta(minutes=index)
        row = found.get(minute.timestamp(), {})
        minutes.append(minute.isoformat())
        confirmed.append(row.get("confirmed", 0))
        rejected.append(row.get("rejected", 0))
        rates.append(_rate_at(config, minute.timestamp()) if campaign.waiting_room_enabled else 0)
    return {
        "minutes": minutes,
        "confirmed": confirmed,
        "rejected": rejected,
        "admission_rate": rates,
    }


def _rate_at(config: waiting_room.QueueConfig, moment: float) -> int:
    """The admission rate in force at ``moment`` (0 before the first)."""
    rate = 0
    for effective_from, per_minute in config.rates:
        if effective_from <= moment:
            rate = per_minute
    return rate


def rejections_by_reason(campaign: Campaign) -> list[dict]:
    """People's bookings rejected, per reason, every reason listed (one query)."""
    counts = dict(
        Booking.objects.filter(FIRST_DOSES, campaign=campaign, status=Booking.Status.REJECTED)
        .values_list("reject_reason")
        .annotate(count=Count("pk"))
        .values_list("reject_reason", "count")
    )
    return [
        {
            "reason": reason.value,
            "label": str(REASON_NAMES.get(reason, reason.label)),
            "count": counts.get(reason.value, 0),
        }
        for reason in Booking.RejectReason
    ]


def _fill_row(offered: int, booked: int) -> dict:
    return {
        "offered": offered,
        "booked": booked,
        "free": max(offered - booked, 0),
        "fill_percent": round(100 * booked / offered, 1) if offered else 0.0,
    }


def fill(campaign: Campaign) -> dict:
    """Places offered and booked by region, by day, and the region × day cells nearest to
    running out (fullest first, then fewest free, then earliest) — one query over the slots,
    grouped by region and day."""
    cells = (
        Slot.objects.filter(campaign=campaign)
        .values("clinic__region", "date")
        .annotate(offered=Sum("capacity"), booked=Sum("booked"))
        .order_by("clinic__region", "date")
    )
    by_region: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_day: dict = defaultdict(lambda: [0, 0])
    grid = []
    for cell in cells:
        region, day = cell["clinic__region"], cell["date"]
        for totals in (by_region[region], by_day[day]):
            totals[0] += cell["offered"]
            totals[1] += cell["booked"]
        grid.append(
            {
                "region": region,
                "date": day.isoformat(),
                **_fill_row(cell["offered"], cell["booked"]),
            }
        )
    offered = sum(t[0] for t in by_region.values())
    booked = sum(t[1] for t in by_region.values())
    running_out = sorted(
        (c for c in grid if c["offered"]),
        key=lambda c: (-c["fill_percent"], c["free"], c["date"], c["region"]),
    )[:RUNNING_OUT]
    return {
        "total": _fill_row(offered, booked),
        "by_region": [
            {"region": region, **_fill_row(*totals)} for region, totals in sorted(by_region.items())
        ],
        "by_day": [
            {"date": day.isoformat(), **_fill_row(*totals)}
            for day, totals in sorted(by_day.items())
        ],
        "running_out": running_out,
    }


def _covered(window: Window) -> Q:
    """The bookings of people a window is for, as a condition on their birth date."""
    condition = Q()
    if window.last_digit is not None:
        days = [day for day in range(1, 32) if day % 10 == window.last_digit]
        condition &= Q(birth_date__day__in=days)
    if window.born_from:
        condition &= Q(birth_date__gte=window.born_from)
    if window.born_to:
        condition &= Q(birth_date__lte=window.born_to)
    return condition


def windows_booked(campaign: Campaign, windows: Iterable[Window], *, now: datetime) -> list[dict]:
    """Per window in force: whom it is for, when it opens and closes, its state now and how
    many of the people it is for hold a confirmed booking, and a pending one (one query: a
    filtered count per window)."""
    windows = list(windows)
    confirmed = Q(status=Booking.Status.CONFIRMED)
    pending = Q(status=Booking.Status.PENDING)
    counts = Booking.objects.filter(FIRST_DOSES, campaign=campaign).aggregate(
        **{
            name: Count("pk", filter=_covered(window) & status)
            for index, window in enumerate(windows)
            for name, status in ((f"c{index}", confirmed), (f"p{index}", pending))
        }
    )
    rows = []
    for index, window in enumerate(windows):
        state = (
            WindowState.OPEN
            if window.is_open(now)
            else WindowState.SCHEDULED
            if window.opens_at > now
            else WindowState.CLOSED
        )
        rows.append(
            {
                "label": window.label,
                "covers": describe(window),
                "opens_at": window.opens_at.isoformat(),
                "closes_at": window.closes_at.isoformat(),
                "state": state.value,
                "state_name": str(STATE_NAMES[state]),
                "confirmed": counts[f"c{index}"],
                "pending": counts[f"p{index}"],
            }
        )
    return rows


def waiting_room_figures(
    campaign: Campaign, config: waiting_room.QueueConfig, *, now: datetime
) -> dict:
    """The waiting room as the queue sees it: per opening's line, the people in it, admitted
    so far and still waiting, and the estimated wait of the last in line; the admission rates'
    history; each draw (done, and how many it placed) and whether the draws are published.
    From the cache (Redis) through ``campaigns.waiting_room`` (``config`` from its
    ``build_config``), plus the recorded draws (one query)."""
    moment = now.timestamp()
    recorded = {
        draw.opens_at.timestamp(): draw.tickets
        for draw in QueueDraw.objects.filter(campaign=campaign).annotate(tickets=Count("entries"))
    }
    lines = [_line(config, opening, now=moment) for opening in config.openings]
    draws = [
        {
            "opening": waiting_room.as_datetime(opening).isoformat(),
            "done": opening in recorded or waiting_room.drawn_count(config, opening) is not None,
            "tickets": recorded.get(opening),
        }
        for opening in config.openings
        if config.draws(opening)
    ]
    current = config.line_for_arrival(moment)
    return {
        "enabled": config.enabled,
        # the current line's, counted by the waiting room itself (the metrics give the same)
        "people_waiting": waiting_room.people_waiting(config, now=moment) if config.enabled else 0,
        "admitted": sum(line["admitted"] for line in lines) if config.enabled else 0,
        "rate_per_minute": config.current_rate,
        "rates": [
            {"from": waiting_room.as_datetime(since).isoformat(), "per_minute": per_minute}
            for since, per_minute in config.rates
        ],
        "current_line": waiting_room.as_datetime(current).isoformat() if current else None,
        "lines": lines if config.enabled else [],
        "draws": draws if config.enabled else [],
        "draws_published": campaign.draw_published,
    }


def _line(config: waiting_room.QueueConfig, opening: float, *, now: float) -> dict:
    """One opening's line: who is in it, admitted, waiting, and the last one's wait."""
    early, late, meter = waiting_room.line_tallies(config, opening)
    drawn = waiting_room.drawn_count(config, opening)
    admitted_early = admitted_late = 0
    # Nobody is admitted before the opening, nor before its draw has placed the early ones.
    if now >= opening and drawn is not None:
        admitted_early = min(drawn, waiting_room.admitted_upto(config, opening, now=now))
        admitted_late = waiting_room.late_admitted(config, opening, drawn, *meter, now=now)
        admitted_late = min(max(admitted_late, 0), late)
    in_line = (early if drawn is None else drawn) + late
    admitted = admitted_early + admitted_late
    return {
        "opening": waiting_room.as_datetime(opening).isoformat(),
        "in_line": in_line,
        "admitted": admitted,
        "waiting": max(in_line - admitted, 0),
        "last_wait_seconds": _last_wait(config, opening, early, late, drawn, meter, now=now),
    }


def _last_wait(config, opening, early, late, drawn, meter, *, now: float) -> int | None:
    """Seconds until the last person in this line is admitted (0 once admitted; None if the
    line is empty, or the rates never get there)."""
    base_at, base_count = meter
    if late:
        last = waiting_room.Ticket(
            id="",
            opening=int(opening),
            early=False,
            number=late,
            base_at=base_at,
            base_count=base_count,
        )
        place = (drawn if drawn is not None else early) + late
    elif early:
        last = waiting_room.Ticket(id="", opening=int(opening), early=True, number=early)
        place = early
    else:
        return None
    turn = waiting_room.turn_at(config, last, place)
    return None if turn is None else max(math.ceil(turn - now), 0)


def headline(campaign_id: int, *, now: datetime | None = None) -> dict | None:
    """The overview's numbers of one campaign (from its cached figures)."""
    figures = campaign_figures(campaign_id, now=now)
    if figures is None:
        return None
    return {
        "state": figures["campaign"]["state"],
        "state_name": figures["campaign"]["state_name"],
        "confirmed": figures["bookings"]["confirmed"],
        "pending": figures["bookings"]["pending"],
        "people_waiting": figures["waiting_room"]["people_waiting"],
        "fill_percent": figures["fill"]["total"]["fill_percent"],
    }


def series_rows(figures: dict) -> Iterable[list]:
    """The per-minute series as rows (header first), for the CSV export."""
    series = figures["series"]
    yield ["minute", "confirmed", "rejected", "admission_rate"]
    yield from zip(
        series["minutes"],
        series["confirmed"],
        series["rejected"],
        series["admission_rate"],
        strict=True,
    )
