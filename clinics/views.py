import io
from datetime import date

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from bookings.audit import AuditEvent, record
from bookings.errors import BookingRefused
from bookings.models import Booking
from bookings.services import check_in_booking
from clinics.access import clinics_for, may_export_roster
from clinics.models import Clinic
from clinics.rosters import RosterExporter, write_csv


@login_required
def staff_home(request: HttpRequest) -> HttpResponse:
    """The clinics this person works for, with a day picker for the roster."""
    return render(
        request,
        "clinics/staff_home.html",
        {"clinics": clinics_for(request.user), "today": timezone.localdate()},
    )


def _not_your_clinic(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "message.html",
        {"title": "Not allowed", "message": "You can only see the rosters of your own clinic."},
        status=403,
    )


@login_required
def clinic_day(request: HttpRequest, code: str) -> HttpResponse:
    """GET /staff/clinics/<code>/today/: today's bookings at one clinic, to check people in."""
    clinic = get_object_or_404(Clinic, code=code)
    if not may_export_roster(request.user, clinic):
        return _not_your_clinic(request)
    exporter = RosterExporter(clinic, timezone.localdate())
    return render(
        request,
        "clinics/day.html",
        {"clinic": clinic, "day": exporter.day, "bookings": exporter.bookings()},
    )


@login_required
@require_POST
def check_in(request: HttpRequest, code: str, booking_code: str) -> HttpResponse:
    """POST: the person with this booking has arrived at this clinic today."""
    clinic = get_object_or_404(Clinic, code=code)
    if not may_export_roster(request.user, clinic):
        return _not_your_clinic(request)
    booking = get_object_or_404(Booking, code=booking_code.upper(), slot__clinic=clinic)
    try:
        check_in_booking(booking.pk, by=request.user)
    except BookingRefused as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, f"{booking.code} checked in.")
    return redirect("clinics:day", code=clinic.code)


@login_required
def roster_csv(request: HttpRequest, code: str) -> HttpResponse:
    """GET /staff/clinics/<code>/roster.csv?date=YYYY-MM-DD: the day's roster of one clinic."""
    clinic = get_object_or_404(Clinic, code=code)
    if not may_export_roster(request.user, clinic):
        return render(
            request,
            "message.html",
            {
                "title": "Not allowed",
                "message": "You can only export the rosters of your own clinic.",
            },
            status=403,
        )
    raw_day = request.GET.get("date") or timezone.localdate().isoformat()
    try:
        day = date.fromisoformat(raw_day)
    except ValueError:
        raise Http404("Give the day as YYYY-MM-DD.") from None
    exporter = RosterExporter(clinic, day)
    buffer = io.StringIO()
    write_csv(exporter, buffer)
    record(
        AuditEvent.Action.ROSTER_EXPORTED,
        actor=request.user,
        obj_type="clinics.clinic",
        obj_id=clinic.pk,
        details={"clinic": clinic.code, "date": day, "format": "csv"},
    )
    response = HttpResponse(
        buffer.getvalue().encode("utf-8"), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{exporter.filename}"'
    response["Cache-Control"] = "no-store"
    return response
