from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext, ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from bookings import throttle
from campaigns import tasks, waiting_room, window_signups
from campaigns.forms import WindowSignupCodeForm, WindowSignupForm
from campaigns.models import Campaign, WindowSignup
from campaigns.selectors import campaign_windows, listed_windows
from campaigns.windows import format_kst, window_state
from vaxbook.notifications import phone_codes
from vaxbook.notifications.models import mask_phone


def home(request: HttpRequest) -> HttpResponse:
    """The list of campaigns, each with its booking windows: whom each is for and when it
    opens and closes, so that people know their day before they queue. Links only: every form
    is guarded."""
    now = timezone.now()
    campaigns = [
        {
            "campaign": c,
            "state": window_state(c, now=now).value,
            "windows": campaign_windows(c, now=now),
        }
        for c in Campaign.objects.select_related("vaccine").prefetch_related("windows")
    ]
    return render(request, "campaigns/home.html", {"campaigns": campaigns})


def _start_draw_if_due(config, status, *, now: float) -> None:
    """The first poll after an opening (plus the grace) starts its draw on a worker; one
    process in the whole system wins the claim."""
    if status is None or status.state != "drawing":
        return
    due = waiting_room.due_draws(config, now=now)
    if due and waiting_room.claim_draw(config, max(due)):
        tasks.run_draw.delay(config.campaign_id)


def _finish(response: HttpResponse, config, ticket, status) -> HttpResponse:
    if status is not None and status.state == "admitted":
        waiting_room.issue_pass(
            response, config, ticket, admitted_at=status.admitted_at, now=timezone.now().timestamp()
        )
    response["Cache-Control"] = "no-store"
    return response


def _config_or_404(slug: str):
    config = waiting_room.config_for(slug)
    if config is None:
        raise Http404(gettext("No such campaign."))
    return config


def _queue_page(request, config, *, ticket, status, status_code=200, **extra) -> HttpResponse:
    """The waiting room's page: the place and an honest estimate while waiting, or — without a
    ticket that still counts — the form that takes one, with its proof-of-work challenge."""
    slug = config.slug
    now = timezone.now().timestamp()
    joining = waiting_room.needs_new_ticket(config, ticket, status, now=now)
    opening = config.line_for_arrival(now) or config.opens_at
    if ticket is not None and not joining:
        opening = ticket.opening
    context = {
        "config": config,
        "status": status,
        "ticket": ticket,
        "joining": joining and now < config.closes_at,
        "closed": now >= config.closes_at,
        "opens_at_kst": format_kst(waiting_room.as_datetime(opening)),
        "closes_at_kst": format_kst(waiting_room.as_datetime(config.closes_at)),
        "status_url": reverse("campaigns:queue-status", kwargs={"campaign": slug}),
        "join_url": reverse("campaigns:queue-join", kwargs={"campaign": slug}),
        "wait_minutes": (status.wait_seconds + 59) // 60 if status and status.wait_seconds else 0,
        "wait_text": _wait_text(status),
        "windows": listed_windows(config.booking_windows(), now=timezone.now()),
        "people_per_pass": settings.VAXBOOK_PEOPLE_PER_PASS,
        "signup_form": WindowSignupForm() if now < config.closes_at else None,
        **extra,
    }
    if context["joining"]:
        context["challenge"] = waiting_room.challenge_json(
            waiting_room.join_challenge(config, now=now)
        )
    response = render(request, "campaigns/queue.html", context, status=status_code)
    return _finish(response, config, ticket, status)


