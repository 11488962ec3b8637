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
  ``VAXBOOK_PEOPLE_PER_PASS``, ``bookings.services.bind_pass_to_person``).

Keys live under ``wr:<campaign>:<epoch>:<opening>:``; switching the waiting room on starts a new
epoch and voids older tickets and passes.
"""

import binascii
import copy
import enum
import hashlib
import hmac
import json
import math
import random
import secrets
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date, datetime

import altcha
from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.crypto import salted_hmac

from campaigns.models import Campaign, Window

TICKET_SALT = "vaxbook.waiting-room.ticket"
PASS_SALT = "vaxbook.waiting-room.pass"  # noqa: S105 - a salt name, not a secret
PASS_HEADER = "HTTP_X_ADMISSION_PASS"  # noqa: S105 - a header name
# Seconds the configuration shared in Redis lives: a change made without ``forget_config`` (a
# shell, a data migration) reaches every web process within this.
CONFIG_TTL = 30
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
    # Whom each window is for, to list them on the queue page: (opens, closes, last digit of
    # the birth day, first and last birth date as ISO dates), None where the window sets none.
    coverage: tuple[tuple[float, float, int | None, str | None, str | None], ...] = ()

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

    def booking_windows(self) -> list[Window]:
        """The windows in force, as ``Campaign.booking_windows`` gives them (from the cache)."""
        return [
            Window(
                as_datetime(opens),
                as_datetime(closes),
                last_digit=digit,
                born_from=date.fromisoformat(first) if first else None,
                born_to=date.fromisoformat(last) if last else None,
            )
            for opens, closes, digit, first, last in self.coverage
        ]


def _config_key(slug: str) -> str:
    # "v2": the shared copy with its generation; a process of the previous release, still
    # running during a rolling deploy, keeps reading its own format under the old key.
    return f"wr:{slug}:config:v2"


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
            (w.opens_at.timestamp(), w.closes_at.timestamp()) for w in campaign.booking_windows()
        ),
        rates=rates,
        pass_minutes=campaign.admission_pass_minutes,
        coverage=tuple(
            (
                w.opens_at.timestamp(),
                w.closes_at.timestamp(),
                w.last_digit,
                w.born_from.isoformat() if w.born_from else None,
                w.born_to.isoformat() if w.born_to else None,
            )
            for w in campaign.booking_windows()
        ),
    )


def _generation_key(slug: str) -> str:
    return f"wr:{slug}:config-generation"


@dataclass(frozen=True)
class _Held:
    """A configuration as this process holds it: the generation and build it was read under,
    and when (``time.time()``, which time-machine moves) it was last known current."""

    config: QueueConfig
    generation: int
    build: str
    checked_at: float


# slug → what this process holds. Plain dict operations are atomic under the GIL; threads of a
# gthread worker racing on a miss at worst both read Redis.
_held: dict[str, _Held] = {}


def config_for(slug: str) -> QueueConfig | None:
    """The campaign's configuration, as every waiting-room poll and page needs it.

    Held in this process for ``VAXBOOK_CONFIG_CACHE_SECONDS`` (no Redis, no database); then
    one Redis round trip (the generation and the shared copy together) tells whether it is
    still current; one database read (two queries) when nobody has built the current one.
    ``forget_config`` drops it in the calling process at once and, by bumping the generation,
    in every other process within that bound.
    """
    now = time.time()
    held = _held.get(slug)
    if held is not None and 0 <= now - held.checked_at < settings.VAXBOOK_CONFIG_CACHE_SECONDS:
        return held.config
    found = cache.get_many([_generation_key(slug), _config_key(slug)])
    generation = int(found.get(_generation_key(slug)) or 0)
    shared = found.get(_config_key(slug))
    if shared is not None and shared.get("generation") == generation:
        if held is not None and held.generation == generation and held.build == shared["build"]:
            config = held.config
        else:
            config = _from_dict(shared["config"])
        _held[slug] = _Held(config, generation, shared["build"], now)
        return config
    # Built after reading the generation: if an official's change lands meanwhile, the copy
    # stored here carries the older generation and every reader rebuilds it.
    campaign = Campaign.objects.prefetch_related("windows").filter(slug=slug).first()
    if campaign is None:
        _held.pop(slug, None)
        return None
    config = build_config(campaign)
    build = secrets.token_hex(4)
    cache.set(
        _config_key(slug),
        {"generation": generation, "build": build, "config": asdict(config)},
        timeout=CONFIG_TTL,
    )
    _held[slug] = _Held(config, generation, build, now)
    return config


@dataclass(frozen=True)
class _HeldCampaign:
    """A campaign row (with its vaccine and windows) as this process holds it, for the
    configuration's generation and build it was read under."""

    campaign: Campaign
    generation: int
    build: str


