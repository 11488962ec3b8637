"""The virtual waiting room in front of a campaign's booking steps.

Everything a waiting person's browser polls is answered from the cache (Redis in production,
the in-process cache in the embedded default) and signed cookies, with no database query:

* a **ticket** (signed cookie, one per campaign) holds the person's arrival number. Arrivals
  before the opening get an *early* number; at the opening a draw puts all early tickets in a
  random order, from a seed fixed and recorded at that moment, so arriving early gives no
  advantage. Later arrivals get *late* numbers and queue behind, in arrival order.
* how many people are admitted by now is a pure function of the clock and the history of
  admission rates, so every web process computes the same answer without a shared counter.
* when a ticket's place is admitted, it gets an **admission pass** (signed cookie, bound to
  the campaign, the ticket and the waiting room's epoch, valid for a set number of minutes).
  ``booking_window_required`` requires one while the waiting room is on.

Keys live under ``wr:<campaign>:<epoch>:``; switching the waiting room on starts a new epoch and
voids older tickets and passes.
"""

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from campaigns.models import Campaign

TICKET_SALT = "vaxbook.waiting-room.ticket"
PASS_SALT = "vaxbook.waiting-room.pass"  # noqa: S105 - a salt name, not a secret
TICKET_MAX_AGE = 60 * 60 * 24
PASS_HEADER = "HTTP_X_ADMISSION_PASS"  # noqa: S105 - a header name
CONFIG_TTL = 30  # seconds: an official's change reaches every web process within this


def ticket_cookie(slug: str) -> str:
    return f"vb_ticket_{slug}"


def pass_cookie(slug: str) -> str:
    return f"vb_pass_{slug}"


@dataclass(frozen=True)
class QueueConfig:
    """What the waiting room needs to know of a campaign, cached so polls skip the database."""

    campaign_id: int
    slug: str
    name: str
    enabled: bool
    epoch: float
    opens_at: float
    closes_at: float
    rates: tuple[tuple[float, int], ...]  # (effective from, people per minute), by time
    pass_minutes: int

    @property
    def prefix(self) -> str:
        return f"wr:{self.slug}:{int(self.epoch)}"

    @property
    def draws(self) -> bool:
        """Whether early arrivals exist to be drawn: the room was on before the opening."""
        return self.epoch < self.opens_at

    @property
    def current_rate(self) -> int:
        return self.rates[-1][1] if self.rates else 0


def _config_key(slug: str) -> str:
    return f"wr:{slug}:config"


def build_config(campaign: Campaign) -> QueueConfig:
    rates = tuple(
        (r.effective_from.timestamp(), r.per_minute)
        for r in campaign.admission_rates.order_by("effective_from", "pk")
    )
    if not rates:
        rates = ((campaign.opens_at.timestamp(), campaign.admission_rate_per_minute),)
    epoch = campaign.waiting_room_epoch or campaign.created_at or campaign.opens_at
    return QueueConfig(
        campaign_id=campaign.pk,
        slug=campaign.slug,
        name=campaign.name,
        enabled=campaign.waiting_room_enabled,
        epoch=epoch.timestamp(),
        opens_at=campaign.opens_at.timestamp(),
        closes_at=campaign.closes_at.timestamp(),
        rates=rates,
        pass_minutes=campaign.admission_pass_minutes,
    )


def config_for(slug: str) -> QueueConfig | None:
    """The cached configuration; one database read on a miss, none otherwise."""
    cached = cache.get(_config_key(slug))
    if cached is not None:
        return QueueConfig(**{**cached, "rates": tuple(tuple(r) for r in cached["rates"])})
    campaign = Campaign.objects.filter(slug=slug).first()
    if campaign is None:
        return None
    config = build_config(campaign)
    cache.set(_config_key(slug), asdict(config), timeout=CONFIG_TTL)
    return config


def forget_config(campaign: Campaign) -> None:
    cache.delete(_config_key(campaign.slug))


def _state_timeout(config: QueueConfig, now: float) -> int:
    """Queue state is kept until two days after the campaign closes."""
    return int(max(config.closes_at - now, 0) + 2 * 24 * 3600)


