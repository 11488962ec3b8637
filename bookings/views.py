"""The citizen's booking pages. Each view that shows a booking form or accepts a booking write
is wrapped by ``booking_window_required``; lookup, status and cancel are deliberately open."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from bookings import selectors, services, steps, throttle
from bookings.errors import (
    AlreadyBooked,
    BookingRefused,
    OutOfCohort,
    SlotUnavailable,
    WindowClosed,
)
from bookings.forms import IdentityForm, LookupForm, PlaceQueryForm, SlotChoiceForm
from bookings.identity import Identity, rrn_hmac
from bookings.models import Booking
from campaigns.windows import (
    WindowState,
    booking_window_required,
    closed_message,
    closed_response,
    window_state,
)
from clinics import selectors as places
from clinics.models import Clinic, Slot

RESTART_MESSAGE = "Your booking session expired or the link is not valid. Please start again."


def _restart(request: HttpRequest, campaign: str) -> HttpResponse:
    messages.warning(request, RESTART_MESSAGE)
    return redirect("bookings:start", campaign=campaign)


def _forbidden(request: HttpRequest, message: str) -> HttpResponse:
    return render(request, "message.html", {"title": "Not allowed", "message": message}, status=403)


def _outside_persons_window(request: HttpRequest, flow: steps.Flow) -> HttpResponse | None:
    """The guard let the request in because some window is open; the person's own window
    (staggered windows) must be open too, at every step."""
    born = flow.identity.rrn.birth_date
    state = window_state(request.campaign, birth_date=born)
    if state is WindowState.OPEN:
        return None
    return closed_response(request, request.campaign, state, birth_date=born)


def _refusal_error(refusal: BookingRefused) -> ValidationError:
    """A service's refusal as a form error that keeps its code."""
    return ValidationError(refusal.message, code=refusal.code)


def _pass_refusal(request: HttpRequest, rrn) -> BookingRefused | None:
    """With the waiting room on: bind this person to the request's admission pass, or the
    reason the pass cannot book for them."""
    if request.admission_pass is None:
        return None
    try:
        services.bind_pass_to_person(request.campaign, admission=request.admission_pass, rrn=rrn)
    except BookingRefused as refused:
        return refused
    return None


def _url_with_token(name: str, campaign: str, token: str) -> str:
    return f"{reverse(name, kwargs={'campaign': campaign})}?t={token}"


@never_cache
@sensitive_post_parameters("rrn")
@require_http_methods(["GET", "POST"])
@booking_window_required
def start(request: HttpRequest, campaign: str) -> HttpResponse:
    """Step 1: identify the person to vaccinate."""
    the_campaign = request.campaign
    if request.method == "POST" and (
        wait := throttle.per_address("identify").hit(throttle.client_address(request))
    ):
        return throttle.too_many(request, wait)
    form = IdentityForm(request.POST or None)
    valid = request.method == "POST" and form.is_valid()
    person = form.cleaned_data.get("rrn") if form.is_bound else None
    # every try for a person counts, whether or not the rest of the form was right
    if person and (wait := throttle.per_person("identify").hit(rrn_hmac(person))):
        return throttle.too_many(request, wait)
    rejoin_url = ""  # when the admission pass cannot book this person: a new place in line
    if valid:
        rrn = form.cleaned_data["rrn"]
        person_state = window_state(the_campaign, birth_date=rrn.birth_date)
        if not the_campaign.covers_birth_date(rrn.birth_date):
            form.add_error("rrn", _refusal_error(OutOfCohort(the_campaign)))
        elif person_state is not WindowState.OPEN:
            message = closed_message(the_campaign, person_state, birth_date=rrn.birth_date)
            form.add_error(None, _refusal_error(WindowClosed(message)))
        elif refusal := _pass_refusal(request, rrn):
            form.add_error(None, _refusal_error(refusal))
            rejoin_url = reverse("campaigns:queue", kwargs={"campaign": campaign})
        elif selectors.has_active_booking(the_campaign, rrn=rrn):
            form.add_error(None, _refusal_error(AlreadyBooked()))
        else:
            flow = steps.start_flow(
                request,
                campaign=campaign,
                identity=Identity(
                    name=form.cleaned_data["name"], rrn=rrn, phone=form.cleaned_data["phone"]
                ),
            )
            return redirect(
                _url_with_token("bookings:choose", campaign, steps.token_for(flow, steps.CHOOSE))
            )
    return render(
        request,
        "bookings/identify.html",
        {"campaign": the_campaign, "form": form, "rejoin_url": rejoin_url},
    )