# slug → the campaign the booking pages' guard serves, valid while ``_held[slug]`` is the same
# generation and build.
_held_campaigns: dict[str, _HeldCampaign] = {}


def campaign_for(slug: str) -> Campaign | None:
    """The campaign with its vaccine and windows, as the booking window guard needs it on every
    booking step, or None when there is no such campaign.

    Held in this process under the configuration's generation (``config_for``): read from the
    database only when the generation (or the shared copy's build) has moved, so an official's
    change is seen at once here and within ``VAXBOOK_CONFIG_CACHE_SECONDS`` in every other
    process, as the waiting room's configuration is. Each call returns a fresh shallow copy:
    a view that sets an attribute or a cached relation on it does not change what another
    request reads. Decisions re-read what they lock from the database (the worker re-checks the
    window), so a copy is only ever as stale as the configuration is.
    """
    if config_for(slug) is None:
        _held_campaigns.pop(slug, None)
        return None
    held = _held.get(slug)
    kept = _held_campaigns.get(slug)
    if (
        held is None
        or kept is None
        or (kept.generation, kept.build) != (held.generation, held.build)
    ):
        campaign = (
            Campaign.objects.select_related("vaccine")
            .prefetch_related("windows")
            .filter(slug=slug)
            .first()
        )
        if campaign is None:
            _held_campaigns.pop(slug, None)
            return None
        if held is None:  # forgotten meanwhile by another thread: serve it, hold nothing
            return campaign
        kept = _HeldCampaign(campaign, held.generation, held.build)
        _held_campaigns[slug] = kept
    return _fresh_copy(kept.campaign)


def _fresh_copy(campaign: Campaign) -> Campaign:
    # copy.copy gives the instance its own __dict__ and related-object cache; the prefetched
    # windows' dict is copied too, so a prefetch on one request's copy stays its own.
    copied = copy.copy(campaign)
    prefetched = getattr(campaign, "_prefetched_objects_cache", None)
    if prefetched is not None:
        copied._prefetched_objects_cache = dict(prefetched)
    return copied


def _from_dict(cached: dict) -> QueueConfig:
    return QueueConfig(
        **{
            **cached,
            "windows": tuple(tuple(w) for w in cached["windows"]),
            "rates": tuple(tuple(r) for r in cached["rates"]),
            "coverage": tuple(tuple(w) for w in cached.get("coverage", ())),
        }
    )


def forget_config(campaign: Campaign) -> None:
    """Call after any change to what ``QueueConfig`` holds (rates, windows, the room on or off,
    the pass's minutes, the name) or to what ``campaign_for`` holds (any field of the campaign,
    its windows, its vaccine). The calling process sees the change at once, every other
    within ``VAXBOOK_CONFIG_CACHE_SECONDS``.

    Done now (the same transaction reads its own writes) and again once the transaction
    commits: another process may have rebuilt the old rows in between and stored them under
    the generation bumped first; the second bump voids that copy.
    """
    forget_slug(campaign.slug)


def forget_slug(slug: str) -> None:
    """``forget_config`` by slug: for a campaign whose slug was changed or that was deleted."""
    _forget(slug)
    transaction.on_commit(lambda: _forget(slug))


def _forget(slug: str) -> None:
    _held.pop(slug, None)
    _held_campaigns.pop(slug, None)
    cache.delete(f"wr:{slug}:config")  # the previous release's copy, during a rolling deploy
    cache.add(_generation_key(slug), 0, timeout=None)
    cache.incr(_generation_key(slug))


