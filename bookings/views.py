"""The citizen's booking pages. Each view that shows a booking form or accepts a booking write
is wrapped by ``booking_window_required`` (the steps of a booking, a rebook, a move: a move takes
a place); lookup, status, calendar and cancel are deliberately open."""

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

from bookings import calendar, doses, selectors, services, steps, throttle
from bookings.errors import (
    BookingRefused,
    NotCancellable,
    NotMovable,
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
from campaigns.windows import WindowState, booking_window_required, closed_response, window_state
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


def _slot_error(refusal: BookingRefused) -> ValidationError:
    """A refused time as the error of the choose form's ``slot`` field: its code is the
    refusal's reason where it has one (``full``, ``no_later_dose``, ``not_offered``…)."""
    return ValidationError(refusal.message, code=refusal.reason or refusal.code)


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


def _place_choice(request: HttpRequest) -> tuple[dict, list[str], Clinic | None, SlotChoiceForm]:
    """What the choose lists were asked for (region, clinic, day), the errors of that query,
    the clinic asked for, and the time form: the choose step's and the move's."""
    query = PlaceQueryForm(request.POST if request.method == "POST" else request.GET)
    choice = query.cleaned_data if query.is_valid() else {}
    errors = [] if query.is_valid() else [_("That choice is not valid; choose again.")]
    clinic = Clinic.objects.filter(code=choice["clinic"]).first() if choice.get("clinic") else None
    return (
        choice,
        errors,
        clinic,
        SlotChoiceForm(request.POST if request.method == "POST" else None),
    )


@never_cache
@require_http_methods(["GET", "POST"])
@booking_window_required
@steps.step_required(steps.CHOOSE)
def choose(request: HttpRequest, campaign: str) -> HttpResponse:
    """Step 2: region → clinic → day → time, with the places left shown. For a vaccine of
    several doses, the times of the later doses are found with the first (``bookings.doses``)
    and kept in the flow; a first time without them is refused here."""
    now = timezone.now()
    choice, errors, clinic, form = _place_choice(request)
    if request.method == "POST" and form.is_valid():
        try:
            _choose_slot(request, form.cleaned_data["slot"], clinic=clinic, now=now)
        except BookingRefused as refusal:
            form.add_error("slot", _slot_error(refusal))
        else:
            token = steps.token_for(request.flow, steps.REVIEW)
            return redirect(_url_with_token("bookings:review", campaign, token))
    errors.extend(e for errs in form.errors.values() for e in errs)
    context = _places_to_choose(
        request.campaign,
        region=clinic.region if clinic else choice.get("region") or "",
        clinic=clinic,
        day=choice.get("date"),
        now=now,
    )
    context.update(token=steps.token_for(request.flow, steps.CHOOSE), errors=errors, form=form)
    return render(request, "bookings/choose.html", context)


def _offered_first(campaign: Campaign, slot_id: int, *, clinic, now) -> Slot:
    """The slot chosen as the first (or only) appointment, if it can be: offered at this
    clinic in this campaign and not visibly full; else the refusal."""
    slot = places.offered_slot(campaign, slot_id=slot_id, clinic=clinic, now=now)
    if slot is None:
        raise SlotUnavailable(reason="not_offered")
    if slot.places_left <= 0:
        raise SlotUnavailable(reason="full")
    return slot


def _choose_slot(request: HttpRequest, slot_id: int, *, clinic, now) -> None:
    """Keep the chosen slot, and the times offered for the later doses, in the flow; or raise
    why it cannot be chosen (``SlotUnavailable``, ``no_later_dose`` among them)."""
    slot = _offered_first(request.campaign, slot_id, clinic=clinic, now=now)
    later: list[Slot] = []
    if doses.later_doses(request.campaign):
        found = doses.later_dose_slots(request.campaign, first=slot, now=now)
        if found is None:
            raise SlotUnavailable(reason="no_later_dose")
        later = found
    request.flow.slot_id = slot.pk
    request.flow.later_slot_ids = [s.pk for s in later]
    steps.save_flow(request, request.flow)


def _places_to_choose(campaign: Campaign, *, region: str, clinic, day, now) -> dict:
    """The lists of the choose page as far as the person has chosen: regions, then the
    region's clinics, the clinic's days, the day's times. A clinic chosen without a day opens
    on its first day with places, its times shown at once: one request fewer per booking, and
    another day is one link away."""
    context = {
        "campaign": campaign,
        "region": region,
        "clinic": clinic,
        "regions": places.regions_with_places(campaign, now=now),
    }
    if region:
        context["clinics"] = places.clinics_with_places(campaign, region=region, now=now)
    if clinic is not None:
        context["days"] = places.days_with_places(campaign, clinic=clinic, now=now)
        if day is None and context["days"]:
            day = context["days"][0]["date"]
    context["day"] = day
    if clinic is not None and day is not None and day >= timezone.localdate(now):
        context["slots"] = places.slots_on_day(campaign, clinic=clinic, day=day, now=now)
    return context


@never_cache
@require_http_methods(["GET", "POST"])
@booking_window_required
@steps.step_required(steps.REVIEW)
def review(request: HttpRequest, campaign: str) -> HttpResponse:
    """Step 3: review every appointment of the course and submit. Submitting creates a pending
    booking. When a later dose's time shown here was taken meanwhile, the new offer is shown
    with the refusal, to be submitted again."""
    flow = request.flow
    course = _flow_slots(request.campaign, flow)
    if course is None:
        messages.warning(request, steps.RESTART_MESSAGE)
        return redirect("bookings:start", campaign=campaign)
    error = None
    if request.method == "POST":
        try:
            booking = services.request_booking(
                request.campaign,
                identity=flow.identity,
                slot_id=course[0].pk,
                later_slot_ids=[slot.pk for slot in course[1:]] if len(course) > 1 else None,
                admission=request.admission_pass,
                language=translation.get_language(),
                verified_phone=flow.verified_phone or None,
            )
        except BookingRefused as refused:
            error = refused
            if isinstance(refused, SlotUnavailable) and refused.reason == "later_changed":
                course, error = _new_offer(request, course[0], refused)
        else:
            steps.finish_flow(request, flow, public_id=str(booking.public_id))
            return redirect("bookings:status", public_id=booking.public_id)
    offer_changed = isinstance(error, SlotUnavailable) and error.reason == "later_changed"
    return render(
        request,
        "bookings/review.html",
        {
            "campaign": request.campaign,
            "slot": course[0],
            "course": list(enumerate(course, start=1)) if len(course) > 1 else [],
            "identity": flow.identity,
            "token": steps.token_for(flow, steps.REVIEW),
            "choose_url": _url_with_token(
                "bookings:choose", campaign, steps.token_for(flow, steps.CHOOSE)
            ),
            "error": error,
            "slot_unavailable": isinstance(error, SlotUnavailable) and not offer_changed,
            # a later dose's time changed: the new one is shown, to be submitted again
            "may_submit": error is None or offer_changed,
        },
        status=409 if error else 200,
    )


def _flow_slots(campaign: Campaign, flow: steps.Flow) -> list[Slot] | None:
    """The slots the flow chose, first dose first (one query), or None when the first is not
    this campaign's (a session from another deploy, a slot deleted)."""
    ids = [flow.slot_id, *flow.later_slot_ids]
    by_id = Slot.objects.select_related("clinic").filter(campaign=campaign).in_bulk(ids)
    if flow.slot_id not in by_id:
        return None
    return [by_id[slot_id] for slot_id in ids if slot_id in by_id]


def _new_offer(
    request: HttpRequest, first: Slot, refused: SlotUnavailable
) -> tuple[list[Slot], SlotUnavailable]:
    """The later doses' times offered now, kept in the flow, with the refusal to show; when
    there is none any more, ``no_later_dose`` (the person chooses again)."""
    later = doses.later_dose_slots(request.campaign, first=first)
    if later is None:
        return [first], SlotUnavailable(reason="no_later_dose")
    request.flow.later_slot_ids = [slot.pk for slot in later]
    steps.save_flow(request, request.flow)
    return [first, *later], refused


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
    one); once confirmed, it says what to bring and offers a calendar file and printing. A
    course of several doses lists each appointment. A session that may manage the booking is
    offered to cancel it and, until the change deadline, to move it."""
    booking = selectors.booking_by_public_id(public_id)
    if booking is None:
        raise Http404("No such booking.")
    may_manage = steps.may_manage(request, str(booking.public_id))
    course = selectors.course_of(booking)
    context = {
        "booking": booking,
        "course": course if len(course) > 1 else [],
        "may_manage": may_manage,
        "may_cancel": False,
    }
    if may_manage:
        try:
            services.check_booking_cancellable(booking, course=course)
        except NotCancellable:
            pass
        else:
            context["may_cancel"] = True
        context.update(_move_offer(booking, course))
    if booking.status == Booking.Status.REJECTED and may_manage:
        context["alternatives"] = places.alternative_slots(booking.slot, now=timezone.now())
    return render(request, "bookings/status.html", context)


def _move_offer(booking: Booking, course: list[Booking]) -> dict:
    """What the status page says about moving: the deadline until which it may (``move_until``),
    or why it no longer may when that is the deadline (``move_refusal``)."""
    try:
        rows = services.check_booking_movable(booking, course=course)
    except NotMovable as refused:
        return {"move_refusal": refused if refused.reason == "deadline" else None}
    return {"move_until": booking.campaign.change_deadline(rows[0].slot.date)}


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
    form, listing the appointments of a course that would be cancelled (or says why it cannot
    be cancelled); POST cancels."""
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
        course = selectors.course_of(booking)
        cancelled = []
        try:
            cancelled = services.check_booking_cancellable(booking, course=course)
        except NotCancellable as refused:
            refusal = refused
        return render(
            request,
            "bookings/cancel.html",
            {
                "booking": booking,
                "refusal": refusal,
                "course": course if len(course) > 1 else [],
                "cancelled": cancelled if len(course) > 1 else [],
            },
        )
    try:
        services.cancel_booking(booking.pk)
    except BookingRefused as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, _("The booking is cancelled and its place is free again."))
    return redirect("bookings:status", public_id=booking.public_id)


