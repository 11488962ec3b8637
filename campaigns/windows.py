"""The booking window rule: one function, called by the view guard, the API and the services.

A window is open from ``opens_at`` (inclusive) to ``closes_at`` (exclusive), judged by the
server's clock, ``django.utils.timezone.now()``. A campaign is open when one of its windows is
open; a person may book when a window that covers them is open. Nobody is exempt: not staff,
not superusers, not a maintenance mode. Hiding a link is not a guard; this is.

With the waiting room on, the guard also requires a valid admission pass: a deep link without
one leads to the queue, never to a form.
"""

import enum
import functools
from collections.abc import Callable
from datetime import date, datetime

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext

from campaigns import waiting_room
from campaigns.models import Campaign, Window, format_birth_date
from vaxbook.dates import KST as KST  # re-exported: other modules import it from here
from vaxbook.dates import format_kst


class WindowState(enum.Enum):
    SCHEDULED = "scheduled"
    OPEN = "open"
    CLOSED = "closed"


def windows_of(campaign: Campaign) -> list[Window]:
    """The campaign's windows in force (prefetch ``windows`` to save the query)."""
    return campaign.booking_windows()


def describe(window: Window) -> str:
    """Whom a window is for, as a person reads it (in the active language)."""
    if window.born_from and window.born_to:
        born = gettext("born %(first)s to %(last)s") % {
            "first": format_birth_date(window.born_from),
            "last": format_birth_date(window.born_to),
        }
    elif window.born_from:
        born = gettext("born on or after %(first)s") % {
            "first": format_birth_date(window.born_from)
        }
    elif window.born_to:
        born = gettext("born on or before %(last)s") % {"last": format_birth_date(window.born_to)}
    else:
        born = ""
    if window.last_digit is None:
        return born or gettext("everyone in the cohort")
    # Translators: the day of the month of a birth date ends in this digit (the 9th, 19th, 29th).
    digit = gettext("birth days ending in %(digit)s") % {"digit": window.last_digit}
    if not born:
        return digit
    # Translators: both parts of whom a window is for: "born …, birth days ending in 9".
    return gettext("%(born)s, %(digit)s") % {"born": born, "digit": digit}


def covers(campaign: Campaign, birth_date: date) -> bool:
    """Whether one of the campaign's windows (open, past or to come) is for this birth date.
    A person of the cohort whom none covers can never book: the officials left a gap."""
    return any(w.covers(birth_date) for w in windows_of(campaign))


def window_state(
    campaign: Campaign, *, now: datetime | None = None, birth_date: date | None = None
) -> WindowState:
    """OPEN when a window is open now (one covering ``birth_date`` when it is given);
    SCHEDULED when such a window opens later; CLOSED otherwise."""
    now = now or timezone.now()
    relevant = [w for w in windows_of(campaign) if birth_date is None or w.covers(birth_date)]
    if any(w.is_open(now) for w in relevant):
        return WindowState.OPEN
    if any(w.opens_at > now for w in relevant):
        return WindowState.SCHEDULED
    return WindowState.CLOSED


def is_open(
    campaign: Campaign, *, at: datetime | None = None, birth_date: date | None = None
) -> bool:
    return window_state(campaign, now=at, birth_date=birth_date) is WindowState.OPEN


def next_window(
    campaign: Campaign, *, now: datetime, birth_date: date | None = None
) -> Window | None:
    later = [
        w
        for w in windows_of(campaign)
        if w.opens_at > now and (birth_date is None or w.covers(birth_date))
    ]
    return min(later, key=lambda w: w.opens_at, default=None)


def closed_message(
    campaign: Campaign,
    state: WindowState,
    *,
    now: datetime | None = None,
    birth_date: date | None = None,
) -> str:
    """Why booking is not open (for this person, when ``birth_date`` is given), in the active
    language: when it opens, that it closed, or that no window is for this birth date at all
    (with whom to contact)."""
    now = now or timezone.now()
    if birth_date is not None and not covers(campaign, birth_date):
        return not_covered_message(campaign)
    if state is WindowState.SCHEDULED:
        upcoming = next_window(campaign, now=now, birth_date=birth_date)
        if upcoming is not None and birth_date is not None and not upcoming.whole_cohort:
            return gettext(
                "Your booking window for %(campaign)s (%(whom)s) opens on %(opens)s."
            ) % {
                "campaign": campaign.name,
                "whom": describe(upcoming),
                "opens": format_kst(upcoming.opens_at),
            }
        opens = upcoming.opens_at if upcoming else campaign.opens_at
        return gettext("Booking for %(campaign)s opens on %(opens)s.") % {
            "campaign": campaign.name,
            "opens": format_kst(opens),
        }
    if birth_date is not None:
        return gettext("The booking window for this person in %(campaign)s has closed.") % {
            "campaign": campaign.name
        }
    return gettext("Booking for %(campaign)s closed on %(closes)s.") % {
        "campaign": campaign.name,
        "closes": format_kst(campaign.closes_at),
    }


