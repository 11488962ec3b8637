from datetime import date

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from bookings.errors import BookingRefused
from bookings.models import Booking
from bookings.services import check_in_booking, undo_check_in
from campaigns.models import Campaign
from clinics import selectors
from clinics.access import access_clinic
from clinics.models import Clinic
from clinics.rosters import FORMATS, RosterExporter
from clinics.services import record_roster_export


class AvailabilityQuery(serializers.Serializer):
    clinic = serializers.SlugField(max_length=40)
    date = serializers.DateField()


class SlotAvailabilitySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    date = serializers.DateField()
    start_time = serializers.TimeField(format="%H:%M")
    capacity = serializers.IntegerField()
    places_left = serializers.IntegerField(source="left")


class AvailabilityView(APIView):
    """GET /api/campaigns/<campaign>/availability/?clinic=CODE&date=YYYY-MM-DD (read-only).

    Places left are a hint read at this moment; the confirmation worker decides.
    """

    def get(self, request: Request, campaign: str) -> Response:
        campaign = get_object_or_404(Campaign, slug=campaign)
        query = AvailabilityQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        clinic = get_object_or_404(Clinic, code=query.validated_data["clinic"])
        day: date = query.validated_data["date"]
        slots = selectors.slots_on_day(campaign, clinic=clinic, day=day)
        return Response(
            {
                "campaign": campaign.slug,
                "clinic": clinic.code,
                "date": day.isoformat(),
                "slots": SlotAvailabilitySerializer(slots, many=True).data,
            }
        )


class RosterView(APIView):
    """GET /api/clinics/<code>/roster/?date=YYYY-MM-DD: a clinic's day, for its own staff, as
    JSON; with ``&file=csv`` or ``&file=xlsx`` as the same file the staff pages give."""

    permission_classes = [IsAuthenticated]

    def get(self, request: Request, code: str) -> Response | HttpResponse:
        clinic = access_clinic(request.user, code)
        query = RosterQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        exporter = RosterExporter(clinic, query.validated_data["date"])
        file_format = query.validated_data.get("file", "json")
        record_roster_export(clinic, exporter.day, actor=request.user, file_format=file_format)
        if file_format in FORMATS:
            response = HttpResponse(
                FORMATS[file_format].render(exporter),
                content_type=FORMATS[file_format].content_type,
            )
            response["Content-Disposition"] = (
                f'attachment; filename="{exporter.filename(file_format)}"'
            )
            return response
        return Response(
            {
                "clinic": clinic.code,
                "date": exporter.day.isoformat(),
                "bookings": [
                    dict(zip(ROSTER_KEYS, row, strict=True))
                    for row in exporter.iter_rows(labels=False)
                ],
            }
        )


class CheckInView(APIView):
    """/api/clinics/<code>/bookings/<booking code>/check-in/: POST, the person has arrived;
    DELETE, that check-in was a mistake (on the appointment's day only). Both answer the
    booking's code, its ``dose``, ``checked_in_at`` (null once undone) and ``next_dose``: the
    course's following appointment that stays booked (its ``dose``, ``code`` and ``starts_at``),
    or null; or 409 with the refusal's ``code`` and ``reason``."""

    permission_classes = [IsAuthenticated]

    def post(self, request: Request, code: str, booking_code: str) -> Response:
        return self._change(request, code, booking_code, check_in_booking)

    def delete(self, request: Request, code: str, booking_code: str) -> Response:
        return self._change(request, code, booking_code, undo_check_in)

    def _change(self, request: Request, code: str, booking_code: str, service) -> Response:
        clinic = access_clinic(request.user, code)
        booking = get_object_or_404(Booking, code=booking_code.upper(), slot__clinic=clinic)
        try:
            booking = service(booking.pk, by=request.user)
        except BookingRefused as refused:
            body = {"detail": refused.message, "code": refused.code, "reason": refused.reason}
            return Response(body, status=409)
        following = selectors.next_dose(booking)
        return Response(
            {
                "code": booking.code,
                "dose": booking.dose,
                "checked_in_at": booking.checked_in_at,
                "next_dose": None
                if following is None
                else {
                    "dose": following.dose,
                    "code": following.code,
                    "starts_at": following.slot.starts_at,
                },
            }
        )


class RosterQuery(serializers.Serializer):
    date = serializers.DateField()
    # "file", not "format": DRF reads ?format= to choose its renderer.
    file = serializers.ChoiceField(choices=["json", *FORMATS], required=False)


ROSTER_KEYS = ("time", "code", "name", "birth_date", "rrn", "phone", "status", "dose")
