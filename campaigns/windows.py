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

from campaigns import waiting_room
from campaigns.models import Campaign, Window
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
    """Whom a window is for, as a person reads it."""
    parts = []
    if window.last_digit is not None:
        parts.append(f"birth dates ending in {window.last_digit}")
    if window.born_from or window.born_to:
        start = f"{window.born_from:%Y-%m-%d}" if window.born_from else "…"
        end = f"{window.born_to:%Y-%m-%d}" if window.born_to else "…"
        parts.append(f"born {start} to {end}")
    return ", ".join(parts) or "everyone in the cohort"


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
    now = now or timezone.now()
    if state is WindowState.SCHEDULED:
        upcoming = next_window(campaign, now=now, birth_date=birth_date)
        if upcoming is not None and birth_date is not None and not upcoming.whole_cohort:
            return (
                f"Your booking window for {campaign.name} ({describe(upcoming)}) opens on "
                f"{format_kst(upcoming.opens_at)}."
            )
        opens = upcoming.opens_at if upcoming else campaign.opens_at
        return f"Booking for {campaign.name} opens on {format_kst(opens)}."
    if birth_date is not None:
        return f"The booking window for this person in {campaign.name} has closed."
    return f"Booking for {campaign.name} closed on {format_kst(campaign.closes_at)}."


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
    return render(
        request,
        "campaigns/window_closed.html",
        {
            "campaign": campaign,
            "state": state.value,
            "message": message,
            "opens_at_kst": format_kst(opens_at),
            "closes_at_kst": format_kst(campaign.closes_at),
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
            campaign = (
                Campaign.objects.prefetch_related("windows").filter(slug=slug).first()
                if slug
                else None
            )
            if campaign is None:
                if json:
                    return JsonResponse({"detail": "No such campaign."}, status=404)
                raise Http404("No such campaign.")
            state = window_state(campaign)
            request.admission_pass = None
            if campaign.waiting_room_enabled and state is not WindowState.CLOSED:
                admission = waiting_room.valid_pass(request, campaign)
                if admission is None:
                    queue_url = reverse("campaigns:queue", kwargs={"campaign": campaign.slug})
                    if json:
                        return JsonResponse(
                            {
                                "detail": "Join the waiting room first: an admission pass is "
                                "required.",
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
