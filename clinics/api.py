from datetime import date

from django.shortcuts import get_object_or_404
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.models import Campaign
from clinics import selectors
from clinics.models import Clinic


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
