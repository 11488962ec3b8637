"""Abuse limits: attempts per fixed time window, counted in the cache (Redis in production).

Two kinds of key: the client address, set generously because many honest people share one
address behind a mobile carrier's NAT, and the person (the keyed hash of the registration
number), set tightly: nobody needs more than a few tries for one person. Over the limit the
page answers 429 and says when to try again.
"""

import hashlib
import math
import time
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from campaigns.windows import format_kst


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

    def hit(self, key: str, *, now: float | None = None) -> int | None:
        """Count an attempt; seconds to wait if this one is over the limit, else None."""
        now = time.time() if now is None else now
        cache_key = self._key(key, now)
        cache.add(cache_key, 0, timeout=self.window + 5)
        return self._retry_after(cache.incr(cache_key), now)


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
    # Behind the load balancer REMOTE_ADDR must be set from the trusted proxy's header by the
    # web server (e.g. gunicorn --forwarded-allow-ips); a client-sent header is never trusted.
    return request.META.get("REMOTE_ADDR", "")


def too_many(request: HttpRequest, retry_after: int) -> HttpResponse:
    until = datetime.fromtimestamp(time.time() + retry_after, tz=timezone.get_current_timezone())
    response = render(
        request,
        "message.html",
        {
            "title": "Too many tries",
            "message": f"Too many tries in a short time. Please try again after "
            f"{format_kst(until)} (in about {math.ceil(retry_after / 60)} minute"
            f"{'s' if retry_after > 60 else ''}).",
        },
        status=429,
    )
    response["Retry-After"] = str(retry_after)
    return response
