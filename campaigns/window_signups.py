""" "Tell me when my window opens": a phone and a birth date, texted
``VAXBOOK_WINDOW_NOTICE_MINUTES`` before the opening of the booking window that is for that
birth date (with staggered windows, the person's own), with the link to the queue.

Nothing is ever sent to a number that did not ask for it: signing up texts a one-time code
(``vaxbook.notifications.phone_codes``) and the sign-up counts only once the code is typed
back (``confirmed_at``). Signing up again with the same phone and birth date is the same
sign-up and simply sends a new code, so the answer never tells whether a number was signed up.
"""

from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from campaigns.models import Campaign, Window, WindowSignup
from campaigns.windows import windows_of
from vaxbook.notifications import phone_codes
from vaxbook.notifications.batch import Message, notify_batch
from vaxbook.notifications.models import Notification


class SignupRefused(Exception):
    """Why nobody can be told about a window for this birth date: ``code`` is the reason
    (``out_of_cohort``, ``not_covered``, ``open_now``, ``no_window_to_come``); ``message``
    the text, in the language active when it is read."""

    texts = {
        "out_of_cohort": _("This campaign is not for this birth date."),
        "not_covered": _("No booking window of this campaign is for this birth date."),
        "open_now": _("The booking window for this birth date is open now: you can book."),
        "no_window_to_come": _("No booking window for this birth date is still to open."),
    }

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code

    @property
    def message(self) -> str:
        return str(self.texts[self.code])


def check_window_to_come(campaign: Campaign, birth_date: date, *, now: datetime) -> Window:
    """The next window that is for ``birth_date`` and opens after ``now``; raises
    ``SignupRefused`` when there is nothing to be told about."""
    if not campaign.covers_birth_date(birth_date):
        raise SignupRefused("out_of_cohort")
    theirs = [w for w in windows_of(campaign) if w.covers(birth_date)]
    if not theirs:
        raise SignupRefused("not_covered")
    if any(w.is_open(now) for w in theirs):
        raise SignupRefused("open_now")
    later = [w for w in theirs if w.opens_at > now]
    if not later:
        raise SignupRefused("no_window_to_come")
    return min(later, key=lambda w: w.opens_at)


def request_window_signup(
    campaign: Campaign,
    *,
    phone: str,
    birth_date: date,
    language: str,
    address: str,
    now: datetime | None = None,
) -> WindowSignup:
    """Sign ``phone`` up (unconfirmed) for the window of ``birth_date`` and text it a one-time
    code; the same phone and birth date again is the same sign-up, and a new code.

    Raises ``SignupRefused`` (no window to come for this birth date) or
    ``phone_codes.TooManyCodes`` (this phone or ``address`` asked for too many codes: nothing
    is written)."""
    now = now or timezone.now()
    check_window_to_come(campaign, birth_date, now=now)
    with transaction.atomic():
        signup, created = WindowSignup.objects.get_or_create(
            campaign=campaign, phone=phone, birth_date=birth_date, defaults={"language": language}
        )
        if not created and signup.language != language:
            signup.language = language
            signup.save(update_fields=["language"])
        phone_codes.issue_code(
            phone, phone_codes.Purpose.WINDOW_OPENS, language=language, address=address
        )
    return signup


def confirm_window_signup(signup: WindowSignup, *, code: str, now: datetime | None = None) -> bool:
    """Whether ``code`` is the live code texted for this sign-up's phone; if it is, the
    sign-up counts from now on (``confirmed_at``; a sign-up confirmed before keeps its
    moment). A wrong code changes nothing (``phone_codes`` counts and limits the tries)."""
    if not phone_codes.check_code(signup.phone, phone_codes.Purpose.WINDOW_OPENS, code):
        return False
    WindowSignup.objects.filter(pk=signup.pk, confirmed_at__isnull=True).update(
        confirmed_at=now or timezone.now()
    )
    return True


def notice_key(signup_id: int, opening: datetime) -> str:
    """The opening in UTC, as the database gives it back, so every run writes the same key."""
    opening = opening.astimezone(UTC).isoformat()
    return f"signup:{signup_id}:{Notification.Kind.WINDOW_OPENS}:{opening}:sms"


def due_windows(campaign: Campaign, *, now: datetime) -> list[Window]:
    """The campaign's windows to announce now: from ``VAXBOOK_WINDOW_NOTICE_MINUTES`` before
    their opening until they close (a run that comes late still tells, since the window is
    still open to book in)."""
    lead = timedelta(minutes=settings.VAXBOOK_WINDOW_NOTICE_MINUTES)
    return [w for w in windows_of(campaign) if w.opens_at - lead <= now < w.closes_at]


def send_window_notices(*, now: datetime | None = None) -> list[str]:
    """Text every confirmed sign-up whose window is due (``due_windows``) and that has not
    been told about that opening; returns the keys written by this call. Sign-ups confirmed
    only after the opening are not texted (they were on the page when it was open).

    One message per sign-up and opening, however often and however concurrently this runs:
    the outbox's unique key (``notice_key``) keeps one, and only the run that wrote it sends
    it. ``notified_for`` records the opening told about (and spares the next runs the work).
    """
    now = now or timezone.now()
    confirmed = WindowSignup.objects.filter(campaign=OuterRef("pk"), confirmed_at__isnull=False)
    campaigns = Campaign.objects.filter(Exists(confirmed)).prefetch_related("windows")
    written: list[str] = []
    for campaign in campaigns:
        link = settings.VAXBOOK_SITE_URL.rstrip("/") + reverse(
            "campaigns:queue", kwargs={"campaign": campaign.slug}
        )
        for window in due_windows(campaign, now=now):
            written += _announce(campaign, window, link=link)
    return written


def _announce(campaign: Campaign, window: Window, *, link: str) -> list[str]:
    opening = window.opens_at
    signups = WindowSignup.objects.filter(
        Q(notified_for__isnull=True) | Q(notified_for__lt=opening),
        campaign=campaign,
        confirmed_at__lt=opening,
    )
    if window.born_from:
        signups = signups.filter(birth_date__gte=window.born_from)
    if window.born_to:
        signups = signups.filter(birth_date__lte=window.born_to)
    covered = {s.pk: s for s in signups.order_by("pk") if window.covers(s.birth_date)}
    if not covered:
        return []
    with transaction.atomic():
        written = notify_batch(
            Message(
                kind=Notification.Kind.WINDOW_OPENS,
                recipient=signup.phone,
                key=notice_key(signup.pk, opening),
                context={"campaign": campaign, "opens_at": opening, "link": link},
                language=signup.language,
            )
            for signup in covered.values()
        )
        told = [int(key.split(":")[1]) for key in written]
        WindowSignup.objects.filter(pk__in=told).filter(
            Q(notified_for__isnull=True) | Q(notified_for__lt=opening)
        ).update(notified_for=opening)
    return written
