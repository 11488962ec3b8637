"""Every state change of a campaign — its settings, windows, waiting room and draws — goes
through a function here; those an official makes are recorded in the audit log."""

import logging
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from campaigns import waiting_room
from campaigns.models import (
    AdmissionRate,
    BookingWindow,
    Campaign,
    QueueDraw,
    QueueDrawEntry,
    Vaccine,
)
from campaigns.windows import windows_of
from vaxbook.auditlog.models import AuditEvent
from vaxbook.auditlog.services import record

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


# What the audit log keeps of an official's changes to a campaign: when booking opens and
# closes, the staggered windows, and the waiting room's settings (its epoch and draws are this
# module's doing, not a choice in the form).
AUDITED_WINDOW_FIELDS = ("opens_at", "closes_at")
AUDITED_WAITING_ROOM_FIELDS = (
    "waiting_room_enabled",
    "admission_rate_per_minute",
    "admission_pass_minutes",
    "draw_published",
)
AUDITED_BOOKING_WINDOW_FIELDS = (
    "label",
    "opens_at",
    "closes_at",
    "birth_day_last_digit",
    "born_from",
    "born_to",
)


def save_campaign(
    campaign: Campaign, *, actor, waiting_room_enabled: bool, per_minute: int
) -> Campaign:
    """Save an official's edit of a campaign (as set on the object) with its waiting room, and
    record each changed window or waiting-room setting in the audit log.

    What the save replaces is read under the campaign's row lock, so the old values recorded
    are the ones overwritten; call it inside the request's transaction (the admin's) and that
    lock is held until the staggered windows are saved too (``booking_window_changes_recorded``),
    so another official saving the same campaign waits.
    """
    fields = AUDITED_WINDOW_FIELDS + AUDITED_WAITING_ROOM_FIELDS
    with transaction.atomic():
        old_slug = None
        if campaign.pk is not None:
            before = _audited_settings(campaign.pk, lock=True)
            old_slug = (
                Campaign.objects.filter(pk=campaign.pk).values_list("slug", flat=True).first()
            )
        else:
            before = {name: Campaign._meta.get_field(name).get_default() for name in fields}
        campaign.save()
        if old_slug is not None and old_slug != campaign.slug:
            # the booking pages' guard holds the campaign by its slug (waiting_room.campaign_for)
            waiting_room.forget_slug(old_slug)
        configure_waiting_room(campaign, enabled=waiting_room_enabled, per_minute=per_minute)
        for name, new in _audited_settings(campaign.pk).items():
            old = before.get(name)
            if old == new:
                continue
            action = (
                AuditEvent.Action.CAMPAIGN_WINDOW_CHANGED
                if name in AUDITED_WINDOW_FIELDS
                else AuditEvent.Action.WAITING_ROOM_CHANGED
            )
            _record_campaign_event(
                campaign, action, actor=actor, details={"field": name, "old": old, "new": new}
            )
    return campaign


@contextmanager
def booking_window_changes_recorded(campaign: Campaign, *, actor) -> Iterator[None]:
    """Around saving a campaign's staggered windows (the admin's inline formset): record every
    window added, changed or deleted, and let the waiting room see the new lines at once."""
    before = _booking_windows(campaign)
    yield
    after = _booking_windows(campaign)
    for pk in sorted(after.keys() - before.keys()):
        _record_campaign_event(
            campaign,
            AuditEvent.Action.BOOKING_WINDOW_ADDED,
            actor=actor,
            details={"window": pk, "new": after[pk]},
        )
    for pk in sorted(before.keys() & after.keys()):
        for name in AUDITED_BOOKING_WINDOW_FIELDS:
            old, new = before[pk][name], after[pk][name]
            if old != new:
                _record_campaign_event(
                    campaign,
                    AuditEvent.Action.BOOKING_WINDOW_CHANGED,
                    actor=actor,
                    details={"window": pk, "field": name, "old": old, "new": new},
                )
    for pk in sorted(before.keys() - after.keys()):
        _record_campaign_event(
            campaign,
            AuditEvent.Action.BOOKING_WINDOW_DELETED,
            actor=actor,
            details={"window": pk, "old": before[pk]},
        )
    waiting_room.forget_config(campaign)


def save_vaccine(vaccine: Vaccine) -> Vaccine:
    """Save an official's edit of a vaccine. The booking pages read its doses and intervals
    from the campaign each web process holds (``waiting_room.campaign_for``): every campaign of
    this vaccine is forgotten, so the change is seen at once here and within the bound
    everywhere else."""
    with transaction.atomic():
        vaccine.save()
        for campaign in Campaign.objects.filter(vaccine=vaccine).only("pk", "slug"):
            waiting_room.forget_config(campaign)
    return vaccine


def delete_campaigns(campaigns: Iterable[Campaign]) -> None:
    """Delete campaigns (the admin's delete): every web process stops serving the held copy of
    each (within the bound), and its booking pages answer 404."""
    with transaction.atomic():
        for campaign in campaigns:
            slug = campaign.slug
            campaign.delete()
            waiting_room.forget_slug(slug)


def publish_draws(campaign_ids: Iterable[int], *, actor) -> tuple[int, int]:
    """Publish the queue draws of these campaigns (their seeds and orders, at
    ``/queue/<slug>/draw/``), recording each newly published one. Campaigns not drawn yet are
    skipped. Returns (published or already public, skipped)."""
    selected = set(campaign_ids)
    drawn = set(QueueDraw.objects.filter(campaign__in=selected).values_list("campaign", flat=True))
    with transaction.atomic():
        newly = list(
            Campaign.objects.select_for_update()
            .filter(pk__in=drawn, draw_published=False)
            .order_by("pk")
        )
        Campaign.objects.filter(pk__in=[c.pk for c in newly]).update(draw_published=True)
        for campaign in newly:
            waiting_room.forget_config(campaign)  # a field of the campaign the guard holds
            _record_campaign_event(
                campaign,
                AuditEvent.Action.WAITING_ROOM_CHANGED,
                actor=actor,
                details={"field": "draw_published", "old": False, "new": True},
            )
    return len(drawn), len(selected - drawn)


def _audited_settings(campaign_id: int, *, lock: bool = False) -> dict[str, Any]:
    campaigns = Campaign.objects.filter(pk=campaign_id)
    if lock:
        campaigns = campaigns.select_for_update()
    fields = AUDITED_WINDOW_FIELDS + AUDITED_WAITING_ROOM_FIELDS
    return campaigns.values(*fields).first() or {}


def _booking_windows(campaign: Campaign) -> dict[int, dict[str, Any]]:
    rows = BookingWindow.objects.filter(campaign=campaign).values(
        "pk", *AUDITED_BOOKING_WINDOW_FIELDS
    )
    return {row.pop("pk"): row for row in rows}


def _record_campaign_event(
    campaign: Campaign, action: AuditEvent.Action, *, actor, details: dict[str, Any]
) -> None:
    record(
        action,
        actor=actor,
        obj_type="campaigns.campaign",
        obj_id=campaign.pk,
        details={"campaign": campaign.slug, **details},
    )
