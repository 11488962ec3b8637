"""One-time codes sent to a phone, to prove that the phone is in the hand of whoever typed it.

``issue_code`` texts six random digits to a phone; ``check_code`` says whether the digits typed
back are that code. A code is good for ``VAXBOOK_PHONE_CODE_TTL`` seconds, for one success, and
for ``VAXBOOK_PHONE_CODE_TRIES`` wrong tries, after which it is void; a new code for the same
phone and purpose replaces the old one (and its count of wrong tries). Sending is limited per
phone (``VAXBOOK_PHONE_CODE_SENDS`` texts in a throttle window, whatever the purpose: nobody
floods a number with codes) and per client address (the project's address limit).

Where the codes live: in the cache (Redis in production), not in the database. A code is
needed for minutes and then never again: Redis expires it by itself (no sweep, nothing left
for the personal-data purge), counts wrong tries atomically (``INCR``) and lets exactly one
request use it (``DEL`` reports whether it removed the key). No phone number or code is kept
there in clear: the key is a keyed hash of the phone and purpose, the value the keyed hash
(HMAC-SHA256, keyed from ``SECRET_KEY``) of the code. The trade-off: a Redis restart voids the
codes in flight, and the person asks for a new one. In development without ``REDIS_URL`` the
cache is the process's memory, which ``runserver`` (one process) is fine with.

The text itself goes through the outbox (``notify(kind="phone_code", urgent=True)``), so the
message row holds the code until the personal-data purge; by then it has long expired.
"""

import secrets
import time

from django.conf import settings
from django.core.cache import cache
from django.db import models, transaction
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext_lazy as _

from bookings import throttle
from vaxbook.notifications.models import Notification
from vaxbook.notifications.services import notify

_SALT = "vaxbook.notifications.phone_codes"


class Purpose(models.TextChoices):
    """What a code is for; its label is said in the text (\"… to {purpose}\")."""

    BOOKING = "booking", _("book a vaccination")
    WINDOW_OPENS = "window_opens", _("be texted when booking opens")


class TooManyCodes(Exception):
    """No code sent: this phone or this address asked for too many. ``retry_after``: seconds
    until one may be asked for again; ``limit``: ``"phone"`` or ``"address"``."""

    def __init__(self, retry_after: int, *, limit: str):
        super().__init__(f"too many codes asked for this {limit}; retry after {retry_after} s")
        self.retry_after = retry_after
        self.limit = limit


def sends_per_phone(purpose: str) -> list[throttle.Throttle]:
    """Codes one phone may be sent for one purpose: a few per throttle window and a few more
    a day. Each purpose has its own budget, so that codes for the window-opens sign-up (which
    asks only for a phone and a birth date) cannot use up the codes a person needs to book."""
    return [
        throttle.Throttle(
            f"phone_code:phone:{purpose}",
            settings.VAXBOOK_PHONE_CODE_SENDS,
            settings.VAXBOOK_THROTTLE_WINDOW_SECONDS,
        ),
        throttle.Throttle(
            f"phone_code:phone:{purpose}:day", settings.VAXBOOK_PHONE_CODE_SENDS_PER_DAY, 86400
        ),
    ]


def sends_per_address(purpose: str) -> throttle.Throttle:
    """Codes one address may have sent (to any phones) per throttle window: far fewer than
    its other requests, since each costs a text to someone."""
    return throttle.Throttle(
        f"phone_code:address:{purpose}",
        settings.VAXBOOK_PHONE_CODE_SENDS_PER_ADDRESS,
        settings.VAXBOOK_THROTTLE_WINDOW_SECONDS,
    )


def _digest(*parts: str) -> str:
    return salted_hmac(_SALT, "\x1f".join(parts), algorithm="sha256").hexdigest()


def _code_key(phone: str, purpose: str) -> str:
    return f"phone_code:{_digest('key', phone, purpose)[:40]}"


def _tries_key(nonce: str) -> str:
    return f"phone_code:tries:{nonce}"


def issue_code(phone: str, purpose: str, *, language: str, address: str) -> None:
    """Text a new code for ``purpose`` to ``phone`` (normalised, as ``normalise_phone`` writes
    it), replacing any code issued before for them. Raises ``TooManyCodes`` (nothing sent,
    nothing replaced) when the phone or the address ``address`` (``throttle.client_address``)
    is over its limit. The message is written to the outbox in the current transaction, if
    any, and marked urgent: it is sent ahead of other messages."""
    purpose = Purpose(purpose)
    if wait := sends_per_address(purpose.value).hit(address):
        raise TooManyCodes(wait, limit="address")
    for limit in sends_per_phone(purpose.value):
        if wait := limit.hit(phone):
            raise TooManyCodes(wait, limit="phone")
    code = f"{secrets.randbelow(10**6):06d}"
    nonce = secrets.token_urlsafe(12)
    ttl = settings.VAXBOOK_PHONE_CODE_TTL
    cache.set(
        _code_key(phone, purpose.value),
        {
            "nonce": nonce,
            "hash": _digest("code", nonce, phone, purpose.value, code),
            # Redis drops the key at the same moment; the check reads this too, so that the
            # expiry is a rule of this module (and tests can move the clock), not only Redis's
            "expires": time.time() + ttl,
        },
        timeout=ttl,
    )
    with transaction.atomic():
        notify(
            kind=Notification.Kind.PHONE_CODE,
            recipient=phone,
            key=f"phone_code:{nonce}",
            context={"code": code, "purpose": purpose.label, "minutes": max(ttl // 60, 1)},
            language=language,
            urgent=True,
        )


def check_code(phone: str, purpose: str, code: str) -> bool:
    """Whether ``code`` is the live code issued for ``phone`` and ``purpose``. A right code is
    used up by this call (a second check of it is False, even one running at the same moment:
    only the request that deletes it succeeds). Every check counts against the code before it
    is compared, so that however many checks arrive at once, at most
    ``VAXBOOK_PHONE_CODE_TRIES`` are ever compared; after that many wrong tries the code is
    void for the rest of its life (its count of tries outlives it). Compared in constant
    time."""
    purpose = Purpose(purpose).value
    key = _code_key(phone, purpose)
    issued = cache.get(key)
    if not isinstance(issued, dict) or time.time() >= issued["expires"]:
        return False
    nonce, tries = issued["nonce"], _tries_key(issued["nonce"])
    cache.add(tries, 0, timeout=settings.VAXBOOK_PHONE_CODE_TTL + 5)
    if cache.incr(tries) > settings.VAXBOOK_PHONE_CODE_TRIES:
        return False
    typed = "".join(c for c in str(code) if not c.isspace())
    if constant_time_compare(_digest("code", nonce, phone, purpose, typed), issued["hash"]):
        return bool(cache.delete(key))  # True for exactly one request
    return False