# Moving a confirmed booking: choose the new time as when booking (region → clinic → day →
# time), review where every appointment goes, confirm. Guarded like the booking steps (a move
# takes a place), for a session that may manage the booking, limited like the other writes.


def _booking_to_move(request: HttpRequest, public_id) -> Booking | HttpResponse:
    """The booking to move, or the answer that stops the move: 404 for no such booking in
    this campaign, 403 for a session that may not manage it, the closed-window page when the
    person's own window is not open (staggered windows)."""
    booking = selectors.booking_by_public_id(public_id)
    if booking is None or booking.campaign_id != request.campaign.pk or not booking.is_first_dose:
        raise Http404("No such booking.")
    if not steps.may_manage(request, str(booking.public_id)):
        return _forbidden(
            request,
            _("Only a browser that made this booking or looked it up can change its time."),
        )
    state = window_state(request.campaign, birth_date=booking.birth_date)
    if state is not WindowState.OPEN:
        return closed_response(request, request.campaign, state, birth_date=booking.birth_date)
    return booking


def _move_limited(request: HttpRequest, booking: Booking | None) -> HttpResponse | None:
    """Count a move's write (per address; per person once the booking is known): the answer
    when over the limit, else None."""
    if booking is None:
        limit, key = throttle.per_address("move"), throttle.client_address(request)
    else:
        limit, key = throttle.per_person("move"), booking.rrn_hmac
    if wait := limit.hit(key):
        return throttle.too_many(request, wait)
    return None