@never_cache
@require_http_methods(["GET", "POST"])
@booking_window_required
def choose(request: HttpRequest, campaign: str) -> HttpResponse:
    """Step 2: region → clinic → day → time, with the places left shown."""
    the_campaign = request.campaign
    flow = steps.flow_for_step(request, campaign=campaign, step=steps.CHOOSE)
    if flow is None:
        return _restart(request, campaign)
    if refusal := _outside_persons_window(request, flow):
        return refusal
    now = timezone.now()
    today = timezone.localdate(now)
    token = steps.token_for(flow, steps.CHOOSE)
    query = PlaceQueryForm(request.POST if request.method == "POST" else request.GET)
    errors: list[str] = []
    if not query.is_valid():
        errors.append("That choice is not valid; choose again.")
    choice = query.cleaned_data if query.is_valid() else {}
    region = choice.get("region") or ""
    clinic = Clinic.objects.filter(code=choice["clinic"]).first() if choice.get("clinic") else None
    day = choice.get("date")
    if clinic is not None:
        region = clinic.region

    if request.method == "POST":
        form = SlotChoiceForm(request.POST)
        if form.is_valid():
            slot = (
                places.bookable_slots(the_campaign, now=now)
                .filter(pk=form.cleaned_data["slot"])
                .first()
            )
            if slot is None or (clinic is not None and slot.clinic_id != clinic.pk):
                errors.append("That time is not offered at this clinic in this campaign.")
            elif slot.places_left <= 0:
                errors.append("That time is full. Choose another one.")
            else:
                flow.slot_id = slot.pk
                steps.save_flow(request, flow)
                return redirect(
                    _url_with_token(
                        "bookings:review", campaign, steps.token_for(flow, steps.REVIEW)
                    )
                )
        else:
            errors.extend(e for errs in form.errors.values() for e in errs)

    context = {
        "campaign": the_campaign,
        "token": token,
        "region": region,
        "clinic": clinic,
        "day": day,
    }
    context["errors"] = errors
    context["regions"] = places.regions_with_places(the_campaign, now=now)
    if region:
        context["clinics"] = places.clinics_with_places(the_campaign, region=region, now=now)
    if clinic is not None:
        context["days"] = places.days_with_places(the_campaign, clinic=clinic, now=now)
    if clinic is not None and day is not None and day >= today:
        context["slots"] = places.slots_on_day(the_campaign, clinic=clinic, day=day, now=now)
    return render(request, "bookings/choose.html", context)


@never_cache
@require_http_methods(["GET", "POST"])
@booking_window_required
def review(request: HttpRequest, campaign: str) -> HttpResponse:
    """Step 3: review and submit. Submitting creates a pending booking."""
    the_campaign = request.campaign
    flow = steps.flow_for_step(request, campaign=campaign, step=steps.REVIEW)
    if flow is None:
        already = steps.submitted_booking_for_token(request, campaign=campaign)
        if already:  # a double submit: show the booking the first submit made
            return redirect("bookings:status", public_id=already)
        return _restart(request, campaign)
    if refusal := _outside_persons_window(request, flow):
        return refusal
    slot = (
        Slot.objects.select_related("clinic").filter(pk=flow.slot_id, campaign=the_campaign).first()
    )
    if slot is None:
        return _restart(request, campaign)
    identity = flow.identity
    error = None
    if request.method == "POST":
        try:
            booking = services.request_booking(
                the_campaign,
                identity=identity,
                slot_id=slot.pk,
                admission=request.admission_pass,
            )
        except BookingRefused as refused:
            error = refused
        else:
            steps.finish_flow(request, flow, public_id=str(booking.public_id))
            return redirect("bookings:status", public_id=booking.public_id)
    return render(
        request,
        "bookings/review.html",
        {
            "campaign": the_campaign,
            "slot": slot,
            "identity": identity,
            "token": steps.token_for(flow, steps.REVIEW),
            "choose_url": _url_with_token(
                "bookings:choose", campaign, steps.token_for(flow, steps.CHOOSE)
            ),
            "error": error,
            "slot_unavailable": isinstance(error, SlotUnavailable),
        },
        status=409 if error else 200,
    )


