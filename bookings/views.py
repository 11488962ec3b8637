"""The citizen's booking pages. Each view that shows a booking form or accepts a booking write
is wrapped by ``booking_window_required``; lookup, status, calendar and cancel are deliberately
open."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from bookings import calendar, selectors, services, steps, throttle
from bookings.errors import (
    BookingRefused,
    NotCancellable,
    OutOfCohort,
    PassBeforeWindow,
    PassFull,
    SlotUnavailable,
)
from bookings.forms import (
    IdentityForm,
    LookupForm,
    PhoneCodeForm,
    PlaceQueryForm,
    RecoveryForm,
    SlotChoiceForm,
)
from bookings.identity import Identity, rrn_hmac
from bookings.models import Booking
from campaigns.models import Campaign
from campaigns.windows import booking_window_required
from clinics import selectors as places
from clinics.models import Clinic, Slot
from vaxbook.notifications import phone_codes


def _forbidden(request: HttpRequest, message: str) -> HttpResponse:
    return render(
        request, "message.html", {"title": _("Not allowed"), "message": message}, status=403
    )


def _url_with_token(name: str, campaign: str, token: str) -> str:
    return f"{reverse(name, kwargs={'campaign': campaign})}?t={token}"


def _refusal_error(refusal: BookingRefused) -> ValidationError:
    """A service's refusal as a form error that keeps its code."""
    return ValidationError(refusal.message, code=refusal.code)


@never_cache
@sensitive_post_parameters("rrn")
@require_http_methods(["GET", "POST"])
@booking_window_required
def start(request: HttpRequest, campaign: str) -> HttpResponse:
    """Step 1: identify the person to vaccinate."""
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
    other_campaign = None  # out of this cohort: the campaign that is for this person, if any
    if valid:
        rrn = form.cleaned_data["rrn"]
        try:
            services.check_booking_allowed(
                request.campaign, rrn=rrn, admission=request.admission_pass
            )
        except BookingRefused as refusal:
            field = None
            if isinstance(refusal, OutOfCohort):
                field, other_campaign = "rrn", refusal.other_campaign
            form.add_error(field, _refusal_error(refusal))
            if isinstance(refusal, PassFull | PassBeforeWindow):
                rejoin_url = reverse("campaigns:queue", kwargs={"campaign": campaign})
        else:
            identity = Identity(
                name=form.cleaned_data["name"],
                rrn=rrn,
                phone=form.cleaned_data["phone"],
                email=form.cleaned_data["email"],
            )
            return _identified(request, campaign, identity)
    return render(
        request,
        "bookings/identify.html",
        {
            "campaign": request.campaign,
            "form": form,
            "rejoin_url": rejoin_url,
            "other_campaign": other_campaign,
        },
    )


def _identified(request: HttpRequest, campaign: str, identity: Identity) -> HttpResponse:
    """The identity step passed: on to choosing, or first to the code texted to the phone
    where the campaign asks for it (nothing kept if it cannot be sent)."""
    if request.campaign.verify_phone:
        try:
            _send_phone_code(request, identity.phone)
        except phone_codes.TooManyCodes as limited:
            return throttle.too_many(request, limited.retry_after)
    flow = steps.start_flow(request, campaign=campaign, identity=identity)
    if request.campaign.verify_phone:
        token = steps.token_for(flow, steps.VERIFY_PHONE)
        return redirect(_url_with_token("bookings:verify-phone", campaign, token))
    return redirect(
        _url_with_token("bookings:choose", campaign, steps.token_for(flow, steps.CHOOSE))
    )


def _send_phone_code(request: HttpRequest, phone: str) -> None:
    phone_codes.issue_code(
        phone,
        phone_codes.Purpose.BOOKING,
        language=translation.get_language(),
        address=throttle.client_address(request),
    )


