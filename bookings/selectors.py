from collections.abc import Iterator

from django.conf import settings
from django.db.models import Count
from django.utils.translation import gettext

from bookings.identity import Rrn, rrn_hmac
from bookings.models import Booking
from bookings.retention import PURGED_MARKER_PREFIX
from campaigns import windows
from campaigns.models import Campaign


def has_active_booking(campaign: Campaign, *, rrn: Rrn) -> bool:
    return Booking.objects.filter(
        campaign=campaign, rrn_hmac=rrn_hmac(rrn), status__in=Booking.ACTIVE_STATUSES
    ).exists()


def active_bookings_of_person(*, rrn: Rrn, phone: str) -> list[Booking]:
    """The pending and confirmed bookings of this registration number that were made with this
    normalised phone number, soonest first."""
    return list(
        Booking.objects.select_related("campaign__vaccine", "slot__clinic")
        .filter(rrn_hmac=rrn_hmac(rrn), phone=phone, status__in=Booking.ACTIVE_STATUSES)
        .order_by("slot__date", "slot__start_time", "pk")
    )


def booking_for_person(
    *, code: str, rrn: Rrn | None = None, phone: str | None = None
) -> Booking | None:
    """The booking with this code, only if it belongs to this registration number (or, without
    one, this normalised phone number). A wrong code and a wrong number look the same."""
    bookings = Booking.objects.select_related("campaign__vaccine", "slot__clinic").filter(code=code)
    if rrn is not None:
        return bookings.filter(rrn_hmac=rrn_hmac(rrn)).first()
    if phone:
        return bookings.filter(phone=phone).first()
    return None


def booking_by_public_id(public_id) -> Booking | None:
    return (
        Booking.objects.select_related("campaign__vaccine", "slot__clinic")
        .filter(public_id=public_id)
        .first()
    )


def suspicious_bookings(campaign: Campaign | None = None) -> Iterator[tuple[Booking, str]]:
    """Bookings that should not exist: requested when no window covering the person was open,
    without an admission pass while the waiting room was on, or through a pass that booked for
    more people than ``VAXBOOK_PEOPLE_PER_PASS``. Should always be empty."""
    scope = Booking.objects.all() if campaign is None else Booking.objects.filter(campaign=campaign)
    overused = _passes_used_for_too_many_people(scope)
    bookings = scope.select_related("campaign", "slot__clinic").prefetch_related(
        "campaign__windows"
    )
    campaigns: dict[int, Campaign] = {}
    for booking in bookings.order_by("pk").iterator(chunk_size=2000):
        # one Campaign object per campaign, so its windows are fetched once
        campaign_of = campaigns.setdefault(booking.campaign_id, booking.campaign)
        if not windows.is_open(campaign_of, at=booking.requested_at, birth_date=booking.birth_date):
            yield booking, gettext("requested outside the person's booking window")
        elif booking.waiting_room_required and not booking.admission_pass:
            yield booking, gettext("no admission pass while the waiting room was on")
        elif (people := overused.get((booking.campaign_id, booking.admission_pass))) is not None:
            yield (
                booking,
                gettext("its admission pass booked for %(people)d people, more than %(limit)d")
                % {"people": people, "limit": settings.VAXBOOK_PEOPLE_PER_PASS},
            )


def _passes_used_for_too_many_people(bookings) -> dict[tuple[int, str], int]:
    """(campaign, pass) → number of different people, for passes over the limit."""
    rows = (
        bookings.exclude(admission_pass="")
        # anonymised bookings carry a marker unique to each, not the person's hash
        .exclude(rrn_hmac__startswith=PURGED_MARKER_PREFIX)
        .order_by()
        .values("campaign_id", "admission_pass")
        .annotate(people=Count("rrn_hmac", distinct=True))
        .filter(people__gt=settings.VAXBOOK_PEOPLE_PER_PASS)
    )
    return {(r["campaign_id"], r["admission_pass"]): r["people"] for r in rows}