def _guard_move(request: HttpRequest, public_id) -> Booking | HttpResponse:
    """What both move pages check first (``_booking_to_move``), a POST counted against the
    address before and the person after."""
    if request.method == "POST" and (limited := _move_limited(request, None)):
        return limited
    found = _booking_to_move(request, public_id)
    if isinstance(found, HttpResponse):
        return found
    if request.method == "POST" and (limited := _move_limited(request, found)):
        return limited
    return found


@never_cache
@require_http_methods(["GET", "POST"])
@booking_window_required
def move(request: HttpRequest, campaign: str, public_id) -> HttpResponse:
    """Move, step 1: choose the new time (region → clinic → day → time, as when booking). The
    choice is checked as the move will be (``services.plan_move``: the later doses' times
    found with it) and kept in the session for the review; a refusal is the form's error.
    After the change deadline, or once every dose is given, the page says so, with no form."""
    found = _guard_move(request, public_id)
    if isinstance(found, HttpResponse):
        return found
    booking = found
    now = timezone.now()
    try:
        services.check_booking_movable(booking, now=now)
    except NotMovable as refused:
        return _not_movable(request, booking, refused)
    choice, errors, clinic, form = _place_choice(request)
    if request.method == "POST" and form.is_valid():
        slot_id = form.cleaned_data["slot"]
        try:
            if (
                places.offered_slot(request.campaign, slot_id=slot_id, clinic=clinic, now=now)
                is None
            ):
                raise SlotUnavailable(reason="not_offered")
            plan = services.plan_move(booking, slot_id=slot_id, now=now)
        except NotMovable as refused:
            return _not_movable(request, booking, refused)
        except SlotUnavailable as refusal:
            form.add_error("slot", _slot_error(refusal))
        else:
            steps.choose_move(request, str(booking.public_id), _move_choice(plan))
            return redirect("bookings:move-review", campaign=campaign, public_id=booking.public_id)
    errors.extend(e for errs in form.errors.values() for e in errs)
    return _move_choose_page(
        request,
        booking,
        form=form,
        errors=errors,
        region=clinic.region if clinic else choice.get("region") or "",
        clinic=clinic,
        day=choice.get("date"),
        now=now,
    )


def _move_choice(plan: list[tuple[Booking, Slot]]) -> steps.MoveChoice:
    return steps.MoveChoice(slot_id=plan[0][1].pk, later_slot_ids=[slot.pk for _, slot in plan[1:]])