@never_cache
@require_http_methods(["GET", "POST"])
@booking_window_required
@steps.step_required(steps.VERIFY_PHONE)
def verify_phone(request: HttpRequest, campaign: str) -> HttpResponse:
    """Step 1, in a campaign that asks for it (``Campaign.verify_phone``): the code texted to
    the phone given, typed back; or a new code. The flow's phone is then proven, and it is the
    one the booking and its messages use. A wrong, expired or over-tried code goes no further.
    Tries are limited per address, per person and per phone."""
    flow = request.flow
    if flow.phone_verified:  # the back button after the code was right
        token = steps.token_for(flow, steps.CHOOSE)
        return redirect(_url_with_token("bookings:choose", campaign, token))
    resent = False
    form = PhoneCodeForm()
    if request.method == "POST":
        address = throttle.client_address(request)
        for limit, key in (
            (throttle.per_address("verify_phone"), address),
            (throttle.per_person("verify_phone"), rrn_hmac(flow.identity.rrn)),
            (throttle.per_person("verify_phone"), f"phone:{flow.phone}"),
        ):
            if wait := limit.hit(key):
                return throttle.too_many(request, wait)
        if request.POST.get("resend"):
            try:
                _send_phone_code(request, flow.phone)
            except phone_codes.TooManyCodes as limited:
                return throttle.too_many(request, limited.retry_after)
            resent = True
        else:
            form = PhoneCodeForm(request.POST)
            if form.is_valid():
                code = form.cleaned_data["code"]
                if phone_codes.check_code(flow.phone, phone_codes.Purpose.BOOKING, code):
                    flow.verified_phone = flow.phone
                    steps.save_flow(request, flow)
                    token = steps.token_for(flow, steps.CHOOSE)
                    return redirect(_url_with_token("bookings:choose", campaign, token))
                form.add_error(
                    "code",
                    ValidationError(
                        _(
                            "That code is not right, or it is no longer valid (too old or tried "
                            "too often). Check the text, or ask for a new code."
                        ),
                        code="wrong_code",
                    ),
                )
    return render(
        request,
        "bookings/verify_phone.html",
        {
            "campaign": request.campaign,
            "form": form,
            "phone": flow.phone,
            "minutes": max(settings.VAXBOOK_PHONE_CODE_TTL // 60, 1),
            "token": steps.token_for(flow, steps.VERIFY_PHONE),
            "resent": resent,
        },
    )


@never_cache
@require_http_methods(["GET", "POST"])
@booking_window_required
@steps.step_required(steps.CHOOSE)
def choose(request: HttpRequest, campaign: str) -> HttpResponse:
    """Step 2: region → clinic → day → time, with the places left shown."""
    now = timezone.now()
    query = PlaceQueryForm(request.POST if request.method == "POST" else request.GET)
    choice = query.cleaned_data if query.is_valid() else {}
    errors = [] if query.is_valid() else [_("That choice is not valid; choose again.")]
    clinic = Clinic.objects.filter(code=choice["clinic"]).first() if choice.get("clinic") else None
    if request.method == "POST":
        form = SlotChoiceForm(request.POST)
        if not form.is_valid():
            errors.extend(e for errs in form.errors.values() for e in errs)
        elif error := _choose_slot(request, form.cleaned_data["slot"], clinic=clinic, now=now):
            errors.append(error)
        else:
            token = steps.token_for(request.flow, steps.REVIEW)
            return redirect(_url_with_token("bookings:review", campaign, token))
    context = _places_to_choose(
        request.campaign,
        region=clinic.region if clinic else choice.get("region") or "",
        clinic=clinic,
        day=choice.get("date"),
        now=now,
    )
    context.update(token=steps.token_for(request.flow, steps.CHOOSE), errors=errors)
    return render(request, "bookings/choose.html", context)


def _choose_slot(request: HttpRequest, slot_id: int, *, clinic, now) -> str | None:
    """Keep the chosen slot in the flow; or why it cannot be chosen."""
    slot = places.offered_slot(request.campaign, slot_id=slot_id, clinic=clinic, now=now)
    if slot is None:
        return _("That time is not offered at this clinic in this campaign.")
    if slot.places_left <= 0:
        return _("That time is full. Choose another one.")
    request.flow.slot_id = slot.pk
    steps.save_flow(request, request.flow)
    return None


def _places_to_choose(campaign: Campaign, *, region: str, clinic, day, now) -> dict:
    """The lists of the choose page as far as the person has chosen: regions, then the
    region's clinics, the clinic's days, the day's times."""
    context = {
        "campaign": campaign,
        "region": region,
        "clinic": clinic,
        "day": day,
        "regions": places.regions_with_places(campaign, now=now),
    }
    if region:
        context["clinics"] = places.clinics_with_places(campaign, region=region, now=now)
    if clinic is not None:
        context["days"] = places.days_with_places(campaign, clinic=clinic, now=now)
    if clinic is not None and day is not None and day >= timezone.localdate(now):
        context["slots"] = places.slots_on_day(campaign, clinic=clinic, day=day, now=now)
    return context


@never_cache
@require_http_methods(["GET", "POST"])
@booking_window_required
@steps.step_required(steps.REVIEW)
def review(request: HttpRequest, campaign: str) -> HttpResponse:
    """Step 3: review and submit. Submitting creates a pending booking."""
    flow = request.flow
    slot = (
        Slot.objects.select_related("clinic")
        .filter(pk=flow.slot_id, campaign=request.campaign)
        .first()
    )
    if slot is None:
        messages.warning(request, steps.RESTART_MESSAGE)
        return redirect("bookings:start", campaign=campaign)
    error = None
    if request.method == "POST":
        try:
            booking = services.request_booking(
                request.campaign,
                identity=flow.identity,
                slot_id=slot.pk,
                admission=request.admission_pass,
                language=translation.get_language(),
                verified_phone=flow.verified_phone or None,
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
            "campaign": request.campaign,
            "slot": slot,
            "identity": flow.identity,
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
        return _forbidden(
            request, _("Only the browser session that made this booking can move it.")
        )
    form = SlotChoiceForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a time."))
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
    """Deliberately open: shows a booking to whoever holds its unguessable link; no form to book.
    While pending, a script follows the booking through the API (and a plain link does without
    one); once confirmed, it says what to bring and offers a calendar file and printing."""
    booking = selectors.booking_by_public_id(public_id)
    if booking is None:
        raise Http404("No such booking.")
    may_manage = steps.may_manage(request, str(booking.public_id))
    context = {"booking": booking, "may_manage": may_manage, "may_cancel": False}
    if may_manage:
        try:
            services.check_booking_cancellable(booking)
        except NotCancellable:
            pass
        else:
            context["may_cancel"] = True
    if booking.status == Booking.Status.REJECTED and may_manage:
        context["alternatives"] = places.alternative_slots(booking.slot, now=timezone.now())
    return render(request, "bookings/status.html", context)


def calendar_file(request: HttpRequest, public_id) -> HttpResponse:
    """Deliberately open, like the status page: a confirmed booking as an iCalendar file (the
    place, the time in Korea time, the vaccine and the booking code; nothing about the person).
    Any other booking has none (404)."""
    booking = selectors.booking_by_public_id(public_id)
    if booking is None or booking.status != Booking.Status.CONFIRMED:
        raise Http404("No confirmed booking.")
    response = HttpResponse(
        calendar.booking_event(booking), content_type="text/calendar; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="vaxbook-{booking.code}.ics"'
    return response


RECOVER = "recover"  # the lookup page's second form: the code texted, without the code


@never_cache
@sensitive_post_parameters("rrn", f"{RECOVER}-rrn")
@require_http_methods(["GET", "POST"])
def lookup(request: HttpRequest) -> HttpResponse:
    """Deliberately open: find a booking with its code and the registration number; or, without
    the code, have the codes texted to the phone they were made with (``_recover``)."""
    recovering = request.method == "POST" and request.POST.get("form") == RECOVER
    scope = RECOVER if recovering else "lookup"
    if request.method == "POST" and (
        wait := throttle.per_address(scope).hit(throttle.client_address(request))
    ):
        return throttle.too_many(request, wait)
    if recovering:
        return _recover(request)
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
        form.add_error(
            None, ValidationError(_("No booking matches this code and number."), code="no_match")
        )
    return _lookup_page(request, form=form, recovery=RecoveryForm(prefix=RECOVER))


def _recover(request: HttpRequest) -> HttpResponse:
    """The codes of the person's active bookings made with that phone go to that phone, by
    text; the page answers the same whether or not any booking matched (same status, same
    template, same fields: an empty form and "if a booking matches, a text is on its way"), so
    it tells nobody whether this person booked or with which phone. Limited per address (the
    caller), per person and per phone. What differs is time: a match also writes the message
    (a millisecond or two), which a handful of tries per person and phone per window leaves
    nobody enough samples to measure."""
    recovery = RecoveryForm(request.POST, prefix=RECOVER)
    if not recovery.is_valid():
        return _lookup_page(request, form=LookupForm(), recovery=recovery)
    rrn, phone = recovery.cleaned_data["rrn"], recovery.cleaned_data["phone"]
    for key in (rrn_hmac(rrn), f"phone:{phone}"):
        if wait := throttle.per_person(RECOVER).hit(key):
            return throttle.too_many(request, wait)
    services.send_booking_codes(rrn=rrn, phone=phone, language=translation.get_language())
    return _lookup_page(
        request, form=LookupForm(), recovery=RecoveryForm(prefix=RECOVER), recovery_sent=True
    )


def _lookup_page(
    request: HttpRequest, *, form: LookupForm, recovery: RecoveryForm, recovery_sent=False
) -> HttpResponse:
    return render(
        request,
        "bookings/lookup.html",
        {"form": form, "recovery": recovery, "recovery_sent": recovery_sent},
    )


@never_cache
@require_http_methods(["GET", "POST"])
def cancel(request: HttpRequest, public_id) -> HttpResponse:
    """Deliberately open (cancelling frees a place, it never takes one); needs a session that
    made the booking or proved the registration number. GET asks "are you sure?" with a plain
    form (or says why it cannot be cancelled); POST cancels."""
    if request.method == "POST" and (
        wait := throttle.per_address("cancel").hit(throttle.client_address(request))
    ):
        return throttle.too_many(request, wait)
    booking = selectors.booking_by_public_id(public_id)
    if booking is None:
        raise Http404("No such booking.")
    if not steps.may_manage(request, str(booking.public_id)):
        return _forbidden(
            request, _("Look the booking up with its code and registration number first.")
        )
    if request.method == "GET":
        refusal = None
        try:
            services.check_booking_cancellable(booking)
        except NotCancellable as refused:
            refusal = refused
        return render(request, "bookings/cancel.html", {"booking": booking, "refusal": refusal})
    try:
        services.cancel_booking(booking.pk)
    except BookingRefused as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, _("The booking is cancelled and its place is free again."))
    return redirect("bookings:status", public_id=booking.public_id)
