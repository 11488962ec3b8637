from collections.abc import Iterator

from django.conf import settings
from django.db.models import Count, Q
from django.utils.translation import gettext

from bookings.doses import later_doses
from bookings.identity import Rrn, rrn_hmac
from bookings.models import Booking
from bookings.retention import PURGED_MARKER_PREFIX
from campaigns import windows
from campaigns.models import Campaign


def has_active_booking(campaign: Campaign, *, rrn: Rrn) -> bool:
    """Whether this person's course in this campaign is active (its first dose pending or
    confirmed: a first dose given stays confirmed, so the person books no second course)."""
    return Booking.objects.filter(
        campaign=campaign,
        rrn_hmac=rrn_hmac(rrn),
        status__in=Booking.ACTIVE_STATUSES,
        first_dose__isnull=True,
    ).exists()


def active_bookings_of_person(*, rrn: Rrn, phone: str) -> list[Booking]:
    """The pending and confirmed bookings of this registration number that were made with this
    normalised phone number, soonest first."""
    return list(
        Booking.objects.select_related("campaign__vaccine", "slot__clinic")
        .filter(
            rrn_hmac=rrn_hmac(rrn),
            phone=phone,
            status__in=Booking.ACTIVE_STATUSES,
            first_dose__isnull=True,
        )
        .order_by("slot__date", "slot__start_time", "pk")
    )


def booking_for_person(
    *, code: str, rrn: Rrn | None = None, phone: str | None = None
) -> Booking | None:
    """The booking with this code, only if it belongs to this registration number (or, without
    one, this normalised phone number). A wrong code and a wrong number look the same. A later
    dose's code (``<code>-2``) leads to the course's booking."""
    bookings = Booking.objects.select_related("campaign__vaccine", "slot__clinic").filter(code=code)
    if rrn is not None:
        found = bookings.filter(rrn_hmac=rrn_hmac(rrn)).first()
    elif phone:
        found = bookings.filter(phone=phone).first()
    else:
        return None
    if found is not None and not found.is_first_dose:
        return booking_by_public_id(found.first_dose.public_id)
    return found


def booking_by_public_id(public_id) -> Booking | None:
    return (
        Booking.objects.select_related("campaign__vaccine", "slot__clinic")
        .filter(public_id=public_id)
        .first()
    )


def course_of(booking: Booking) -> list[Booking]:
    """Every appointment of ``booking``'s course, first dose first (one for a one-dose
    vaccine, without a query when the campaign and vaccine came with the booking). The rows
    carry their slot and clinic."""
    if booking.is_first_dose and not later_doses(booking.campaign):
        return [booking]
    head = booking.first_dose_id or booking.pk
    return list(
        Booking.objects.select_related("slot__clinic")
        .filter(Q(pk=head) | Q(first_dose_id=head))
        .order_by("dose")
    )


def suspicious_bookings(campaign: Campaign | None = None) -> Iterator[tuple[Booking, str]]:
    """Bookings that should not exist: requested when no window covering the person was open,
    without an admission pass while the waiting room was on, or through a pass that booked for
    more people than ``VAXBOOK_PEOPLE_PER_PASS``. Should always be empty."""
    scope = Booking.objects.all() if campaign is None else Booking.objects.filter(campaign=campaign)
    # a later dose is requested with its first, under the same window and pass
    scope = scope.filter(first_dose__isnull=True)
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
