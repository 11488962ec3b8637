"""The booking API (DRF): the same services and the same window rule as the pages."""

from uuid import UUID

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
    NotMovable,
    PassBeforeWindow,
    PassFull,
    PhoneNotVerified,
    SlotUnavailable,
    WindowClosed,
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


def _later_slots_field() -> serializers.ListField:
    # A course has at most three doses: at most two later ones.
    return serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, max_length=2
    )


class BookingRequestSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, trim_whitespace=False)
    rrn = serializers.CharField(max_length=40)
    phone = serializers.CharField(max_length=40)
    slot = serializers.IntegerField(min_value=1)
    # the later doses' slots, first later dose first; without them the server picks
    # (``bookings.doses``)
    later_slots = _later_slots_field()

    def validate_name(self, value):
        return _checked(normalise_name, value)

    def validate_rrn(self, value):
        return _checked(parse_rrn, value)

    def validate_phone(self, value):
        return _checked(normalise_phone, value)


class MoveRequestSerializer(serializers.Serializer):
    """A move: the new slot of the first appointment not given yet, optionally the later
    doses' slots, and the registration number that proves the booking is the client's."""

    rrn = serializers.CharField(max_length=40)
    slot = serializers.IntegerField(min_value=1)
    later_slots = _later_slots_field()

    def validate_rrn(self, value):
        return _checked(parse_rrn, value)


class AppointmentSerializer(serializers.ModelSerializer):
    """One dose's appointment of a course."""

    slot = serializers.IntegerField(source="slot_id")
    date = serializers.DateField(source="slot.date")
    start_time = serializers.TimeField(source="slot.start_time", format="%H:%M")
    clinic_code = serializers.CharField(source="slot.clinic.code")
    checked_in = serializers.SerializerMethodField()

    class Meta:
        model = Booking
        fields = [
            "dose",
            "code",
            "status",
            "slot",
            "date",
            "start_time",
            "clinic_code",
            "checked_in",
        ]

    def get_checked_in(self, appointment: Booking) -> bool:
        return appointment.checked_in_at is not None


class BookingStatusSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    campaign = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    clinic = serializers.CharField(source="slot.clinic.name")
    clinic_code = serializers.CharField(source="slot.clinic.code")
    address = serializers.CharField(source="slot.clinic.address")
    date = serializers.DateField(source="slot.date")
    start_time = serializers.TimeField(source="slot.start_time", format="%H:%M")
    rrn = serializers.CharField(source="rrn_masked")
    # every appointment of the course, first dose first (one for a one-dose vaccine); the keys
    # above describe the booking's own row, as before doses existed
    doses = serializers.SerializerMethodField()

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
            "doses",
        ]

    def get_doses(self, booking: Booking) -> list[dict]:
        return AppointmentSerializer(selectors.course_of(booking), many=True).data


def _parsed_rrn(data) -> Rrn | None:
    raw = data.get("rrn") if isinstance(data, dict) else None
    try:
        return parse_rrn(raw) if isinstance(raw, str) else None
    except IdentityError:
        return None


def _refused(refused: BookingRefused, code: int) -> Response:
    body = {"detail": refused.message, "code": refused.code, "reason": refused.reason}
    return Response(body, status=code)


def _no_such_booking() -> Response:
    return Response({"detail": gettext("No such booking.")}, status=status.HTTP_404_NOT_FOUND)


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
                later_slot_ids=data.get("later_slots"),
                admission=request.admission_pass,
                language=translation.get_language(),
            )
        except BookingRefused as refused:
            code = status.HTTP_400_BAD_REQUEST
            if isinstance(refused, AlreadyBooked):
                code = status.HTTP_409_CONFLICT
            elif isinstance(refused, PassFull | PassBeforeWindow | PhoneNotVerified):
                code = status.HTTP_403_FORBIDDEN
            return _refused(refused, code)
        booking = selectors.booking_by_public_id(booking.public_id)
        return Response(BookingStatusSerializer(booking).data, status=status.HTTP_202_ACCEPTED)


class BookingStatusView(APIView):
    """GET /api/bookings/<id>/: the status of a booking, for whoever holds its id.

    A pending booking's page asks this every two seconds. The answer is the same for everyone
    holding the id, so it authenticates nobody: no session is read (a Redis round trip per
    poll saved) and the answer does not vary by cookie."""

    authentication_classes = ()

    def get(self, request: Request, public_id) -> Response:
        booking = selectors.booking_by_public_id(public_id)
        if booking is None:
            return _no_such_booking()
        return Response(BookingStatusSerializer(booking).data)


class BookingMoveView(APIView):
    """POST /api/campaigns/<campaign>/bookings/<id>/move/: move a confirmed booking's first
    appointment not given yet to ``slot`` (and its later doses with it: to ``later_slots``
    when given, else where ``services.plan_move`` puts them). 200 with the booking.

    A move takes places, so it is guarded like a new booking (the URL's campaign window, the
    waiting room's pass, the person's own window in the service) and limited like one. The
    status link is not enough to move: it is shared (texted, forwarded) and only shows. The
    pages let manage a booking the session that made it or proved the registration number
    (``steps.may_manage``); the API keeps no session, so the request proves the registration
    number (``rrn``), as the lookup page does. A wrong number and an unknown booking look the
    same (404). Refusals: 403 (window, pass), 409 (the slot or the booking's state: full,
    started, too late, not movable…; nothing changed), 400 (a slot this campaign does not
    offer, bad input)."""

    def post(self, request: Request, campaign: str, public_id: UUID) -> Response:
        if wait := throttle.per_address("move").hit(throttle.client_address(request)):
            return _too_many(wait)
        serializer = MoveRequestSerializer(data=request.data)
        valid = serializer.is_valid()
        rrn = _parsed_rrn(request.data)
        if rrn is not None and (wait := throttle.per_person("move").hit(rrn_hmac(rrn))):
            return _too_many(wait)
        if not valid:
            return Response(serializer.errors, status=status.HTTP_400_BAD_REQUEST)
        data = serializer.validated_data
        booking = selectors.booking_by_public_id(public_id)
        if (
            booking is None
            or booking.campaign_id != request.campaign.pk
            or booking.rrn_hmac != rrn_hmac(data["rrn"])
        ):
            return _no_such_booking()
        try:
            moved = services.move_booking(
                booking.pk,
                slot_id=data["slot"],
                later_slot_ids=data.get("later_slots"),
                admission=request.admission_pass,
            )
        except BookingRefused as refused:
            code = status.HTTP_400_BAD_REQUEST
            if isinstance(refused, WindowClosed | PassFull | PassBeforeWindow):
                code = status.HTTP_403_FORBIDDEN
            elif isinstance(refused, NotMovable) or (
                isinstance(refused, SlotUnavailable) and refused.reason != "not_offered"
            ):
                code = status.HTTP_409_CONFLICT
            return _refused(refused, code)
        booking = selectors.booking_by_public_id(moved.public_id)
        return Response(BookingStatusSerializer(booking).data)