def forget_held_configs() -> None:
    """Drop every configuration this process holds (tests: each starts with empty caches)."""
    _held.clear()
    _held_campaigns.clear()


def _state_timeout(config: QueueConfig, now: float) -> int:
    """Queue state is kept until two days after the campaign closes."""
    return int(max(config.closes_at - now, 0) + 2 * 24 * 3600)


def _next(key: str, timeout: int) -> int:
    cache.add(key, 0, timeout=timeout)
    return cache.incr(key)


@dataclass(frozen=True)
class Ticket:
    """A place in one opening's line.

    ``base_at``/``base_count``: the meter the place is admitted by, when its line was re-based
    (it had run empty; see ``issue_ticket``). ``next_opening``/``next_number``: taken while a
    window was open, the ticket is also in the draw of the next opening, in case its holder is
    waiting for that window; from that opening on it is that place (``current``).
    """

    id: str
    opening: int  # the line it queues in, by its opening's whole second
    early: bool
    number: int
    base_at: float | None = None
    base_count: int = 0
    next_opening: int | None = None
    next_number: int | None = None

    def cookie_value(self, config: QueueConfig) -> dict:
        value = {
            "c": config.slug,
            "e": int(config.epoch),
            "i": self.id,
            "o": self.opening,
            "k": int(self.early),
            "n": self.number,
        }
        if self.base_at is not None:
            value.update(b=self.base_at, m=self.base_count)
        if self.next_opening is not None:
            value.update(x=self.next_opening, y=self.next_number)
        return value

    def current(self, now: float) -> "Ticket":
        """The place that counts now: the next opening's draw once it has opened."""
        if self.next_opening is not None and now >= self.next_opening:
            return Ticket(
                id=self.id, opening=self.next_opening, early=True, number=self.next_number
            )
        return self


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def read_ticket(request: HttpRequest, config: QueueConfig) -> Ticket | None:
    """The request's ticket for this campaign and epoch, or None if absent, forged, from
    another campaign or epoch, or for an opening the campaign no longer has. It lasts as long
    as the queue's state (until after the campaign closes), however early it was taken."""
    raw = request.COOKIES.get(ticket_cookie(config.slug))
    if not raw:
        return None
    try:
        data = signing.loads(raw, salt=TICKET_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("c") != config.slug:
        return None
    if data.get("e") != int(config.epoch):
        return None
    ticket_id, opening = data.get("i"), data.get("o")
    early, number = data.get("k"), data.get("n")
    if not isinstance(ticket_id, str) or early not in (0, 1) or not _is_int(number):
        return None
    openings = {int(o) for o in config.openings}
    if opening not in openings:
        return None
    base_at, base_count = data.get("b"), data.get("m", 0)
    if base_at is not None and not (_is_number(base_at) and _is_int(base_count)):
        return None
    next_opening, next_number = data.get("x"), data.get("y")
    if next_opening is not None and not (next_opening in openings and _is_int(next_number)):
        return None
    return Ticket(
        id=ticket_id,
        opening=opening,
        early=bool(early),
        number=number,
        base_at=base_at,
        base_count=base_count,
        next_opening=next_opening,
        next_number=next_number,
    )


def issue_ticket(config: QueueConfig, *, arrived: float, now: float) -> Ticket | None:
    """A new place for someone who arrived at ``arrived`` (when the page gave them the
    challenge: the seconds spent solving it do not push them behind an opening), or None once
    booking has closed.

    Before an opening (its draw not run yet), an *early* number in its draw. While a window is
    open, a *late* number in the latest opening's line, admitted by that line's meter — which
    starts again from this ticket if the line had run empty, so that hours of unused admissions
    (a quiet night) do not let the next surge in at once — and, if another opening is ahead,
    an early number in its draw too: someone waiting now may be waiting for that window.
    """
    opening = config.line_for_arrival(arrived)
    if opening is None:
        return None
    line = config.line_prefix(opening)
    ticket_id = secrets.token_hex(8)
    timeout = _state_timeout(config, now)
    if arrived < opening:
        early = _early_number(config, opening, ticket_id, timeout=timeout)
        if early is not None:
            return Ticket(id=ticket_id, opening=int(opening), early=True, number=early)
    number = _next(f"{line}:late-seq", timeout)
    base_at, base_count = _late_meter(config, opening, number, now=now, timeout=timeout)
    upcoming = [o for o in config.openings if o > arrived]
    next_opening = next_number = None
    if config.is_open(arrived) and upcoming:
        next_number = _early_number(config, min(upcoming), ticket_id, timeout=timeout)
        next_opening = int(min(upcoming)) if next_number is not None else None
    return Ticket(
        id=ticket_id,
        opening=int(opening),
        early=False,
        number=number,
        base_at=base_at,
        base_count=base_count,
        next_opening=next_opening,
        next_number=next_number,
    )


def _early_number(config: QueueConfig, opening: float, ticket_id: str, *, timeout: int):
    """An arrival number in an opening's draw, or None if that opening draws nobody (the room
    was switched on after it) or its draw has run."""
    line = config.line_prefix(opening)
    if not config.draws(opening) or cache.get(f"{line}:drawn") is not None:
        return None
    number = _next(f"{line}:early-seq", timeout)
    cache.set(f"{line}:early:{number}", ticket_id, timeout=timeout)
    return number


def _late_meter(
    config: QueueConfig, opening: float, number: int, *, now: float, timeout: int
) -> tuple[float | None, int]:
    """The meter late ticket ``number`` is admitted by: the line's current one, or — if
    everyone before it has been admitted already (the line ran empty) — a new one starting
    with this ticket, admitted at once."""
    line = config.line_prefix(opening)
    base = cache.get(f"{line}:base")
    base_at, base_count = (base[0], base[1]) if base else (None, 0)
    drawn = drawn_count(config, opening)
    if drawn is None:  # the draw is running: the line is anything but empty
        return base_at, base_count
    admitted = late_admitted(config, opening, drawn, base_at, base_count, now=now)
    if admitted >= number:  # nobody is waiting ahead, and the meter has slack: start again
        base_at, base_count = now, number
        cache.set(f"{line}:base", (base_at, base_count), timeout=timeout)
    return base_at, base_count


def set_ticket_cookie(
    response: HttpResponse, config: QueueConfig, ticket: Ticket, *, now: float
) -> None:
    response.set_cookie(
        ticket_cookie(config.slug),
        signing.dumps(ticket.cookie_value(config), salt=TICKET_SALT),
        max_age=_state_timeout(config, now),
        httponly=True,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
    )


def needs_new_ticket(config: QueueConfig, ticket, status, *, now: float) -> bool:
    """Whether the person may (and needs to) take a new place: no ticket, a spent one (its
    pass expired), or one for an opening older than the line arrivals join now (a later
    window has opened, and the ticket holds no place in its draw)."""
    if ticket is None or (status is not None and status.state == "expired"):
        return True
    line = config.line_for_arrival(now)
    return line is not None and ticket.opening < int(line)


# The proof of work in front of a ticket


def _pow_secret(purpose: str) -> str:
    return salted_hmac(f"vaxbook.waiting-room.pow.{purpose}", "key").hexdigest()


def join_challenge(config: QueueConfig, *, now: float) -> dict:
    """A signed challenge for one ticket in this campaign's queue (this epoch), valid for
    ``VAXBOOK_QUEUE_POW_TTL`` seconds, carrying when it was handed out. Cheap for the server:
    nothing is derived here."""
    challenge = altcha.create_challenge(
        POW_ALGORITHM,
        settings.VAXBOOK_QUEUE_POW_COST,
        key_prefix=POW_KEY_PREFIX,
        expires_at=int(now + settings.VAXBOOK_QUEUE_POW_TTL),
        data={"c": config.slug, "e": int(config.epoch), "t": int(now)},
        hmac_secret=_pow_secret("challenge"),
    )
    return challenge.to_dict()


class ProofOfWork(enum.Enum):
    VALID = "valid"
    MALFORMED = "malformed"  # not a challenge of ours for this queue, or expired: cheap to tell
    USED = "used"  # tried before
    WRONG = "wrong"  # a real challenge, wrongly solved: telling cost one key derivation


@dataclass(frozen=True)
class ProofCheck:
    result: ProofOfWork
    handed_out_at: float | None = None


def check_proof_of_work(config: QueueConfig, payload: str, *, now: float) -> ProofCheck:
    """Whether ``payload`` (what the page's script posts) solves a challenge this server issued
    for this campaign and epoch, unexpired, never tried before. Each challenge is tried once: a
    second post of it — right or wrong — is refused without deriving anything, so a solution
    cannot be replayed for more tickets, nor a challenge used to make the server work. Every
    value is checked for its type before use: the payload is the client's."""
    malformed = ProofCheck(ProofOfWork.MALFORMED)
    try:
        parsed = altcha.Payload.from_base64(payload)
        parameters = parsed.challenge.parameters
        nonce, data = parameters.nonce, parameters.data
        expires_at, cost = parameters.expires_at, parameters.cost
    except (
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        RecursionError,
        binascii.Error,
    ):
        return malformed
    if not isinstance(nonce, str) or len(nonce) != 32 or not _is_int(cost) or cost < 1:
        return malformed
    if not _is_int(expires_at) or not now < expires_at <= now + settings.VAXBOOK_QUEUE_POW_TTL:
        return malformed
    if not isinstance(data, dict) or data.get("c") != config.slug:
        return malformed
    if data.get("e") != int(config.epoch) or not _is_int(data.get("t")):
        return malformed
    if not cache.add(f"wr:pow-tried:{nonce}", 1, timeout=int(expires_at - now) + 1):
        return ProofCheck(ProofOfWork.USED)
    if not altcha.verify_solution(parsed, _pow_secret("challenge")).verified:
        return ProofCheck(ProofOfWork.WRONG)
    return ProofCheck(ProofOfWork.VALID, handed_out_at=float(data["t"]))


def _address_key(config: QueueConfig, opening: float, address: str) -> str:
    digest = hashlib.sha256(address.encode()).hexdigest()[:32]  # no address in Redis
    return f"{config.line_prefix(opening)}:address:{digest}"


def address_has_room(config: QueueConfig, address: str, *, now: float) -> bool:
    """Whether this client address is still under its bound of places in the line someone
    arriving now joins (looking, without taking one)."""
    opening = config.line_for_arrival(now)
    if opening is None:
        return True
    taken = cache.get(_address_key(config, opening, address)) or 0
    return int(taken) < settings.VAXBOOK_THROTTLE_PER_ADDRESS


def take_address_place(config: QueueConfig, address: str, *, arrived: float, now: float) -> bool:
    """Count a place against its address *before* the ticket is issued; False when that goes
    over the bound. One atomic increment: joins racing for an address's last place cannot
    both win, and a refused one leaves no place in the line."""
    opening = config.line_for_arrival(arrived)
    if opening is None:
        return False
    key = _address_key(config, opening, address)
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
    if ticket.early and config.draws(ticket.opening):  # one round trip: the draw and the place
        line = config.line_prefix(ticket.opening)
        found = cache.get_many([f"{line}:drawn", f"{line}:place:{ticket.number}"])
        value = found.get(f"{line}:place:{ticket.number}")
        return None if f"{line}:drawn" not in found or value is None else int(value)
    drawn = drawn_count(config, ticket.opening)
    if drawn is None:
        return None
    if ticket.early:
        value = cache.get(f"{config.line_prefix(ticket.opening)}:place:{ticket.number}")
        return None if value is None else int(value)
    return drawn + ticket.number


def _metered(config: QueueConfig, *, since: float, now: float) -> float:
    """People the admission rates let through between ``since`` and ``now``."""
    total = 0.0
    for index, (effective_from, per_minute) in enumerate(config.rates):
        following = config.rates[index + 1][0] if index + 1 < len(config.rates) else now
        begin, end = max(effective_from, since), min(following, now)
        if end > begin:
            total += (end - begin) * per_minute / 60
    return total


def _when_metered(config: QueueConfig, *, since: float, amount: float) -> float | None:
    """The moment ``_metered(since=since)`` reaches ``amount`` (None: never at these rates)."""
    if amount <= 0:
        return since
    done = 0.0
    for index, (effective_from, per_minute) in enumerate(config.rates):
        following = config.rates[index + 1][0] if index + 1 < len(config.rates) else math.inf
        begin, end = max(effective_from, since), following
        if end <= begin:
            continue
        needed = (amount - done) * 60 / per_minute
        if begin + needed <= end:
            return begin + needed
        done += (end - begin) * per_minute / 60
    return None


def _line_start(config: QueueConfig, opening: float) -> float:
    return max(opening, config.epoch)


def admitted_upto(config: QueueConfig, opening: float, *, now: float) -> int:
    """Everyone in this opening's line whose place is at most this number has been admitted by
    ``now`` (by the line's first meter: the admission rates integrated from the opening, or the
    epoch if later)."""
    return int(_metered(config, since=_line_start(config, opening), now=now))


def late_admitted(
    config: QueueConfig,
    opening: float,
    drawn: int,
    base_at: float | None,
    base_count: int,
    *,
    now: float,
) -> int:
    """Late numbers admitted by ``now`` under a meter (``base_at`` None: the line's first)."""
    if base_at is None:
        return admitted_upto(config, opening, now=now) - drawn
    return base_count + int(
        _metered(config, since=max(base_at, _line_start(config, opening)), now=now)
    )


def turn_at(config: QueueConfig, ticket: Ticket, place: int) -> float | None:
    """When the ticket's place was (or will be) admitted: its pass runs from then, whether or
    not anybody asked — a ticket cannot be saved up and cashed in later."""
    start = _line_start(config, ticket.opening)
    if ticket.early or ticket.base_at is None:
        return _when_metered(config, since=start, amount=place)
    since = max(ticket.base_at, start)
    return _when_metered(config, since=since, amount=ticket.number - ticket.base_count)


@dataclass(frozen=True)
class QueueStatus:
    state: str  # before_opening | drawing | waiting | admitted | expired | closed
    position: int | None = None
    ahead: int | None = None
    wait_seconds: int | None = None
    poll_after: int = 2
    admitted_at: float | None = None


def longest_poll(config: QueueConfig) -> int:
    """The longest a page of this campaign's queue waits between polls: the setting, or a
    quarter of the pass if that is shorter (what a late page can cost; see ``poll_after``)."""
    return max(1, min(settings.VAXBOOK_QUEUE_POLL_MAX_SECONDS, config.pass_minutes * 15))


def poll_after(remaining: float, *, longest: int) -> int:
    """Seconds a queue page waits before it asks again, its turn (or the draw) being
    ``remaining`` seconds away at the current rates.

    Admission is a pure function of the clock and the rates, so nothing changes for the page
    before that moment unless an official raises the rate. It asks again after half the
    remaining time — so a rate raised up to twice costs nobody anything — and at most every
    ``longest`` seconds: a larger raise is seen that late at worst, and since a pass runs from
    the turn (``turn_at``), that is the most of their pass a person can lose. Close to the turn
    it asks exactly then.
    """
    minimum = settings.VAXBOOK_QUEUE_POLL_SECONDS
    if remaining <= 2 * minimum:
        return max(1, math.ceil(remaining))
    if remaining >= 2 * longest:
        return longest
    return min(longest, max(minimum, math.ceil(remaining / 2)))


def polls_until(remaining: float, *, longest: int) -> int:
    """How many times a page polls, following ``poll_after``, from ``remaining`` seconds before
    its turn until it is admitted (the benchmark's figure of people waiting per core)."""
    # Far from the turn every interval is the longest: count those at once.
    far = max(0, math.floor((remaining - 2 * longest) / longest))
    count, remaining = far, remaining - far * longest
    while remaining > 0:  # each wait ends in a poll; the last one finds the turn come
        remaining -= poll_after(remaining, longest=longest)
        count += 1
    return count


def queue_status(config: QueueConfig, ticket: Ticket, *, now: float) -> QueueStatus:
    """Where a ticket stands now (pass ``ticket.current(now)``). A pure function of the clock,
    the rates and the cache's places: no database, no write."""
    minimum = settings.VAXBOOK_QUEUE_POLL_SECONDS
    if now >= config.closes_at:
        return QueueStatus("closed", poll_after=0)
    if now < ticket.opening:
        # The draw starts a few seconds after the opening: ask once it may be done.
        due = ticket.opening + settings.VAXBOOK_QUEUE_DRAW_GRACE - now
        return QueueStatus(
            "before_opening", poll_after=poll_after(due, longest=longest_poll(config))
        )
    place = position(config, ticket)
    if place is None:
        # Everyone who waited for the opening asks now: spread them over a few intervals.
        return QueueStatus("drawing", poll_after=random.randint(minimum, 3 * minimum))  # noqa: S311
    turn = turn_at(config, ticket, place)
    if turn is not None and turn <= now:
        if now >= turn + config.pass_minutes * 60:
            return QueueStatus("expired", position=place, poll_after=0, admitted_at=turn)
        return QueueStatus(
            "admitted", position=place, ahead=0, wait_seconds=0, poll_after=0, admitted_at=turn
        )
    if ticket.early or ticket.base_at is None:
        admitted = admitted_upto(config, ticket.opening, now=now)
    else:
        drawn = place - ticket.number
        admitted = drawn + late_admitted(
            config, ticket.opening, drawn, ticket.base_at, ticket.base_count, now=now
        )
    ahead = max(place - admitted - 1, 0)
    wait = (
        math.ceil(turn - now)
        if turn is not None
        else math.ceil((ahead + 1) * 60 / (config.current_rate or 1))
    )
    return QueueStatus(
        "waiting",
        position=place,
        ahead=ahead,
        wait_seconds=wait,
        poll_after=poll_after(
            turn - now if turn is not None else math.inf, longest=longest_poll(config)
        ),
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
    if not _is_number(since):
        return None
    # Valid for its minutes from the ticket's admission, however often it was re-issued.
    if timezone.now().timestamp() >= since + minutes * 60:
        return None
    return Pass(ticket_id=ticket_id, opening=float(opening), admitted_at=float(since))


def as_datetime(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.get_current_timezone())


def challenge_json(challenge: dict) -> str:
    return json.dumps(challenge, separators=(",", ":"))


def line_tallies(config: QueueConfig, opening: float) -> tuple[int, int, tuple[float | None, int]]:
    """How many early and late tickets an opening's line has handed out, and its late meter
    (``base_at``, ``base_count``): the counters this module keeps, in one round trip."""
    line = config.line_prefix(opening)
    keys = [f"{line}:early-seq", f"{line}:late-seq", f"{line}:base"]
    found = cache.get_many(keys)
    base = found.get(keys[2])
    meter = (base[0], base[1]) if base else (None, 0)
    early = int(found.get(keys[0]) or 0) if config.draws(opening) else 0
    return early, int(found.get(keys[1]) or 0), meter


def people_waiting(config: QueueConfig, *, now: float) -> int:
    """Places in the current line (the latest opening's while a window is open, else the next
    opening's) that hold a ticket and whose turn has not come yet: its length as the meter
    sees it. People who gave up and closed the page still count until their turn passes.
    Redis reads only (a handful), no database."""
    opening = config.line_for_arrival(now)
    if opening is None:
        return 0
    early, late, (base_at, base_count) = line_tallies(config, opening)
    if now < opening:
        return early  # everyone who came early waits for the draw
    drawn = drawn_count(config, opening)
    if drawn is None:  # the draw is running: nobody of the early ones is admitted yet
        return early + late
    admitted_early = min(admitted_upto(config, opening, now=now), drawn)
    admitted_late = late_admitted(config, opening, drawn, base_at, base_count, now=now)
    admitted_late = min(max(admitted_late, 0), late)
    return (drawn - admitted_early) + (late - admitted_late)
