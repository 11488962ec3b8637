"""Clinic staff's pages: their clinics, the day's list with check-in, the roster files. Each
page about one clinic reaches it through ``clinics.access.access_clinic``."""

import functools
from collections.abc import Callable
from datetime import date

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from bookings.errors import BookingRefused
from bookings.models import Booking
from bookings.services import check_in_booking
from clinics.access import NotYourClinic, access_clinic, clinics_for
from clinics.rosters import FORMATS, RosterExporter
from clinics.services import record_roster_export


@login_required
def staff_home(request: HttpRequest) -> HttpResponse:
    """The clinics this person works for, with a day picker for the roster."""
    return render(
        request,
        "clinics/staff_home.html",
        {"clinics": clinics_for(request.user), "today": timezone.localdate()},
    )


def clinic_required(view: Callable) -> Callable:
    """Behind login: the clinic of the ``code`` in the URL, if the person works there
    (``request.clinic``); a 403 page saying so if not, 404 if there is no such clinic."""

    @login_required
    @functools.wraps(view)
    def with_clinic(request: HttpRequest, code: str, *args, **kwargs) -> HttpResponse:
        try:
            request.clinic = access_clinic(request.user, code)
        except NotYourClinic as refused:
            return render(
                request,
                "message.html",
                {"title": "Not allowed", "message": str(refused)},
                status=403,
            )
        return view(request, code, *args, **kwargs)

    return with_clinic


@clinic_required
def clinic_day(request: HttpRequest, code: str) -> HttpResponse:
    """GET /staff/clinics/<code>/today/: today's bookings at one clinic, to check people in."""
    exporter = RosterExporter(request.clinic, timezone.localdate())
    return render(
        request,
        "clinics/day.html",
        {"clinic": request.clinic, "day": exporter.day, "bookings": exporter.bookings()},
    )


@require_POST
@clinic_required
def check_in(request: HttpRequest, code: str, booking_code: str) -> HttpResponse:
    """POST: the person with this booking has arrived at this clinic today."""
    booking = get_object_or_404(Booking, code=booking_code.upper(), slot__clinic=request.clinic)
    try:
        check_in_booking(booking.pk, by=request.user)
    except BookingRefused as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, f"{booking.code} checked in.")
    return redirect("clinics:day", code=code)


@clinic_required
def roster(request: HttpRequest, code: str, file_format: str) -> HttpResponse:
    """GET /staff/clinics/<code>/roster.<csv|xlsx>?date=YYYY-MM-DD: one clinic's day, as a file."""
    if file_format not in FORMATS:
        raise Http404("The roster comes as .csv or .xlsx.")
    raw_day = request.GET.get("date") or timezone.localdate().isoformat()
    try:
        day = date.fromisoformat(raw_day)
    except ValueError:
        raise Http404("Give the day as YYYY-MM-DD.") from None
    exporter = RosterExporter(request.clinic, day)
    body = FORMATS[file_format].render(exporter)
    record_roster_export(request.clinic, day, actor=request.user, file_format=file_format)
    response = HttpResponse(body, content_type=FORMATS[file_format].content_type)
    response["Content-Disposition"] = f'attachment; filename="{exporter.filename(file_format)}"'
    response["Cache-Control"] = "no-store"
    return response
