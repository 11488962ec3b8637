"""Reads of clinics and their places, shared by the booking pages and the API.

Places left are ``capacity - booked`` as of the read: a hint for choosing, never trusted. The
confirm service decides. The region, clinic and day lists are aggregates over every slot of the
campaign (tens of thousands of rows); during the surge every person asks for them, so they are
cached for ``AVAILABILITY_TTL`` seconds: a list can be that much behind, which costs nothing
but a "that time is full" message.
"""

import hashlib
from dataclasses import dataclass
from datetime import date, datetime

from django.core.cache import cache
from django.db.models import Count, F, Q, QuerySet, Sum
from django.utils import timezone

from bookings.models import Booking
from campaigns.models import Campaign
from clinics.models import Clinic, Slot

AVAILABILITY_TTL = 5


def _cached(key: str, compute):
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, timeout=AVAILABILITY_TTL)
    return value


def upcoming(now: datetime) -> Q:
    """Slots that have not started yet, judged in Korea time (slots are local dates/times)."""
    local = timezone.localtime(now)
    return Q(date__gt=local.date()) | Q(date=local.date(), start_time__gt=local.time())


def bookable_slots(campaign: Campaign, *, now: datetime) -> QuerySet[Slot]:
    return Slot.objects.filter(upcoming(now), campaign=campaign)


def offered_slot(
    campaign: Campaign, *, slot_id: int, clinic: Clinic | None = None, now: datetime
) -> Slot | None:
    """The slot if this campaign offers it (at ``clinic``, when one is given) and it has not
    started; None otherwise. Its places left are as of this read: a hint, the worker decides."""
    slot = bookable_slots(campaign, now=now).filter(pk=slot_id).first()
    if slot is None or (clinic is not None and slot.clinic_id != clinic.pk):
        return None
    return slot


def regions_with_places(campaign: Campaign, *, now: datetime) -> list[str]:
    return _cached(
        f"places:{campaign.pk}:regions",
        lambda: list(
            bookable_slots(campaign, now=now)
            .filter(booked__lt=F("capacity"))
            .order_by("clinic__region")
            .values_list("clinic__region", flat=True)
            .distinct()
        ),
    )


def clinics_with_places(campaign: Campaign, *, region: str, now: datetime) -> list[dict]:
    """code, name, address and places_left of each clinic of the region with places."""
    key = f"places:{campaign.pk}:clinics:{hashlib.sha256(region.encode()).hexdigest()[:16]}"
    return _cached(key, lambda: _clinics_with_places(campaign, region=region, now=now))


def _clinics_with_places(campaign: Campaign, *, region: str, now: datetime) -> list[dict]:
    local = timezone.localtime(now)
    return list(
        Clinic.objects.filter(
            Q(slots__date__gt=local.date())
            | Q(slots__date=local.date(), slots__start_time__gt=local.time()),
            region=region,
            slots__campaign=campaign,
            slots__booked__lt=F("slots__capacity"),
        )
        .annotate(places_left=Sum(F("slots__capacity") - F("slots__booked")))
        .order_by("name")
        .values("code", "name", "address", "places_left")
    )


def days_with_places(campaign: Campaign, *, clinic: Clinic, now: datetime) -> list[dict]:
    return _cached(
        f"places:{campaign.pk}:days:{clinic.pk}",
        lambda: list(
            bookable_slots(campaign, now=now)
            .filter(clinic=clinic, booked__lt=F("capacity"))
            .values("date")
            .annotate(places_left=Sum(F("capacity") - F("booked")))
            .order_by("date")
        ),
    )


def slots_on_day(
    campaign: Campaign, *, clinic: Clinic, day: date, now: datetime | None = None
) -> QuerySet[Slot]:
    """Every slot of the day (full ones too, so people see why), or only those still to
    come when ``now`` is given."""
    slots = Slot.objects.filter(campaign=campaign, clinic=clinic, date=day)
    if now is not None:
        slots = slots.filter(upcoming(now))
    return slots.annotate(left=F("capacity") - F("booked")).order_by("start_time")


def alternative_slots(slot: Slot, *, now: datetime, limit: int = 8) -> list[Slot]:
    """Slots with places left, nearest first: same clinic and day, then the same clinic on
    later days, then other clinics of the region."""
    base = (
        bookable_slots(slot.campaign, now=now)
        .filter(booked__lt=F("capacity"))
        .exclude(pk=slot.pk)
        .select_related("clinic")
    )
    found = list(base.filter(clinic_id=slot.clinic_id).order_by("date", "start_time")[:limit])
    if len(found) < limit:
        found += list(
            base.filter(clinic__region=slot.clinic.region)
            .exclude(clinic_id=slot.clinic_id)
            .order_by("date", "start_time", "clinic__name")[: limit - len(found)]
        )
    return found


# A clinic's day, as its staff see it and export it.

# No-shows too: once the day is over (bookings.services.mark_no_shows), its list is the record
# of who came and who did not.
DAY_STATUSES = (Booking.Status.CONFIRMED, Booking.Status.PENDING, Booking.Status.NO_SHOW)


def day_bookings(clinic: Clinic, day: date, *, search: str = "") -> QuerySet[Booking]:
    """The confirmed, pending and missed (no-show) appointments of one clinic on one day, by
    time then name; with ``search``, only those whose name contains it or whose booking code
    contains it (any case). Each row is one dose (``Booking.dose``)."""
    bookings = Booking.objects.filter(slot__clinic=clinic, slot__date=day, status__in=DAY_STATUSES)
    search = search.strip()
    if search:
        bookings = bookings.filter(Q(name__icontains=search) | Q(code__icontains=search.upper()))
    return bookings.select_related("slot").order_by("slot__start_time", "name", "pk")


@dataclass(frozen=True)
class DayTotals:
    """The appointments a clinic's day held (confirmed ones, and those that became no-shows
    after it), how many of those people came and how many did not."""

    booked: int
    checked_in: int
    no_show: int = 0

    @property
    def to_come(self) -> int:
        return self.booked - self.checked_in - self.no_show


def day_totals(clinic: Clinic, day: date) -> DayTotals:
    counts = Booking.objects.filter(
        slot__clinic=clinic,
        slot__date=day,
        status__in=(Booking.Status.CONFIRMED, Booking.Status.NO_SHOW),
    ).aggregate(
        booked=Count("pk"),
        checked_in=Count("pk", filter=Q(checked_in_at__isnull=False)),
        no_show=Count("pk", filter=Q(status=Booking.Status.NO_SHOW)),
    )
    return DayTotals(
        booked=counts["booked"], checked_in=counts["checked_in"], no_show=counts["no_show"]
    )


def next_dose(booking: Booking) -> Booking | None:
    """The confirmed appointment of the dose after ``booking``'s in its course (with its slot),
    or None: a one-dose course, the last dose, or one no longer held."""
    return (
        Booking.objects.filter(
            first_dose_id=booking.course_id,
            dose=booking.dose + 1,
            status=Booking.Status.CONFIRMED,
        )
        .select_related("slot")
        .first()
    )


def closing_day_counts(clinic: Clinic, day: date) -> dict[str, int]:
    """What closing ``clinic`` on ``day`` would touch, as the official confirms it: the
    appointments still to be given that day (confirmed or pending, every campaign), and those
    already given (checked in), which stay."""
    return Booking.objects.filter(slot__clinic=clinic, slot__date=day).aggregate(
        to_move=Count(
            "pk",
            filter=Q(status__in=Booking.ACTIVE_STATUSES, checked_in_at__isnull=True),
        ),
        checked_in=Count("pk", filter=Q(checked_in_at__isnull=False)),
    )
