"""The booking API (DRF): the same services and the same window rule as the pages."""

from django.utils import translation
from django.utils.translation import gettext
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from bookings import selectors, services, throttle
from bookings.errors import (
    AlreadyBooked,
    BookingRefused,
    PassBeforeWindow,
    PassFull,
    PhoneNotVerified,
)
from bookings.identity import (
    Identity,
    IdentityError,
    Rrn,
    normalise_name,
    normalise_phone,
    parse_rrn,
    rrn_hmac,
)
from bookings.models import Booking


def _checked(parse, value):
    try:
        return parse(value)
    except IdentityError as exc:
        raise serializers.ValidationError(str(exc)) from None


class BookingRequestSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, trim_whitespace=False)
    rrn = serializers.CharField(max_length=40)
    phone = serializers.CharField(max_length=40)
    slot = serializers.IntegerField(min_value=1)

    def validate_name(self, value):
        return _checked(normalise_name, value)

    def validate_rrn(self, value):
        return _checked(parse_rrn, value)

    def validate_phone(self, value):
        return _checked(normalise_phone, value)


class BookingStatusSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    campaign = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    clinic = serializers.CharField(source="slot.clinic.name")
    clinic_code = serializers.CharField(source="slot.clinic.code")
    address = serializers.CharField(source="slot.clinic.address")
    date = serializers.DateField(source="slot.date")
    start_time = serializers.TimeField(source="slot.start_time", format="%H:%M")
    rrn = serializers.CharField(source="rrn_masked")

    class Meta:
        model = Booking
        fields = [
            "id",
            "campaign",
            "status",
            "code",
            "reject_reason",
            "clinic",
            "clinic_code",
            "address",
            "date",
            "start_time",
            "rrn",
            "requested_at",
            "decided_at",
        ]


def _parsed_rrn(data) -> Rrn | None:
    raw = data.get("rrn") if isinstance(data, dict) else None
    try:
        return parse_rrn(raw) if isinstance(raw, str) else None
    except IdentityError:
        return None


def _too_many(wait: int) -> Response:
    return Response(
        {
            "detail": gettext("Too many tries. Try again in %(seconds)d seconds.")
            % {"seconds": wait},
            "retry_after": wait,
        },
        status=status.HTTP_429_TOO_MANY_REQUESTS,
        headers={"Retry-After": str(wait)},
    )


class BookingCreateView(APIView):
    """POST /api/campaigns/<campaign>/bookings/: 202 with a pending booking to follow.

    A campaign that books only with a verified phone (``Campaign.verify_phone``) is refused
    here with 403 ``phone_not_verified``: the API has no code step, and a half-proven phone
    would be no proof; such a campaign books through the pages."""

    def post(self, request: Request, campaign: str) -> Response:
        if wait := throttle.per_address("identify").hit(throttle.client_address(request)):
            return _too_many(wait)
        serializer = BookingRequestSerializer(data=request.data)
        valid = serializer.is_valid()
        rrn = _parsed_rrn(request.data)
        if rrn is not None and (wait := throttle.per_person("identify").hit(rrn_hmac(rrn))):
            return _too_many(wait)  # every try for a person counts, valid or not
        if not valid:
            return Response(serializer.errors, status=status.HTTP_400_BAD_REQUEST)
        data = serializer.validated_data
        identity = Identity(name=data["name"], rrn=data["rrn"], phone=data["phone"])
        try:
            booking = services.request_booking(
                request.campaign,
                identity=identity,
                slot_id=data["slot"],
                admission=request.admission_pass,
                language=translation.get_language(),
            )
        except BookingRefused as refused:
            code = status.HTTP_400_BAD_REQUEST
            if isinstance(refused, AlreadyBooked):
                code = status.HTTP_409_CONFLICT
            elif isinstance(refused, PassFull | PassBeforeWindow | PhoneNotVerified):
                code = status.HTTP_403_FORBIDDEN
            body = {"detail": refused.message, "code": refused.code, "reason": refused.reason}
            return Response(body, status=code)
        booking = selectors.booking_by_public_id(booking.public_id)
        return Response(BookingStatusSerializer(booking).data, status=status.HTTP_202_ACCEPTED)


class BookingStatusView(APIView):
    """GET /api/bookings/<id>/: the status of a booking, for whoever holds its id."""

    def get(self, request: Request, public_id) -> Response:
        booking = selectors.booking_by_public_id(public_id)
        if booking is None:
            return Response({"detail": gettext("No such booking.")}, status=404)
        return Response(BookingStatusSerializer(booking).data)
