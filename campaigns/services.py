"""Every state change of a campaign's waiting room goes through a function here."""

import logging
import secrets
from datetime import date, datetime, timedelta

from django.db import transaction
from django.utils import timezone

from campaigns import waiting_room
from campaigns.models import AdmissionRate, Campaign, QueueDraw, QueueDrawEntry
from campaigns.windows import windows_of

logger = logging.getLogger(__name__)


def configure_waiting_room(
    campaign: Campaign, *, enabled: bool, per_minute: int, now: datetime | None = None
) -> Campaign:
    """Switch the waiting room on or off and set its admission rate.

    Switching it on starts a new epoch (older tickets and passes are void). A rate change takes
    effect now (or at the opening, if that is later) and keeps the history, so the number
    admitted so far never jumps.
    """
    if per_minute < 1:
        raise ValueError("The admission rate must be at least one person a minute.")
    now = now or timezone.now()
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        switched_on = enabled and (
            not campaign.waiting_room_enabled or not campaign.waiting_room_epoch
        )
        if switched_on:
            campaign.waiting_room_epoch = now
            campaign.admission_rates.all().delete()
        first_opening = min(w.opens_at for w in windows_of(campaign))
        effective_from = max(now, first_opening, campaign.waiting_room_epoch or now)
        latest = campaign.admission_rates.order_by("-effective_from", "-pk").first()
        if latest is None or latest.per_minute != per_minute:
            campaign.admission_rates.filter(effective_from__gte=effective_from).delete()
            AdmissionRate.objects.create(
                campaign=campaign, effective_from=effective_from, per_minute=per_minute
            )
        campaign.waiting_room_enabled = enabled
        campaign.admission_rate_per_minute = per_minute
        campaign.save(
            update_fields=[
                "waiting_room_enabled",
                "waiting_room_epoch",
                "admission_rate_per_minute",
            ]
        )
    waiting_room.forget_config(campaign)
    return campaign


def run_draw(campaign_id: int, *, now: datetime | None = None) -> int | None:
    """Draw every opening of the campaign whose draw is due: put every ticket that arrived
    before that opening in a random order.

    Each seed is drawn at its draw — after its opening, when no more early tickets can be
    issued for it — and recorded with every ticket and its place (``QueueDraw``), so that
    ``verify_draw`` can recompute each order. Idempotent: an opening already drawn has its
    result republished to the cache (after a cache restart) from the database. Returns the
    number of tickets placed over all due openings, or None when no draw is due.
    """
    now = now or timezone.now()
    published: list[tuple[float, dict[int, int]]] = []
    with transaction.atomic():
        campaign = (
            Campaign.objects.select_for_update()
            .prefetch_related("windows")
            .filter(pk=campaign_id)
            .first()
        )
        if campaign is None or not campaign.waiting_room_enabled:
            return None
        config = waiting_room.build_config(campaign)
        due = waiting_room.due_draws(config, now=now.timestamp())
        if not due:
            return None
        drawn = {d.opens_at.timestamp(): d for d in campaign.draws.all()}
        for opening in due:
            draw = drawn.get(opening) or _draw(campaign, config, opening, now=now)
            published.append((opening, dict(draw.entries.values_list("number", "position"))))
    for opening, places in published:
        waiting_room.store_places(config, opening, places, now=now.timestamp())
    return sum(len(places) for _, places in published)


def _draw(campaign: Campaign, config, opening: float, *, now: datetime) -> QueueDraw:
    """Draw one opening (the caller holds the campaign's lock)."""
    tickets = waiting_room.early_tickets(config, opening)
    by_id = {ticket_id: number for number, ticket_id in tickets.items()}
    draw = QueueDraw.objects.create(
        campaign=campaign,
        opens_at=waiting_room.as_datetime(opening),
        seed=secrets.token_hex(16),
        drawn_at=now,
    )
    order = waiting_room.draw_order(draw.seed, by_id)
    QueueDrawEntry.objects.bulk_create(
        [
            QueueDrawEntry(draw=draw, number=by_id[t], ticket_id=t, position=place)
            for place, t in enumerate(order, start=1)
        ],
        batch_size=5000,
    )
    logger.info(
        "waiting room %s: drew %d early tickets of the opening at %s",
        campaign.slug,
        len(order),
        draw.opens_at.isoformat(),
    )
    return draw


def verify_draw(draw: QueueDraw) -> tuple[bool, int]:
    """Recompute a draw from its recorded seed and tickets; (matches, number of tickets)."""
    entries = list(draw.entries.order_by("position"))
    recomputed = waiting_room.draw_order(draw.seed, [e.ticket_id for e in entries])
    return recomputed == [e.ticket_id for e in entries], len(entries)


def uncovered_birth_dates(campaign: Campaign) -> list[tuple[date, date]]:
    """Stretches of the cohort that no booking window covers (the admin warns about them)."""
    windows = windows_of(campaign)
    gaps: list[tuple[date, date]] = []
    day, start = campaign.born_from, None
    while day <= campaign.born_to:
        covered = any(w.covers(day) for w in windows)
        if not covered and start is None:
            start = day
        if covered and start is not None:
            gaps.append((start, day - timedelta(days=1)))
            start = None
        day += timedelta(days=1)
    if start is not None:
        gaps.append((start, campaign.born_to))
    return gaps
