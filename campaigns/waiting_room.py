"""The virtual waiting room in front of a campaign's booking steps.

Everything a waiting person's browser polls is answered from the cache (Redis in production,
the in-process cache in the embedded default) and signed cookies, with no database query.

* **Openings.** Every window's opening (the campaign's own, or each staggered window's) has its
  own line. Someone who arrives while no window is open waits for the next opening; someone
  who arrives while a window is open queues in the line of the latest opening.
* **A ticket** (signed cookie, one per campaign) holds the person's line and arrival number. It
  costs a proof of work (ALTCHA: the browser finds a counter whose PBKDF2 key starts with a
  given prefix, and the server checks it with one derivation), each solved challenge gives one
  ticket, and one client address gets at most ``VAXBOOK_THROTTLE_PER_ADDRESS`` tickets per line
  (generous: carrier NAT puts many people behind one address).
* **The draw.** Arrivals before an opening get *early* numbers; at the opening a draw puts them
  in a random order, from a seed fixed and recorded at that moment, so arriving early gives no
  advantage. Later arrivals get *late* numbers and queue behind, in arrival order.
* **Admission** is metered from each opening: how many of a line are admitted by now is a pure
  function of the clock and the history of admission rates, so every web process computes the
  same answer without a shared counter.
* **The pass.** When a ticket's place is admitted it gets an admission pass (signed cookie,
  bound to the campaign, the ticket, its line and the waiting room's epoch), valid for a set
  number of minutes *from that admission*: a ticket is admitted once, and when its pass expires
  the person joins the end of the line again. ``booking_window_required`` requires a valid pass
  while the waiting room is on; the identity step binds the people it books (at most
  ``VAXBOOK_PEOPLE_PER_PASS``, ``bookings.services.admit_person``).

Keys live under ``wr:<campaign>:<epoch>:<opening>:``; switching the waiting room on starts a new
epoch and voids older tickets and passes.
"""

import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime

import altcha
from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.crypto import salted_hmac

from campaigns.models import Campaign
from campaigns.windows import windows_of

TICKET_SALT = "vaxbook.waiting-room.ticket"
PASS_SALT = "vaxbook.waiting-room.pass"  # noqa: S105 - a salt name, not a secret
TICKET_MAX_AGE = 60 * 60 * 24
PASS_HEADER = "HTTP_X_ADMISSION_PASS"  # noqa: S105 - a header name
CONFIG_TTL = 30  # seconds: an official's change reaches every web process within this
POW_ALGORITHM = "PBKDF2/SHA-256"  # WebCrypto runs it natively in every browser
POW_KEY_PREFIX = "00"  # one byte: 256 tries on average


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
    windows: tuple[tuple[float, float], ...]  # (opens, closes) of every booking window
    rates: tuple[tuple[float, int], ...]  # (effective from, people per minute), by time
    pass_minutes: int

    @property
    def prefix(self) -> str:
        return f"wr:{self.slug}:{int(self.epoch)}"

    def line_prefix(self, opening: float) -> str:
        return f"{self.prefix}:{int(opening)}"

    @property
    def openings(self) -> tuple[float, ...]:
        return tuple(sorted({opens for opens, _ in self.windows}))

    @property
    def opens_at(self) -> float:
        return self.openings[0]

    @property
    def closes_at(self) -> float:
        return max(closes for _, closes in self.windows)

    def is_open(self, now: float) -> bool:
        return any(opens <= now < closes for opens, closes in self.windows)

    def line_for_arrival(self, now: float) -> float | None:
        """The opening whose line someone arriving now joins: the latest one if a window is
        open, else the next one; None once every window has closed."""
        if self.is_open(now):
            return max(o for o in self.openings if o <= now)
        upcoming = [o for o in self.openings if o > now]
        return min(upcoming) if upcoming else None

    def draws(self, opening: float) -> bool:
        """Whether an opening's line has early arrivals to draw: the room was on before it."""
        return self.epoch < opening

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
        windows=tuple(
            (w.opens_at.timestamp(), w.closes_at.timestamp()) for w in windows_of(campaign)
        ),
        rates=rates,
        pass_minutes=campaign.admission_pass_minutes,
    )