def _wait_text(status) -> str:
    """The estimated wait as a person reads it (the page, and its script, show this)."""
    if status is None or status.wait_seconds is None:
        return ""
    minutes = max(1, (status.wait_seconds + 59) // 60)
    return ngettext("about %(minutes)d minute", "about %(minutes)d minutes", minutes) % {
        "minutes": minutes
    }


def _ticket_and_status(request, config, *, now: float):
    """The request's ticket as it counts now (a later opening's draw, once open) and where it
    stands."""
    ticket = waiting_room.read_ticket(request, config)
    if ticket is None:
        return None, None
    ticket = ticket.current(now)
    return ticket, waiting_room.queue_status(config, ticket, now=now)


def queue(request: HttpRequest, campaign: str) -> HttpResponse:
    """The waiting room. Deliberately open: it shows no booking form. A visit hands out no
    ticket (``join`` does, for a proof of work); with a ticket it shows the place, and when
    the turn comes it hands out the admission pass and goes on to step 1."""
    config = _config_or_404(campaign)
    start = reverse("bookings:start", kwargs={"campaign": campaign})
    now = timezone.now().timestamp()
    ticket, status = _ticket_and_status(request, config, now=now)
    admission = waiting_room.pass_for(request, config)
    if not config.enabled or (
        admission and (ticket is None or admission.opening >= ticket.opening)
    ):
        return redirect(start)
    _start_draw_if_due(config, status, now=now)
    if status is not None and status.state == "admitted":
        return _finish(redirect(start), config, ticket, status)
    replaced = ticket is None and waiting_room.ticket_cookie(campaign) in request.COOKIES
    return _queue_page(request, config, ticket=ticket, status=status, replaced=replaced)


@require_POST
def join(request: HttpRequest, campaign: str) -> HttpResponse:
    """POST from the queue page's script: a solved proof-of-work challenge buys one ticket,
    if this client address is still under its bound of places in this line. Then back to the
    queue page (303)."""
    config = _config_or_404(campaign)
    queue_url = reverse("campaigns:queue", kwargs={"campaign": campaign})
    now = timezone.now().timestamp()
    ticket, status = _ticket_and_status(request, config, now=now)
    if not config.enabled or now >= config.closes_at:
        return redirect(queue_url)
    if not waiting_room.needs_new_ticket(config, ticket, status, now=now):
        return redirect(queue_url)  # already in the line: keep the place
    address = throttle.client_address(request)
    if not waiting_room.address_has_room(config, address, now=now):
        return _too_many_tickets(request)
    # Checking a real challenge's answer costs the server a key derivation: wrong answers are
    # bounded per address. Junk that is not one of our challenges costs nothing to refuse, and
    # is not counted, so nobody can use it to lock out the people sharing their address.
    wrong_answers = throttle.per_address("queue-join-wrong")
    if wait := wrong_answers.retry_after(address):
        return throttle.too_many(request, wait)
    payload = str(request.POST.get("altcha", ""))[:8000]
    proof = waiting_room.check_proof_of_work(config, payload, now=now)
    if proof.result is not waiting_room.ProofOfWork.VALID:
        if proof.result is waiting_room.ProofOfWork.WRONG:
            wrong_answers.hit(address)
        return _queue_page(
            request, config, ticket=None, status=None, status_code=400, join_failed=True
        )
    arrived = min(proof.handed_out_at, now)  # solving it does not push anyone back
    if not waiting_room.take_address_place(config, address, arrived=arrived, now=now):
        return _too_many_tickets(request)
    ticket = waiting_room.issue_ticket(config, arrived=arrived, now=now)
    if ticket is None:  # every window closed meanwhile
        return redirect(queue_url)
    response = redirect(queue_url)
    response.status_code = 303
    waiting_room.set_ticket_cookie(response, config, ticket, now=now)
    response["Cache-Control"] = "no-store"
    return response


def _too_many_tickets(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "message.html",
        {
            "title": gettext("Too many places from this connection"),
            "message": gettext(
                "This internet connection has already taken as many places in this queue as one "
                "connection may. If you share it with many people (a mobile network or an "
                "office), try from another connection, or ask someone already in the queue: one "
                "admission books for a household."
            ),
        },
        status=429,
    )


def queue_status(request: HttpRequest, campaign: str) -> JsonResponse:
    """GET: the ticket's place as JSON, for the queue page to poll. Answered from the cache
    and cookies with no database query; issues the pass when the turn has come."""
    config = waiting_room.config_for(campaign)
    if config is None:
        return _json_policy(JsonResponse({"detail": gettext("No such campaign.")}, status=404))
    now = timezone.now().timestamp()
    ticket, status = _ticket_and_status(request, config, now=now)
    if ticket is None:
        return _json_policy(
            JsonResponse(
                {
                    "state": "no_ticket",
                    "queue": reverse("campaigns:queue", kwargs={"campaign": campaign}),
                },
                status=403,
            )
        )
    _start_draw_if_due(config, status, now=now)
    body = {
        "state": status.state,
        "position": status.position,
        "ahead": status.ahead,
        "wait_seconds": status.wait_seconds,
        "poll_after": status.poll_after,
        "wait_text": _wait_text(status),
    }
    if status.state == "admitted":
        body["next"] = reverse("bookings:start", kwargs={"campaign": campaign})
    if status.state == "expired":
        body["queue"] = reverse("campaigns:queue", kwargs={"campaign": campaign})
    return _json_policy(_finish(JsonResponse(body), config, ticket, status))


# A JSON answer loads nothing and is framed by nobody. Set here, constant, rather than built per
# response by the CSP middleware (which the lean handler of vaxbook.wsgi leaves out).
JSON_POLICY = "default-src 'none'; frame-ancestors 'none'"


def _json_policy(response: HttpResponse) -> HttpResponse:
    response["Content-Security-Policy"] = JSON_POLICY
    return response


def draw(request: HttpRequest, campaign: str) -> HttpResponse:
    """The published draws, one per opening: the seed and every early ticket's place, so
    anyone can recompute them (``python manage.py verify_draw``). 404 until an official
    publishes them."""
    published = get_object_or_404(Campaign, slug=campaign, draw_published=True)
    draws = list(published.draws.prefetch_related("entries").order_by("opens_at"))
    if not draws:
        raise Http404(gettext("No draw yet."))
    return render(request, "campaigns/draw.html", {"campaign": published, "draws": draws})


def _signup_session_key(campaign: Campaign) -> str:
    return f"window-signup:{campaign.slug}"


@never_cache
@require_http_methods(["GET", "POST"])
def window_signup(request: HttpRequest, campaign: str) -> HttpResponse:
    """Deliberately open (it books nothing): a phone and a birth date to be texted shortly
    before the booking window for that birth date opens. A valid form texts a one-time code
    and goes on to the page that takes it — the same answer whether or not this phone was
    signed up before. Limited per address and per phone (429)."""
    campaign = get_object_or_404(Campaign.objects.prefetch_related("windows"), slug=campaign)
    form = WindowSignupForm(request.POST or None)
    if request.method == "POST":
        address = throttle.client_address(request)
        if wait := throttle.per_address("window-signup").hit(address):
            return throttle.too_many(request, wait)
        if form.is_valid():
            phone = form.cleaned_data["phone"]
            if wait := throttle.per_person("window-signup").hit(f"phone:{phone}"):
                return throttle.too_many(request, wait)
            try:
                signup = window_signups.request_window_signup(
                    campaign,
                    phone=phone,
                    birth_date=form.cleaned_data["birth_date"],
                    language=translation.get_language(),
                    address=address,
                )
            except window_signups.SignupRefused as refusal:
                form.add_error("birth_date", ValidationError(refusal.message, code=refusal.code))
            except phone_codes.TooManyCodes as too_many:
                return throttle.too_many(request, too_many.retry_after)
            else:
                request.session[_signup_session_key(campaign)] = signup.pk
                response = redirect("campaigns:window-signup-code", campaign=campaign.slug)
                response.status_code = 303
                return response
    return render(
        request,
        "campaigns/window_signup.html",
        {"campaign": campaign, "form": form},
        status=400 if form.errors else 200,
    )


@never_cache
@require_http_methods(["GET", "POST"])
def window_signup_code(request: HttpRequest, campaign: str) -> HttpResponse:
    """Deliberately open (it books nothing): the one-time code texted by ``window_signup``,
    for the sign-up this browser session started. Only a right code makes the sign-up count.
    Limited per address and per phone (429); the code itself allows a few tries."""
    campaign = get_object_or_404(Campaign, slug=campaign)
    signup_id = request.session.get(_signup_session_key(campaign))
    signup = WindowSignup.objects.filter(pk=signup_id, campaign=campaign).first()
    if signup is None:
        return redirect("campaigns:window-signup", campaign=campaign.slug)
    form = WindowSignupCodeForm(request.POST or None)
    if request.method == "POST":
        if wait := throttle.per_address("window-signup-code").hit(throttle.client_address(request)):
            return throttle.too_many(request, wait)
        if wait := throttle.per_person("window-signup-code").hit(f"phone:{signup.phone}"):
            return throttle.too_many(request, wait)
        if form.is_valid():
            if window_signups.confirm_window_signup(signup, code=form.cleaned_data["code"]):
                del request.session[_signup_session_key(campaign)]
                return render(
                    request,
                    "campaigns/window_signup_code.html",
                    {"campaign": campaign, "done": True},
                )
            form.add_error(
                "code",
                ValidationError(
                    gettext("That code is not right, or no longer valid. Ask for a new one."),
                    code="wrong_code",
                ),
            )
    return render(
        request,
        "campaigns/window_signup_code.html",
        {"campaign": campaign, "form": form, "phone": mask_phone(signup.phone)},
        status=400 if form.errors else 200,
    )
