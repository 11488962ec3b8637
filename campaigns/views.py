from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone

from campaigns import tasks, waiting_room
from campaigns.models import Campaign
from campaigns.windows import format_kst, window_state


def home(request: HttpRequest) -> HttpResponse:
    """The list of campaigns with their windows. Links only: every form is guarded."""
    now = timezone.now()
    campaigns = [
        {
            "campaign": c,
            "state": window_state(c, now=now).value,
            "opens_at": format_kst(c.opens_at),
            "closes_at": format_kst(c.closes_at),
        }
        for c in Campaign.objects.prefetch_related("windows")
    ]
    return render(request, "campaigns/home.html", {"campaigns": campaigns})


def _poll(request: HttpRequest, slug: str):
    """What the queue page and its status endpoint share. No database query once the
    campaign's configuration is cached: the ticket and pass are signed cookies, the places and
    the draw live in the cache."""
    config = waiting_room.config_for(slug)
    if config is None:
        raise Http404("No such campaign.")
    now = timezone.now().timestamp()
    ticket = waiting_room.read_ticket(request, config)
    replaced = ticket is None and waiting_room.ticket_cookie(slug) in request.COOKIES
    new = ticket is None and config.enabled and now < config.closes_at
    if new:
        ticket = waiting_room.issue_ticket(config, now=now)
    status = waiting_room.queue_status(config, ticket, now=now) if ticket else None
    _start_draw_if_due(config, status, now=now)
    return config, ticket, status, new, replaced


def _start_draw_if_due(config, status, *, now: float) -> None:
    """The first poll after the opening (plus the grace) starts the draw on a worker; one
    process in the whole system wins the claim."""
    if (
        status is not None
        and status.state == "drawing"
        and waiting_room.draw_due(config, now=now)
        and waiting_room.claim_draw(config)
    ):
        tasks.run_draw.delay(config.campaign_id)


def _finish(response: HttpResponse, config, ticket, status, new: bool) -> HttpResponse:
    if new:
        waiting_room.set_ticket_cookie(response, config, ticket)
    if status is not None and status.state == "admitted":
        waiting_room.issue_pass(response, config, ticket)
    response["Cache-Control"] = "no-store"
    return response


def queue(request: HttpRequest, campaign: str) -> HttpResponse:
    """The waiting room: a ticket on arrival, the place and an honest estimate while waiting,
    the admission pass (and on to step 1) when the turn comes. Deliberately open: it shows no
    booking form."""
    config, ticket, status, new, replaced = _poll(request, campaign)
    start = reverse("bookings:start", kwargs={"campaign": campaign})
    if not config.enabled or waiting_room.pass_ticket_for(request, config):
        return redirect(start)
    if status is not None and status.state == "admitted":
        return _finish(redirect(start), config, ticket, status, new)
    context = {
        "config": config,
        "status": status,
        "ticket": ticket,
        "replaced": replaced,
        "opens_at_kst": format_kst(waiting_room.as_datetime(config.opens_at)),
        "closes_at_kst": format_kst(waiting_room.as_datetime(config.closes_at)),
        "status_url": reverse("campaigns:queue-status", kwargs={"campaign": campaign}),
        "wait_minutes": (status.wait_seconds + 59) // 60 if status and status.wait_seconds else 0,
    }
    return _finish(render(request, "campaigns/queue.html", context), config, ticket, status, new)


def queue_status(request: HttpRequest, campaign: str) -> JsonResponse:
    """GET: the ticket's place as JSON, for the queue page to poll. Answered from the cache
    and cookies with no database query; issues the pass when the turn has come."""
    config = waiting_room.config_for(campaign)
    if config is None:
        raise Http404("No such campaign.")
    now = timezone.now().timestamp()
    ticket = waiting_room.read_ticket(request, config)
    if ticket is None:
        return JsonResponse(
            {
                "state": "no_ticket",
                "queue": reverse("campaigns:queue", kwargs={"campaign": campaign}),
            },
            status=403,
        )
    status = waiting_room.queue_status(config, ticket, now=now)
    _start_draw_if_due(config, status, now=now)
    body = {
        "state": status.state,
        "position": status.position,
        "ahead": status.ahead,
        "wait_seconds": status.wait_seconds,
        "poll_after": status.poll_after,
    }
    if status.state == "admitted":
        body["next"] = reverse("bookings:start", kwargs={"campaign": campaign})
    return _finish(JsonResponse(body), config, ticket, status, new=False)


def draw(request: HttpRequest, campaign: str) -> HttpResponse:
    """The published draw: the seed and every early ticket's place, so anyone can recompute
    it (``python manage.py verify_draw``). 404 until an official publishes it."""
    the_campaign = get_object_or_404(
        Campaign, slug=campaign, draw_published=True, drawn_at__isnull=False
    )
    entries = the_campaign.draw_entries.order_by("position").values_list(
        "position", "number", "ticket_id"
    )
    return render(request, "campaigns/draw.html", {"campaign": the_campaign, "entries": entries})