def config_for(slug: str) -> QueueConfig | None:
    """The cached configuration; one database read on a miss, none otherwise."""
    cached = cache.get(_config_key(slug))
    if cached is not None:
        return QueueConfig(
            **{
                **cached,
                "windows": tuple(tuple(w) for w in cached["windows"]),
                "rates": tuple(tuple(r) for r in cached["rates"]),
            }
        )
    campaign = Campaign.objects.prefetch_related("windows").filter(slug=slug).first()
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
    opening: int  # the line it queues in
    early: bool
    number: int

    def cookie_value(self, config: QueueConfig) -> dict:
        return {
            "c": config.slug,
            "e": int(config.epoch),
            "i": self.id,
            "o": self.opening,
            "k": int(self.early),
            "n": self.number,
        }


def read_ticket(request: HttpRequest, config: QueueConfig) -> Ticket | None:
    """The request's ticket for this campaign and epoch, or None if absent, forged, expired,
    from another campaign or epoch, or for an opening the campaign no longer has."""
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
    ticket_id, opening = data.get("i"), data.get("o")
    early, number = data.get("k"), data.get("n")
    if not isinstance(ticket_id, str) or early not in (0, 1) or not isinstance(number, int):
        return None
    if opening not in {int(o) for o in config.openings}:
        return None
    return Ticket(id=ticket_id, opening=opening, early=bool(early), number=number)


def issue_ticket(config: QueueConfig, *, now: float) -> Ticket | None:
    """A new place in the line someone arriving now joins; None once booking has closed."""
    opening = config.line_for_arrival(now)
    if opening is None:
        return None
    line = config.line_prefix(opening)
    ticket_id = secrets.token_hex(8)
    timeout = _state_timeout(config, now)
    if config.draws(opening) and now < opening and cache.get(f"{line}:drawn") is None:
        number = _next(f"{line}:early-seq", timeout)
        cache.set(f"{line}:early:{number}", ticket_id, timeout=timeout)
        return Ticket(id=ticket_id, opening=int(opening), early=True, number=number)
    number = _next(f"{line}:late-seq", timeout)
    return Ticket(id=ticket_id, opening=int(opening), early=False, number=number)


def set_ticket_cookie(response: HttpResponse, config: QueueConfig, ticket: Ticket) -> None:
    response.set_cookie(
        ticket_cookie(config.slug),
        signing.dumps(ticket.cookie_value(config), salt=TICKET_SALT),
        max_age=TICKET_MAX_AGE,
        httponly=True,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
    )


# The proof of work in front of a ticket


def _pow_secret(purpose: str) -> str:
    return salted_hmac(f"vaxbook.waiting-room.pow.{purpose}", "key").hexdigest()


def join_challenge(config: QueueConfig, *, now: float) -> dict:
    """A signed challenge for one ticket in this campaign's queue (this epoch), valid for
    ``VAXBOOK_QUEUE_POW_TTL`` seconds. Cheap for the server: nothing is derived here."""
    challenge = altcha.create_challenge(
        POW_ALGORITHM,
        settings.VAXBOOK_QUEUE_POW_COST,
        key_prefix=POW_KEY_PREFIX,
        expires_at=int(now + settings.VAXBOOK_QUEUE_POW_TTL),
        data={"c": config.slug, "e": int(config.epoch)},
        hmac_secret=_pow_secret("challenge"),
    )
    return challenge.to_dict()


def proof_of_work_is_valid(config: QueueConfig, payload: str, *, now: float) -> bool:
    """Whether ``payload`` (what the page's script posts) solves a challenge this server
    issued for this campaign and epoch, unexpired, never used before. Each challenge is tried
    once: a second post of it — right or wrong — is refused without deriving anything, so a
    solution cannot be replayed for more tickets nor a challenge used to make the server work."""
    try:
        parsed = altcha.Payload.from_base64(payload)
        nonce = parsed.challenge.parameters.nonce
        data = parsed.challenge.parameters.data
        expires_at = int(parsed.challenge.parameters.expires_at)
    except (
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        RecursionError,
        binascii.Error,
    ):
        return False
    if not isinstance(nonce, str) or len(nonce) != 32 or expires_at <= now:
        return False
    if not isinstance(data, dict) or data.get("c") != config.slug:
        return False
    if data.get("e") != int(config.epoch) or parsed.challenge.parameters.cost < 1:
        return False
    if not cache.add(f"wr:pow-tried:{nonce}", 1, timeout=int(expires_at - now) + 1):
        return False
    result = altcha.verify_solution(parsed, _pow_secret("challenge"))
    return bool(result.verified)


