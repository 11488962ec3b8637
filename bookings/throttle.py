"""Abuse limits: attempts per fixed time window, counted in the cache (Redis in production).

Two kinds of key: the client address, set generously because many honest people share one
address behind a mobile carrier's NAT, and the person (the keyed hash of the registration
number), set tightly: nobody needs more than a few tries for one person. Over the limit the
page answers 429 and says when to try again.
"""

import functools
import hashlib
import ipaddress
import math
import time
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from vaxbook.dates import format_kst


@dataclass(frozen=True)
class Throttle:
    scope: str
    limit: int
    window: int  # seconds

    def _key(self, key: str, now: float) -> str:
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]  # no address or name in Redis
        return f"throttle:{self.scope}:{digest}:{int(now // self.window)}"

    def _retry_after(self, count: int, now: float) -> int | None:
        if count <= self.limit:
            return None
        return max(math.ceil((int(now // self.window) + 1) * self.window - now), 1)

    def retry_after(self, key: str, *, now: float | None = None) -> int | None:
        """Seconds until ``key`` may try again, without counting an attempt; None if it may."""
        now = time.time() if now is None else now
        return self._retry_after(int(cache.get(self._key(key, now)) or 0) + 1, now)

    def forget(self, key: str, *, now: float | None = None) -> None:
        """Forget the attempts of ``key`` in the current window (a success ends a streak)."""
        now = time.time() if now is None else now
        cache.delete(self._key(key, now))

    def hit(self, key: str, *, now: float | None = None) -> int | None:
        """Count an attempt; seconds to wait if this one is over the limit, else None."""
        now = time.time() if now is None else now
        return self._retry_after(_count(self._key(key, now), timeout=self.window + 5), now)


def _count(cache_key: str, *, timeout: int) -> int:
    """One more attempt on the counter (created with its expiry when new); the count.

    With Redis, in one round trip (SET NX EX and INCR pipelined) rather than the cache API's
    three (``add``, then ``incr``'s EXISTS and INCRBY), on every identity step of the surge.
    Django's Redis cache stores an integer as is, so ``cache.get`` reads the same counter."""
    backend = caches["default"]
    if not isinstance(backend, RedisCache):  # the embedded default: memory
        backend.add(cache_key, 0, timeout=timeout)
        return backend.incr(cache_key)
    key = backend.make_and_validate_key(cache_key)
    pipe = backend._cache.get_client(key, write=True).pipeline(transaction=False)
    pipe.set(key, 0, nx=True, ex=timeout)
    pipe.incr(key)
    return pipe.execute()[1]


def per_address(scope: str) -> Throttle:
    return Throttle(
        f"{scope}:address",
        settings.VAXBOOK_THROTTLE_PER_ADDRESS,
        settings.VAXBOOK_THROTTLE_WINDOW_SECONDS,
    )


def per_person(scope: str) -> Throttle:
    return Throttle(
        f"{scope}:person",
        settings.VAXBOOK_THROTTLE_PER_PERSON,
        settings.VAXBOOK_THROTTLE_WINDOW_SECONDS,
    )


def client_address(request: HttpRequest) -> str:
    """The address the limits count a request against.

    The peer of the connection (``REMOTE_ADDR``), unless that peer is one of our own load
    balancers (``VAXBOOK_TRUSTED_PROXIES``): then the right-most ``X-Forwarded-For`` entry
    that is not one of them — the address the balancer itself saw and appended; what a client
    wrote further left is never believed. An IPv6 address counts as its /64 network: one
    subscriber usually holds a whole /64, so counting single addresses would give them
    billions of budgets.
    """
    peer = request.META.get("REMOTE_ADDR", "")
    address = _parsed(peer)
    trusted = _trusted_proxies()
    if address is not None and trusted and _is_trusted(address, trusted):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        for entry in reversed(forwarded.split(",")):
            hop = _parsed(entry)
            if hop is None:
                break  # garbage where an address should be: keep the balancer's own
            if not _is_trusted(hop, trusted):
                address = hop
                break
    if address is None:
        return peer
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def _parsed(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


@functools.lru_cache(maxsize=8)
def _networks(setting: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(item, strict=False) for item in setting)


def _trusted_proxies() -> tuple:
    return _networks(tuple(settings.VAXBOOK_TRUSTED_PROXIES))


def _is_trusted(address, trusted) -> bool:
    return any(address.version == net.version and address in net for net in trusted)


def too_many(request: HttpRequest, retry_after: int) -> HttpResponse:
    until = datetime.fromtimestamp(time.time() + retry_after, tz=timezone.get_current_timezone())
    minutes = math.ceil(retry_after / 60)
    message = ngettext(
        "Too many tries in a short time. Please try again after %(until)s (in about "
        "%(minutes)d minute).",
        "Too many tries in a short time. Please try again after %(until)s (in about "
        "%(minutes)d minutes).",
        minutes,
    ) % {"until": format_kst(until), "minutes": minutes}
    response = render(
        request,
        "message.html",
        {"title": gettext("Too many tries"), "message": message},
        status=429,
    )
    response["Retry-After"] = str(retry_after)
    return response
