from bookings.identity import Rrn, rrn_hmac
from bookings.models import Booking
from campaigns.models import Campaign


def has_active_booking(campaign: Campaign, *, rrn: Rrn) -> bool:
    return Booking.objects.filter(
        campaign=campaign, rrn_hmac=rrn_hmac(rrn), status__in=Booking.ACTIVE_STATUSES
    ).exists()


def booking_for_person(*, code: str, rrn: Rrn) -> Booking | None:
    """The booking with this code, only if it belongs to this registration number.

    A wrong code and a wrong number look the same to the caller.
    """
    return (
        Booking.objects.select_related("campaign", "slot__clinic")
        .filter(code=code, rrn_hmac=rrn_hmac(rrn))
        .first()
    )


def booking_by_public_id(public_id) -> Booking | None:
    return (
        Booking.objects.select_related("campaign", "slot__clinic")
        .filter(public_id=public_id)
        .first()
    )
