"""Reads of clinics and their places, shared by the booking pages and the API.

Places left are ``capacity - booked`` as of the read: a hint for choosing, never trusted. The
confirm service decides.
"""

from datetime import date

from django.db.models import F, QuerySet, Sum

from campaigns.models import Campaign
from clinics.models import Clinic, Slot


def bookable_slots(campaign: Campaign, *, today: date) -> QuerySet[Slot]:
    return Slot.objects.filter(campaign=campaign, date__gte=today)


def regions_with_places(campaign: Campaign, *, today: date) -> list[str]:
    return list(
        bookable_slots(campaign, today=today)
        .filter(booked__lt=F("capacity"))
        .order_by("clinic__region")
        .values_list("clinic__region", flat=True)
        .distinct()
    )


def clinics_with_places(campaign: Campaign, *, region: str, today: date) -> QuerySet[Clinic]:
    return (
        Clinic.objects.filter(
            region=region,
            slots__campaign=campaign,
            slots__date__gte=today,
            slots__booked__lt=F("slots__capacity"),
        )
        .annotate(places_left=Sum(F("slots__capacity") - F("slots__booked")))
        .order_by("name")
    )


def days_with_places(campaign: Campaign, *, clinic: Clinic, today: date) -> list[dict]:
    return list(
        bookable_slots(campaign, today=today)
        .filter(clinic=clinic, booked__lt=F("capacity"))
        .values("date")
        .annotate(places_left=Sum(F("capacity") - F("booked")))
        .order_by("date")
    )


def slots_on_day(campaign: Campaign, *, clinic: Clinic, day: date) -> QuerySet[Slot]:
    return (
        Slot.objects.filter(campaign=campaign, clinic=clinic, date=day)
        .annotate(left=F("capacity") - F("booked"))
        .order_by("start_time")
    )


def alternative_slots(slot: Slot, *, today: date, limit: int = 8) -> list[Slot]:
    """Slots with places left, nearest first: same clinic and day, then the same clinic on
    later days, then other clinics of the region."""
    base = (
        bookable_slots(slot.campaign, today=today)
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