def _move_choose_page(
    request: HttpRequest, booking: Booking, *, form, errors=(), region="", clinic, day, now
) -> HttpResponse:
    context = _places_to_choose(request.campaign, region=region, clinic=clinic, day=day, now=now)
    context.update(
        booking=booking,
        course=_course_if_several(booking),
        form=form,
        errors=list(errors),
        action=reverse(
            "bookings:move",
            kwargs={"campaign": request.campaign.slug, "public_id": booking.public_id},
        ),
    )
    return render(request, "bookings/move.html", context)


def _course_if_several(booking: Booking) -> list[Booking]:
    course = selectors.course_of(booking)
    return course if len(course) > 1 else []


def _not_movable(request: HttpRequest, booking: Booking, refused: NotMovable) -> HttpResponse:
    """The move page without a form: why this booking cannot be moved (any more)."""
    return render(
        request,
        "bookings/move.html",
        {"booking": booking, "course": _course_if_several(booking), "refusal": refused},
        status=409 if request.method == "POST" else 200,
    )


@never_cache
@require_http_methods(["GET", "POST"])
@booking_window_required
def move_review(request: HttpRequest, campaign: str, public_id) -> HttpResponse:
    """Move, step 2: where every appointment goes (old and new time), then POST moves it
    (``services.move_booking``: the new places taken and the old freed at once, or nothing).
    The new time filled meanwhile: back to choosing, the booking as it was. A later dose's
    time taken meanwhile: the new offer, to confirm again."""
    found = _guard_move(request, public_id)
    if isinstance(found, HttpResponse):
        return found
    booking = found
    choice = steps.chosen_move(request, str(booking.public_id))
    if choice is None:
        return redirect("bookings:move", campaign=campaign, public_id=booking.public_id)
    now = timezone.now()
    error = None
    try:
        plan = services.plan_move(
            booking, slot_id=choice.slot_id, later_slot_ids=choice.later_slot_ids, now=now
        )
        if request.method == "POST":
            services.move_booking(
                booking.pk,
                slot_id=choice.slot_id,
                later_slot_ids=choice.later_slot_ids,
                admission=request.admission_pass,
                now=now,
            )
    except NotMovable as refused:
        return _not_movable(request, booking, refused)
    except SlotUnavailable as refused:
        answer = _offer_again(request, booking, choice, refused, now=now)
        if isinstance(answer, HttpResponse):
            return answer
        plan, error = answer, refused
    except BookingRefused as refused:  # the person's window, the admission pass
        return _forbidden(request, refused.message)
    else:
        if request.method == "POST":
            steps.forget_move(request, str(booking.public_id))
            messages.success(request, _("The appointment is changed to the new time."))
            return redirect("bookings:status", public_id=booking.public_id)
    return render(
        request,
        "bookings/move_review.html",
        {
            "booking": booking,
            "plan": plan,
            "error": error,
            "choose_url": reverse(
                "bookings:move", kwargs={"campaign": campaign, "public_id": booking.public_id}
            ),
        },
        status=409 if error else 200,
    )


def _offer_again(
    request: HttpRequest,
    booking: Booking,
    choice: steps.MoveChoice,
    refused: SlotUnavailable,
    *,
    now,
) -> list[tuple[Booking, Slot]] | HttpResponse:
    """After a refused new time: a later dose's time was taken (``later_changed``), so the
    plan with the times found now (kept for the next confirm); anything else, or no later time
    any more, back to choosing."""
    if refused.reason != "later_changed":
        return _back_to_choosing(request, booking, choice, refused, now=now)
    try:
        plan = services.plan_move(booking, slot_id=choice.slot_id, now=now)
    except SlotUnavailable as again:
        return _back_to_choosing(request, booking, choice, again, now=now)
    steps.choose_move(request, str(booking.public_id), _move_choice(plan))
    return plan


def _back_to_choosing(
    request: HttpRequest,
    booking: Booking,
    choice: steps.MoveChoice,
    refused: SlotUnavailable,
    *,
    now,
) -> HttpResponse:
    """The choose page of the move, at the day of the time refused, with the refusal as the
    form's error; the booking is as it was."""
    steps.forget_move(request, str(booking.public_id))
    slot = Slot.objects.select_related("clinic").filter(pk=choice.slot_id).first()
    form = SlotChoiceForm({"slot": choice.slot_id})
    form.is_valid()
    form.add_error("slot", _slot_error(refused))
    return _move_choose_page(
        request,
        booking,
        form=form,
        errors=[e for errs in form.errors.values() for e in errs],
        region=slot.clinic.region if slot else "",
        clinic=slot.clinic if slot else None,
        day=slot.date if slot else None,
        now=now,
    )
