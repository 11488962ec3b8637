"""Every state change of a campaign's waiting room goes through a function here."""

import logging
import secrets
from datetime import date, datetime, timedelta

from django.db import transaction
from django.utils import timezone

from campaigns import waiting_room
from campaigns.models import AdmissionRate, Campaign, QueueDrawEntry
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
            if campaign.opens_at > now:  # a new draw for the new epoch
                campaign.draw_seed, campaign.drawn_at = "", None
                campaign.draw_entries.all().delete()
        effective_from = max(now, campaign.opens_at, campaign.waiting_room_epoch or now)
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
                "draw_seed",
                "drawn_at",
            ]
        )
    waiting_room.forget_config(campaign)
    return campaign


def run_draw(campaign_id: int, *, now: datetime | None = None) -> int | None:
    """Put every ticket that arrived before the opening in a random order.

    The seed is drawn now — after the opening, when no more early tickets can be issued — and
    recorded with every ticket and its place, so that ``verify_draw`` can recompute the order.
    Idempotent: a campaign already drawn for this epoch has its result republished to the cache
    (after a cache restart) from the database. Returns the number of tickets placed, or None
    when no draw is due.
    """
    now = now or timezone.now()
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().filter(pk=campaign_id).first()
        if campaign is None or not campaign.waiting_room_enabled:
            return None
        config = waiting_room.build_config(campaign)
        if not waiting_room.draw_due(config, now=now.timestamp()):
            return None
        if campaign.drawn_at is None:
            tickets = waiting_room.early_tickets(config)
            by_id = {ticket_id: number for number, ticket_id in tickets.items()}
            campaign.draw_seed = secrets.token_hex(16)
            campaign.drawn_at = now
            order = waiting_room.draw_order(campaign.draw_seed, by_id)
            QueueDrawEntry.objects.bulk_create(
                [
                    QueueDrawEntry(campaign=campaign, number=by_id[t], ticket_id=t, position=place)
                    for place, t in enumerate(order, start=1)
                ],
                batch_size=5000,
            )
            campaign.save(update_fields=["draw_seed", "drawn_at"])
            logger.info("waiting room %s: drew %d early tickets", campaign.slug, len(order))
        places = dict(campaign.draw_entries.values_list("number", "position"))
    waiting_room.store_places(config, places, now=now.timestamp())
    return len(places)


def verify_draw(campaign: Campaign) -> tuple[bool, int]:
    """Recompute the draw from the recorded seed and tickets; (matches, number of tickets)."""
    entries = list(campaign.draw_entries.order_by("position"))
    recomputed = waiting_room.draw_order(campaign.draw_seed, [e.ticket_id for e in entries])
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
