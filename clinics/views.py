"""Clinic staff's pages: their clinics, a clinic's day with check-in (and its undo), the roster
files. Each page about one clinic reaches it through ``clinics.access.access_clinic``."""

import functools
from collections.abc import Callable
from datetime import date, timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from bookings.errors import BookingRefused
from bookings.models import Booking
from bookings.services import check_in_booking, undo_check_in
from clinics import selectors
from clinics.access import NotYourClinic, access_clinic, clinics_for
from clinics.rosters import FORMATS, RosterExporter
from clinics.services import record_roster_export
from vaxbook.dates import format_slot


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
                {"title": gettext("Not allowed"), "message": str(refused)},
                status=403,
            )
        return view(request, code, *args, **kwargs)

    return with_clinic


def _day_asked(raw: str) -> date | None:
    """The day of ``?date=YYYY-MM-DD``; today (Korea time) when none is given; None when what
    is given is not a date."""
    if not raw:
        return timezone.localdate()
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return None


@clinic_required
def clinic_day(request: HttpRequest, code: str) -> HttpResponse:
    """GET /staff/clinics/<code>/today/?date=YYYY-MM-DD&q=…: one day of bookings at one clinic
    (today by default), with the day's totals, a search by name or booking code, and on the
    day itself check-in and its undo. A date that is not one gets the page back with a 400
    saying so and the date picker."""
    today = timezone.localdate()
    raw_day = request.GET.get("date", "").strip()
    day = _day_asked(raw_day)
    context = {"clinic": request.clinic, "today": today}
    if day is None:
        return render(request, "clinics/day.html", {**context, "bad_date": raw_day}, status=400)
    search = request.GET.get("q", "").strip()[:100]
    return render(
        request,
        "clinics/day.html",
        {
            **context,
            "day": day,
            "is_today": day == today,
            # None at the ends of the calendar (?date=9999-12-31 is a date too)
            "previous_day": day - timedelta(days=1) if day > date.min else None,
            "next_day": day + timedelta(days=1) if day < date.max else None,
            "search": search,
            "bookings": selectors.day_bookings(request.clinic, day, search=search),
            "totals": selectors.day_totals(request.clinic, day),
        },
    )


def _back_to_day(request: HttpRequest, code: str) -> HttpResponse:
    """Back to today's list, with the search that was on it."""
    url = reverse("clinics:day", kwargs={"code": code})
    search = request.POST.get("q", "").strip()[:100]
    return redirect(f"{url}?{urlencode({'q': search})}" if search else url)


def _change_check_in(request: HttpRequest, code: str, booking_code: str, service, said: str):
    """Run ``service`` (check in, or undo it) on this clinic's booking; back to the day's list
    with what happened, or why not. Returns the booking as the service left it (None when
    refused) with the response."""
    booking = get_object_or_404(Booking, code=booking_code.upper(), slot__clinic=request.clinic)
    try:
        booking = service(booking.pk, by=request.user)
    except BookingRefused as refused:
        messages.error(request, refused.message)
        booking = None
    else:
        messages.success(request, said % {"name": booking.name, "code": booking.code})
    return booking, _back_to_day(request, code)


def _tell_next_dose(request: HttpRequest, booking: Booking) -> None:
    """After a dose is given: the next dose of the course stays booked, and when, so the staff
    member can say so to the person before they leave (the moment is also in the message's
    ``data-next-dose``, ISO 8601, for scripts and tests)."""
    following = selectors.next_dose(booking)
    if following is None:
        return
    starts_at = following.slot.starts_at.isoformat()
    when = format_html(
        '<time datetime="{}" data-next-dose="{}">{}</time>',
        starts_at,
        starts_at,
        format_slot(following.slot.date, following.slot.start_time),
    )
    text = gettext("Dose %(dose)d stays booked at this clinic: %(when)s (booking code %(code)s).")
    # The text is escaped first, then the pieces go in: only the <time> element is markup.
    html = conditional_escape(text) % {
        "dose": following.dose,
        "when": when,
        "code": conditional_escape(following.code),
    }
    messages.info(request, mark_safe(html), extra_tags="next-dose")  # noqa: S308


@require_POST
@clinic_required
def check_in(request: HttpRequest, code: str, booking_code: str) -> HttpResponse:
    """POST: the person with this booking has arrived at this clinic today. For a dose that
    another follows, the staff member is told when that one stays booked."""
    said = gettext("%(name)s (%(code)s) has been checked in.")
    booking, response = _change_check_in(request, code, booking_code, check_in_booking, said)
    if booking is not None and booking.checked_in_at is not None:
        _tell_next_dose(request, booking)
    return response


@require_POST
@clinic_required
def undo_check_in_view(request: HttpRequest, code: str, booking_code: str) -> HttpResponse:
    """POST: take back today's check-in of this booking (the wrong row was tapped)."""
    said = gettext("The check-in of %(name)s (%(code)s) has been undone.")
    return _change_check_in(request, code, booking_code, undo_check_in, said)[1]


@clinic_required
def roster(request: HttpRequest, code: str, file_format: str) -> HttpResponse:
    """GET /staff/clinics/<code>/roster.<csv|xlsx>?date=YYYY-MM-DD: one clinic's day, as a file."""
    if file_format not in FORMATS:
        raise Http404(gettext("The roster comes as .csv or .xlsx."))
    day = _day_asked(request.GET.get("date", "").strip())
    if day is None:
        raise Http404(gettext("Give the day as YYYY-MM-DD."))
    exporter = RosterExporter(request.clinic, day)
    body = FORMATS[file_format].render(exporter)
    record_roster_export(request.clinic, day, actor=request.user, file_format=file_format)
    response = HttpResponse(body, content_type=FORMATS[file_format].content_type)
    response["Content-Disposition"] = f'attachment; filename="{exporter.filename(file_format)}"'
    response["Cache-Control"] = "no-store"
    return response