def tickets_per_address(config: QueueConfig, opening: float, address: str) -> str:
    digest = hashlib.sha256(address.encode()).hexdigest()[:32]  # no address in Redis
    return f"{config.line_prefix(opening)}:address:{digest}"


def address_may_take_a_ticket(config: QueueConfig, address: str, *, now: float) -> bool:
    """Whether this client address is still under its bound of tickets in the line someone
    arriving now joins (counting without taking one)."""
    opening = config.line_for_arrival(now)
    if opening is None:
        return True
    taken = cache.get(tickets_per_address(config, opening, address)) or 0
    return int(taken) < settings.VAXBOOK_THROTTLE_PER_ADDRESS


def count_ticket(config: QueueConfig, ticket: Ticket, address: str, *, now: float) -> bool:
    """Count a ticket against its address; False (and the ticket is not to be handed out)
    when that goes over the bound — two tries racing for the last one cannot both win."""
    key = tickets_per_address(config, ticket.opening, address)
    return _next(key, _state_timeout(config, now)) <= settings.VAXBOOK_THROTTLE_PER_ADDRESS


# Places, the draw, admission


def drawn_count(config: QueueConfig, opening: float) -> int | None:
    """How many early tickets the draw of this opening placed; None until it has happened."""
    if not config.draws(opening):
        return 0
    value = cache.get(f"{config.line_prefix(opening)}:drawn")
    return None if value is None else int(value)


def position(config: QueueConfig, ticket: Ticket) -> int | None:
    """The ticket's place in its line (1 is first), or None until the draw has placed it."""
    drawn = drawn_count(config, ticket.opening)
    if drawn is None:
        return None
    if ticket.early:
        value = cache.get(f"{config.line_prefix(ticket.opening)}:place:{ticket.number}")
        return None if value is None else int(value)
    return drawn + ticket.number


def admitted_upto(config: QueueConfig, opening: float, *, now: float) -> int:
    """Everyone in this opening's line whose place is at most this number has been admitted by
    ``now``: the admission rates integrated from the opening (or the epoch, if later)."""
    start = max(opening, config.epoch)
    total = 0.0
    for index, (effective_from, per_minute) in enumerate(config.rates):
        following = config.rates[index + 1][0] if index + 1 < len(config.rates) else now
        begin, end = max(effective_from, start), min(following, now)
        if end > begin:
            total += (end - begin) * per_minute / 60
    return int(total)


def admitted_at(config: QueueConfig, ticket: Ticket, *, now: float) -> float:
    """When this ticket was first admitted (now, the first time it is asked): its pass runs
    from then, however often it is re-issued."""
    key = f"{config.line_prefix(ticket.opening)}:admitted:{ticket.id}"
    if cache.add(key, now, timeout=_state_timeout(config, now)):
        return now
    value = cache.get(key)
    return now if value is None else float(value)


@dataclass(frozen=True)
class QueueStatus:
    state: str  # before_opening | drawing | waiting | admitted | expired | closed
    position: int | None = None
    ahead: int | None = None
    wait_seconds: int | None = None
    poll_after: int = 2
    admitted_at: float | None = None


def queue_status(config: QueueConfig, ticket: Ticket, *, now: float) -> QueueStatus:
    minimum = settings.VAXBOOK_QUEUE_POLL_SECONDS
    if now >= config.closes_at:
        return QueueStatus("closed", poll_after=0)
    if now < ticket.opening:
        return QueueStatus(
            "before_opening", poll_after=max(minimum, min(30, int((ticket.opening - now) / 4)))
        )
    place = position(config, ticket)
    if place is None:
        return QueueStatus("drawing", poll_after=minimum)
    admitted = admitted_upto(config, ticket.opening, now=now)
    if place <= admitted:
        since = admitted_at(config, ticket, now=now)
        if now >= since + config.pass_minutes * 60:
            return QueueStatus("expired", position=place, poll_after=0, admitted_at=since)
        return QueueStatus(
            "admitted", position=place, ahead=0, wait_seconds=0, poll_after=0, admitted_at=since
        )
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


