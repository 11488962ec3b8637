"""The booking window rule: one function, called by the view guard, the API and the service.

A campaign is *open* from ``opens_at`` (inclusive) to ``closes_at`` (exclusive), judged by
the server's clock, ``django.utils.timezone.now()``. Nobody is exempt: not staff, not
superusers, not a maintenance mode. Hiding a link is not a guard; this is.
"""

import enum
import functools
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone

from campaigns.models import Campaign

KST = ZoneInfo("Asia/Seoul")


class WindowState(enum.Enum):
    SCHEDULED = "scheduled"
    OPEN = "open"
    CLOSED = "closed"


def window_state(campaign: Campaign, *, now: datetime | None = None) -> WindowState:
    now = now or timezone.now()
    if now < campaign.opens_at:
        return WindowState.SCHEDULED
    if now >= campaign.closes_at:
        return WindowState.CLOSED
    return WindowState.OPEN


def is_open(campaign: Campaign, *, at: datetime | None = None) -> bool:
    return window_state(campaign, now=at) is WindowState.OPEN


def format_kst(moment: datetime) -> str:
    return timezone.localtime(moment, KST).strftime("%Y-%m-%d %H:%M KST")


def closed_message(campaign: Campaign, state: WindowState) -> str:
    if state is WindowState.SCHEDULED:
        return f"Booking for {campaign.name} opens on {format_kst(campaign.opens_at)}."
    return f"Booking for {campaign.name} closed on {format_kst(campaign.closes_at)}."


def _closed_response(
    request: HttpRequest, campaign: Campaign, state: WindowState, *, json: bool
) -> HttpResponse:
    message = closed_message(campaign, state)
    if json:
        return JsonResponse(
            {
                "detail": message,
                "state": state.value,
                "opens_at": campaign.opens_at.isoformat(),
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
            "opens_at_kst": format_kst(campaign.opens_at),
            "closes_at_kst": format_kst(campaign.closes_at),
        },
        status=403,
    )


def booking_window_required(view: Callable | None = None, *, json: bool = False) -> Callable:
    """Guard a view that shows a booking form or accepts a booking write.

    The view must take the campaign slug as the URL kwarg ``campaign``. Outside the window it
    answers 403 with when booking opens (in KST) or that it closed, and the view never runs.
    Inside, the view receives the loaded campaign as ``request.campaign``. Use
    ``json=True`` for API views.
    """

    def decorate(inner: Callable) -> Callable:
        @functools.wraps(inner)
        def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            slug = kwargs.get("campaign")
            campaign = Campaign.objects.filter(slug=slug).first() if slug else None
            if campaign is None:
                if json:
                    return JsonResponse({"detail": "No such campaign."}, status=404)
                raise Http404("No such campaign.")
            state = window_state(campaign)
            if state is not WindowState.OPEN:
                return _closed_response(request, campaign, state, json=json)
            request.campaign = campaign
            return inner(request, *args, **kwargs)

        guarded.booking_window_guarded = True
        return guarded

    if view is not None:
        return decorate(view)
    return decorate
