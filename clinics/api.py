from datetime import date

from django.shortcuts import get_object_or_404
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from bookings.audit import AuditEvent, record
from bookings.errors import BookingRefused
from bookings.models import Booking
from bookings.services import check_in_booking
from campaigns.models import Campaign
from clinics import selectors
from clinics.access import may_export_roster
from clinics.models import Clinic
from clinics.rosters import RosterExporter


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
        the_campaign = get_object_or_404(Campaign, slug=campaign)
        query = AvailabilityQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        clinic = get_object_or_404(Clinic, code=query.validated_data["clinic"])
        day: date = query.validated_data["date"]
        slots = selectors.slots_on_day(the_campaign, clinic=clinic, day=day)
        return Response(
            {
                "campaign": the_campaign.slug,
                "clinic": clinic.code,
                "date": day.isoformat(),
                "slots": SlotAvailabilitySerializer(slots, many=True).data,
            }
        )


class RosterView(APIView):
    """GET /api/clinics/<code>/roster/?date=YYYY-MM-DD: a clinic's day, for its own staff."""

    permission_classes = [IsAuthenticated]

    def get(self, request: Request, code: str) -> Response:
        clinic = get_object_or_404(Clinic, code=code)
        if not may_export_roster(request.user, clinic):
            raise PermissionDenied("You can only read the rosters of your own clinic.")
        query = RosterQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        exporter = RosterExporter(clinic, query.validated_data["date"])
        record(
            AuditEvent.Action.ROSTER_EXPORTED,
            actor=request.user,
            obj_type="clinics.clinic",
            obj_id=clinic.pk,
            details={"clinic": clinic.code, "date": exporter.day, "format": "json"},
        )
        return Response(
            {
                "clinic": clinic.code,
                "date": exporter.day.isoformat(),
                "bookings": [
                    dict(zip(ROSTER_KEYS, row, strict=True)) for row in exporter.iter_rows()
                ],
            }
        )


class CheckInView(APIView):
    """POST /api/clinics/<code>/bookings/<booking code>/check-in/: the person has arrived."""

    permission_classes = [IsAuthenticated]

    def post(self, request: Request, code: str, booking_code: str) -> Response:
        clinic = get_object_or_404(Clinic, code=code)
        if not may_export_roster(request.user, clinic):
            raise PermissionDenied("You can only check people in at your own clinic.")
        booking = get_object_or_404(Booking, code=booking_code.upper(), slot__clinic=clinic)
        try:
            booking = check_in_booking(booking.pk, by=request.user)
        except BookingRefused as refused:
            return Response({"detail": refused.message}, status=409)
        return Response({"code": booking.code, "checked_in_at": booking.checked_in_at})


class RosterQuery(serializers.Serializer):
    date = serializers.DateField()


ROSTER_KEYS = ("time", "code", "name", "birth_date", "rrn", "phone", "status")