def not_covered_message(campaign: Campaign) -> str:
    """For a person of the cohort whom no booking window covers: said as such, and whom to
    contact (the campaign's contact, or the local public health centre)."""
    if campaign.contact:
        return gettext(
            "No booking window of %(campaign)s is for this birth date, so it cannot be booked "
            "online. Please contact %(contact)s."
        ) % {"campaign": campaign.name, "contact": campaign.contact}
    return gettext(
        "No booking window of %(campaign)s is for this birth date, so it cannot be booked "
        "online. Please contact your local public health centre."
    ) % {"campaign": campaign.name}


def closed_response(
    request: HttpRequest,
    campaign: Campaign,
    state: WindowState,
    *,
    json: bool = False,
    birth_date: date | None = None,
) -> HttpResponse:
    now = timezone.now()
    message = closed_message(campaign, state, now=now, birth_date=birth_date)
    upcoming = next_window(campaign, now=now, birth_date=birth_date)
    opens_at = upcoming.opens_at if upcoming else campaign.opens_at
    if json:
        return JsonResponse(
            {
                "detail": message,
                "state": state.value,
                "opens_at": opens_at.isoformat(),
                "closes_at": campaign.closes_at.isoformat(),
            },
            status=403,
        )
    # Imported here: the selectors build on this module.
    from campaigns.forms import WindowSignupForm
    from campaigns.selectors import listed_windows

    return render(
        request,
        "campaigns/window_closed.html",
        {
            "campaign": campaign,
            "state": state.value,
            "message": message,
            "windows": listed_windows(windows_of(campaign), now=now),
            "opens_at_kst": format_kst(opens_at),
            "closes_at_kst": format_kst(campaign.closes_at),
            # before the opening: "text me when my window opens" (campaigns.window_signups)
            "signup_form": WindowSignupForm() if state is WindowState.SCHEDULED else None,
        },
        status=403,
    )


def booking_window_required(view: Callable | None = None, *, json: bool = False) -> Callable:
    """Guard a view that shows a booking form or accepts a booking write.

    The view must take the campaign slug as the URL kwarg ``campaign``. Outside every window it
    answers 403 with when booking opens (in KST) or that it closed, and the view never runs.
    With the waiting room on, a request without a valid admission pass is sent to the queue
    (before the opening too: the queue page is where people wait). Inside, the view receives
    ``request.campaign`` and ``request.admission_pass`` (a ``waiting_room.Pass``, or None
    when the waiting room is off).
    Use ``json=True`` for API views.
    """

    def decorate(inner: Callable) -> Callable:
        @functools.wraps(inner)
        def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            slug = kwargs.get("campaign")
            # Held per process under the configuration's generation (no query on a warm
            # process); a fresh copy per request.
            campaign = waiting_room.campaign_for(slug) if slug else None
            if campaign is None:
                if json:
                    return JsonResponse({"detail": gettext("No such campaign.")}, status=404)
                raise Http404(gettext("No such campaign."))
            state = window_state(campaign)
            request.admission_pass = None
            if campaign.waiting_room_enabled and state is not WindowState.CLOSED:
                admission = waiting_room.valid_pass(request, campaign)
                if admission is None:
                    queue_url = reverse("campaigns:queue", kwargs={"campaign": campaign.slug})
                    if json:
                        return JsonResponse(
                            {
                                "detail": gettext(
                                    "Join the waiting room first: an admission pass is required."
                                ),
                                "queue": queue_url,
                            },
                            status=403,
                        )
                    return redirect(queue_url)
                request.admission_pass = admission
            if state is not WindowState.OPEN:
                return closed_response(request, campaign, state, json=json)
            request.campaign = campaign
            return inner(request, *args, **kwargs)

        guarded.booking_window_guarded = True
        return guarded

    if view is not None:
        return decorate(view)
    return decorate