def _next(key: str, timeout: int) -> int:
    cache.add(key, 0, timeout=timeout)
    return cache.incr(key)


@dataclass(frozen=True)
class Ticket:
    id: str
    early: bool
    number: int

    def cookie_value(self, config: QueueConfig) -> dict:
        return {
            "c": config.slug,
            "e": int(config.epoch),
            "i": self.id,
            "k": int(self.early),
            "n": self.number,
        }


def read_ticket(request: HttpRequest, config: QueueConfig) -> Ticket | None:
    """The request's ticket for this campaign and epoch, or None if absent, forged, expired
    or from another campaign or epoch."""
    raw = request.COOKIES.get(ticket_cookie(config.slug))
    if not raw:
        return None
    try:
        data = signing.loads(raw, salt=TICKET_SALT, max_age=TICKET_MAX_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("c") != config.slug:
        return None
    if data.get("e") != int(config.epoch):
        return None
    ticket_id, early, number = data.get("i"), data.get("k"), data.get("n")
    if not isinstance(ticket_id, str) or early not in (0, 1) or not isinstance(number, int):
        return None
    return Ticket(id=ticket_id, early=bool(early), number=number)


def issue_ticket(config: QueueConfig, *, now: float) -> Ticket:
    ticket_id = secrets.token_hex(8)
    timeout = _state_timeout(config, now)
    if config.draws and now < config.opens_at and cache.get(f"{config.prefix}:drawn") is None:
        number = _next(f"{config.prefix}:early-seq", timeout)
        cache.set(f"{config.prefix}:early:{number}", ticket_id, timeout=timeout)
        return Ticket(id=ticket_id, early=True, number=number)
    return Ticket(id=ticket_id, early=False, number=_next(f"{config.prefix}:late-seq", timeout))


def set_ticket_cookie(response: HttpResponse, config: QueueConfig, ticket: Ticket) -> None:
    response.set_cookie(
        ticket_cookie(config.slug),
        signing.dumps(ticket.cookie_value(config), salt=TICKET_SALT),
        max_age=TICKET_MAX_AGE,
        httponly=True,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
    )


def drawn_count(config: QueueConfig) -> int | None:
    """How many early tickets the draw placed; None while the draw has not happened."""
    if not config.draws:
        return 0
    value = cache.get(f"{config.prefix}:drawn")
    return None if value is None else int(value)


def position(config: QueueConfig, ticket: Ticket) -> int | None:
    """The ticket's place in the queue (1 is first), or None until the draw has placed it."""
    drawn = drawn_count(config)
    if drawn is None:
        return None
    if ticket.early:
        value = cache.get(f"{config.prefix}:place:{ticket.number}")
        return None if value is None else int(value)
    return drawn + ticket.number


def admitted_upto(config: QueueConfig, *, now: float) -> int:
    """Everyone whose place is at most this number has been admitted by ``now``."""
    start = max(config.opens_at, config.epoch)
    total = 0.0
    for index, (effective_from, per_minute) in enumerate(config.rates):
        following = config.rates[index + 1][0] if index + 1 < len(config.rates) else now
        begin, end = max(effective_from, start), min(following, now)
        if end > begin:
            total += (end - begin) * per_minute / 60
    return int(total)


@dataclass(frozen=True)
class QueueStatus:
    state: str  # before_opening | drawing | waiting | admitted | closed
    position: int | None = None
    ahead: int | None = None
    wait_seconds: int | None = None
    poll_after: int = 2


def queue_status(config: QueueConfig, ticket: Ticket, *, now: float) -> QueueStatus:
    minimum = settings.VAXBOOK_QUEUE_POLL_SECONDS
    if now >= config.closes_at:
        return QueueStatus("closed", poll_after=0)
    if now < config.opens_at:
        return QueueStatus(
            "before_opening", poll_after=max(minimum, min(30, int((config.opens_at - now) / 4)))
        )
    place = position(config, ticket)
    if place is None:
        return QueueStatus("drawing", poll_after=minimum)
    admitted = admitted_upto(config, now=now)
    if place <= admitted:
        return QueueStatus("admitted", position=place, ahead=0, wait_seconds=0, poll_after=0)
    ahead = place - admitted - 1
    rate = config.current_rate or 1
    wait = int((place - admitted) * 60 / rate)
    return QueueStatus(
        "waiting",
        position=place,
        ahead=ahead,
        wait_seconds=wait,
        poll_after=max(minimum, min(30, wait // 10)),
    )


def draw_due(config: QueueConfig, *, now: float) -> bool:
    """True when the draw should run: after the opening plus a short grace for arrivals that
    were still in flight at the opening instant."""
    return config.draws and now >= config.opens_at + settings.VAXBOOK_QUEUE_DRAW_GRACE


def claim_draw(config: QueueConfig) -> bool:
    """One process in the whole system wins the right to start the draw (for 30 seconds)."""
    return cache.add(f"{config.prefix}:draw-lock", 1, timeout=30)


def draw_order(seed: str, ticket_ids: Iterable[str]) -> list[str]:
    """The draw: tickets ordered by HMAC-SHA256(seed, ticket id). Anyone with the published
    seed and the recorded tickets can recompute it."""
    key = seed.encode()
    return sorted(ticket_ids, key=lambda t: hmac.new(key, t.encode(), hashlib.sha256).hexdigest())


def early_tickets(config: QueueConfig) -> dict[int, str]:
    """Every early ticket recorded in the cache: arrival number → ticket id."""
    count = int(cache.get(f"{config.prefix}:early-seq") or 0)
    found: dict[int, str] = {}
    for start in range(1, count + 1, 1000):
        keys = {f"{config.prefix}:early:{n}": n for n in range(start, min(start + 1000, count + 1))}
        for key, ticket_id in cache.get_many(list(keys)).items():
            found[keys[key]] = ticket_id
    return found


def store_places(config: QueueConfig, places: dict[int, int], *, now: float) -> None:
    """Publish the draw's result to every web process: arrival number → place."""
    timeout = _state_timeout(config, now)
    items = list(places.items())
    for start in range(0, len(items), 1000):
        cache.set_many(
            {f"{config.prefix}:place:{n}": p for n, p in items[start : start + 1000]},
            timeout=timeout,
        )
    cache.set(f"{config.prefix}:drawn", len(places), timeout=timeout)


def issue_pass(response: HttpResponse, config: QueueConfig, ticket: Ticket) -> str:
    value = signing.dumps(
        {"c": config.slug, "e": int(config.epoch), "i": ticket.id}, salt=PASS_SALT
    )
    response.set_cookie(
        pass_cookie(config.slug),
        value,
        max_age=config.pass_minutes * 60,
        httponly=True,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
    )
    return value


def valid_pass(request: HttpRequest, campaign: Campaign) -> str | None:
    """The ticket id of a valid admission pass for this campaign (cookie, or the
    ``X-Admission-Pass`` header for API clients), else None."""
    if campaign.waiting_room_epoch is None:
        return None
    return _pass_ticket(
        request,
        slug=campaign.slug,
        epoch=campaign.waiting_room_epoch.timestamp(),
        minutes=campaign.admission_pass_minutes,
    )


def pass_ticket_for(request: HttpRequest, config: QueueConfig) -> str | None:
    return _pass_ticket(request, slug=config.slug, epoch=config.epoch, minutes=config.pass_minutes)


def _pass_ticket(request: HttpRequest, *, slug: str, epoch: float, minutes: int) -> str | None:
    raw = request.COOKIES.get(pass_cookie(slug)) or request.META.get(PASS_HEADER, "")
    if not raw:
        return None
    try:
        data = signing.loads(raw, salt=PASS_SALT, max_age=minutes * 60)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("c") != slug or data.get("e") != int(epoch):
        return None
    ticket_id = data.get("i")
    return ticket_id if isinstance(ticket_id, str) else None


def as_datetime(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.get_current_timezone())