def due_draws(config: QueueConfig, *, now: float) -> list[float]:
    """Openings whose draw should have run by now: past the opening plus a short grace for
    arrivals that were still in flight at the opening instant."""
    grace = settings.VAXBOOK_QUEUE_DRAW_GRACE
    return [o for o in config.openings if config.draws(o) and now >= o + grace]


def claim_draw(config: QueueConfig, opening: float) -> bool:
    """One process in the whole system wins the right to start a draw (for 30 seconds)."""
    return cache.add(f"{config.line_prefix(opening)}:draw-lock", 1, timeout=30)


def draw_order(seed: str, ticket_ids: Iterable[str]) -> list[str]:
    """The draw: tickets ordered by HMAC-SHA256(seed, ticket id). Anyone with the published
    seed and the recorded tickets can recompute it."""
    key = seed.encode()
    return sorted(ticket_ids, key=lambda t: hmac.new(key, t.encode(), hashlib.sha256).hexdigest())


def early_tickets(config: QueueConfig, opening: float) -> dict[int, str]:
    """Every early ticket of an opening's line recorded in the cache: number → ticket id."""
    line = config.line_prefix(opening)
    count = int(cache.get(f"{line}:early-seq") or 0)
    found: dict[int, str] = {}
    for start in range(1, count + 1, 1000):
        keys = {f"{line}:early:{n}": n for n in range(start, min(start + 1000, count + 1))}
        for key, ticket_id in cache.get_many(list(keys)).items():
            found[keys[key]] = ticket_id
    return found


def store_places(
    config: QueueConfig, opening: float, places: dict[int, int], *, now: float
) -> None:
    """Publish a draw's result to every web process: arrival number → place."""
    line = config.line_prefix(opening)
    timeout = _state_timeout(config, now)
    items = list(places.items())
    for start in range(0, len(items), 1000):
        cache.set_many(
            {f"{line}:place:{n}": p for n, p in items[start : start + 1000]}, timeout=timeout
        )
    cache.set(f"{line}:drawn", len(places), timeout=timeout)


# The admission pass


@dataclass(frozen=True)
class Pass:
    """A valid admission pass: the ticket it was issued to, the opening whose line that ticket
    queued in, and when it was admitted."""

    ticket_id: str
    opening: float
    admitted_at: float


def issue_pass(
    response: HttpResponse, config: QueueConfig, ticket: Ticket, *, admitted_at: float, now: float
) -> str:
    value = signing.dumps(
        {
            "c": config.slug,
            "e": int(config.epoch),
            "i": ticket.id,
            "o": ticket.opening,
            "a": admitted_at,
        },
        salt=PASS_SALT,
    )
    response.set_cookie(
        pass_cookie(config.slug),
        value,
        max_age=max(int(admitted_at + config.pass_minutes * 60 - now), 1),
        httponly=True,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
    )
    return value


def valid_pass(request: HttpRequest, campaign: Campaign) -> Pass | None:
    """The valid admission pass of this request for this campaign (cookie, or the
    ``X-Admission-Pass`` header for API clients), else None."""
    if campaign.waiting_room_epoch is None:
        return None
    return _read_pass(
        request,
        slug=campaign.slug,
        epoch=campaign.waiting_room_epoch.timestamp(),
        minutes=campaign.admission_pass_minutes,
    )


def pass_for(request: HttpRequest, config: QueueConfig) -> Pass | None:
    return _read_pass(request, slug=config.slug, epoch=config.epoch, minutes=config.pass_minutes)


def _read_pass(request: HttpRequest, *, slug: str, epoch: float, minutes: int) -> Pass | None:
    raw = request.COOKIES.get(pass_cookie(slug)) or request.META.get(PASS_HEADER, "")
    if not raw:
        return None
    try:
        data = signing.loads(raw, salt=PASS_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("c") != slug or data.get("e") != int(epoch):
        return None
    ticket_id, opening, since = data.get("i"), data.get("o"), data.get("a")
    if not isinstance(ticket_id, str) or not isinstance(opening, int):
        return None
    if not isinstance(since, int | float) or isinstance(since, bool):
        return None
    # Valid for its minutes from the ticket's admission, however often it was re-issued.
    if timezone.now().timestamp() >= since + minutes * 60:
        return None
    return Pass(ticket_id=ticket_id, opening=float(opening), admitted_at=float(since))


def as_datetime(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.get_current_timezone())


def challenge_json(challenge: dict) -> str:
    return json.dumps(challenge, separators=(",", ":"))
