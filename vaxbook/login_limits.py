"""Limits on guessing the officials' and clinic staff's passwords, with django-axes.

A lock is keyed on the user name *as Django's login reads it* together with the client
address: the login form strips surrounding white space (tabs, no-break and ideographic spaces)
and applies NFKC (full-width letters become ASCII), so " official", "official\\t" and
"ｏｆｆｉｃｉａｌ" are all guesses at "official" and share one count. Keyed on the address too, a
stranger elsewhere who fails a hundred times locks only themselves out, never an official at
their usual address. One address trying many user names is bounded separately, generously
(carrier NAT), by ``VAXBOOK_THROTTLE_PER_ADDRESS`` in ``vaxbook.views.admin_login``.
"""

import math
import unicodedata
from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from bookings import throttle


def username_tried(request: HttpRequest, credentials: dict | None = None) -> str:
    """The user name an attempt is counted against: the form's own normalisation (strip, NFKC)
    and case folded, so that no spelling of one account escapes its count."""
    raw = (credentials or {}).get("username")
    if raw is None:
        raw = request.POST.get("username", "")
    return unicodedata.normalize("NFKC", str(raw)).strip().casefold()[:150]


def failure_limit(request: HttpRequest, credentials: dict | None = None) -> int:
    return settings.VAXBOOK_ADMIN_LOGIN_FAILURES


def cool_off(request: HttpRequest | None = None) -> timedelta:
    return timedelta(seconds=settings.VAXBOOK_THROTTLE_WINDOW_SECONDS)


def locked_out(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict | None = None,
) -> HttpResponse:
    """The 429 page of a locked login, saying when to try again (the lock lasts the window
    from the last failed attempt)."""
    return throttle.too_many(request, math.ceil(cool_off(request).total_seconds()))