@require_POST
@booking_window_required
def rebook(request: HttpRequest, campaign: str, public_id) -> HttpResponse:
    """From a rejected booking's page: request one of the offered slots instead."""
    booking = selectors.booking_by_public_id(public_id)
    if booking is None or booking.campaign_id != request.campaign.pk:
        raise Http404("No such booking.")
    if not steps.may_manage(request, str(booking.public_id)):
        return _forbidden(request, "Only the browser session that made this booking can move it.")
    form = SlotChoiceForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a time.")
        return redirect("bookings:status", public_id=booking.public_id)
    try:
        new = services.rebook(
            booking, slot_id=form.cleaned_data["slot"], admission=request.admission_pass
        )
    except BookingRefused as refused:
        messages.error(request, refused.message)
        return redirect("bookings:status", public_id=booking.public_id)
    steps.remember_booking(request, str(new.public_id))
    return redirect("bookings:status", public_id=new.public_id)


@never_cache
def status(request: HttpRequest, public_id) -> HttpResponse:
    """Deliberately open: shows a booking to whoever holds its unguessable link; no form to book."""
    booking = selectors.booking_by_public_id(public_id)
    if booking is None:
        raise Http404("No such booking.")
    context = {"booking": booking, "may_manage": steps.may_manage(request, str(booking.public_id))}
    if booking.status == Booking.Status.REJECTED and context["may_manage"]:
        context["alternatives"] = places.alternative_slots(booking.slot, now=timezone.now())
    return render(request, "bookings/status.html", context)


@never_cache
@sensitive_post_parameters("rrn")
@require_http_methods(["GET", "POST"])
def lookup(request: HttpRequest) -> HttpResponse:
    """Deliberately open: find a booking with its code and the registration number."""
    if request.method == "POST" and (
        wait := throttle.per_address("lookup").hit(throttle.client_address(request))
    ):
        return throttle.too_many(request, wait)
    form = LookupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        rrn, phone = form.cleaned_data["rrn"], form.cleaned_data["phone"]
        person = rrn_hmac(rrn) if rrn else f"phone:{phone}"
        if wait := throttle.per_person("lookup").hit(person):
            return throttle.too_many(request, wait)
        booking = selectors.booking_for_person(code=form.cleaned_data["code"], rrn=rrn, phone=phone)
        if booking is not None:
            steps.remember_booking(request, str(booking.public_id))
            return redirect("bookings:status", public_id=booking.public_id)
        form.add_error(None, "No booking matches this code and number.")
    return render(request, "bookings/lookup.html", {"form": form})


@require_POST
def cancel(request: HttpRequest, public_id) -> HttpResponse:
    """Deliberately open (cancelling frees a place, it never takes one); needs a session that
    made the booking or proved the registration number."""
    if wait := throttle.per_address("cancel").hit(throttle.client_address(request)):
        return throttle.too_many(request, wait)
    booking = selectors.booking_by_public_id(public_id)
    if booking is None:
        raise Http404("No such booking.")
    if not steps.may_manage(request, str(booking.public_id)):
        return _forbidden(
            request, "Look the booking up with its code and registration number first."
        )
    try:
        services.cancel_booking(booking.pk)
    except BookingRefused as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, "The booking is cancelled and its place is free again.")
    return redirect("bookings:status", public_id=booking.public_id)
