import io
from datetime import date

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from bookings.audit import AuditEvent, record
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
