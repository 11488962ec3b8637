"""Test helpers for multi-dose courses: a campaign of a two-dose vaccine, a clinic with slots
on the first-dose day and around the second, and a person's confirmed course."""

from datetime import date, time, timedelta

from django.utils import timezone

from bookings import services
from bookings.identity import Identity, parse_rrn
from bookings.models import Booking
from bookings.tests.factories import rrn_for
from campaigns.models import Campaign
from campaigns.tests.factories import CampaignFactory, VaccineFactory
from clinics.models import Clinic, Slot
from clinics.tests.factories import ClinicFactory, SlotFactory

# Pfizer-BioNTech as Korea gave it: 21 days, up to 42.
SHORTEST, RECOMMENDED, LONGEST = 21, 21, 42


def two_dose_campaign(**fields) -> Campaign:
    vaccine = VaccineFactory(
        name="Pfizer-BioNTech",
        manufacturer="Pfizer",
        doses=2,
        interval_min_days=SHORTEST,
        interval_recommended_days=RECOMMENDED,
        interval_max_days=LONGEST,
    )
    fields.setdefault("closes_at", timezone.now() + timedelta(days=60))
    return CampaignFactory(vaccine=vaccine, **fields)


def first_day() -> date:
    """A first-dose day far enough ahead that a move is before its deadline."""
    return timezone.localdate() + timedelta(days=3)


def course_slots(
    campaign: Campaign,
    *,
    clinic: Clinic | None = None,
    day: date | None = None,
    times: tuple[time, ...] = (time(9, 0), time(10, 0)),
    capacity: int = 10,
    second_capacity: int | None = None,
) -> tuple[list[Slot], list[Slot]]:
    """Slots at ``clinic`` on ``day`` (first doses) and on the recommended second-dose day
    (``RECOMMENDED`` days later), at ``times``; returns (first-day slots, second-day slots)."""
    clinic = clinic or ClinicFactory()
    day = day or first_day()
    second = day + timedelta(days=RECOMMENDED)
    firsts = [
        SlotFactory(campaign=campaign, clinic=clinic, date=day, start_time=t, capacity=capacity)
        for t in times
    ]
    seconds = [
        SlotFactory(
            campaign=campaign,
            clinic=clinic,
            date=second,
            start_time=t,
            capacity=capacity if second_capacity is None else second_capacity,
        )
        for t in times
    ]
    return firsts, seconds


def identity(n: int, *, name: str = "Kim Minsu", phone: str = "010-1234-5678") -> Identity:
    return Identity(name=name, rrn=parse_rrn(rrn_for(n)), phone=phone)


def book_course(campaign: Campaign, slot: Slot, n: int, *, confirm: bool = True) -> Booking:
    """Person ``n``'s course with its first dose at ``slot`` (later doses where
    ``bookings.doses`` offers them), confirmed unless ``confirm`` is False."""
    booking = services.request_booking(campaign, identity=identity(n), slot_id=slot.pk)
    if confirm:
        services.confirm_booking(booking.pk)
    booking.refresh_from_db()
    return booking


def assert_places_add_up() -> None:
    """``booked`` equals the confirmed appointments on every slot, and no course has a
    confirmed first dose without its later doses confirmed (or given)."""
    for slot in Slot.objects.all():
        confirmed = Booking.objects.filter(slot=slot, status=Booking.Status.CONFIRMED).count()
        assert slot.booked == confirmed, (slot.pk, slot.booked, confirmed)
    for first in Booking.objects.filter(first_dose__isnull=True, status="confirmed"):
        later = list(first.later_doses.values_list("status", flat=True))
        assert all(status == "confirmed" for status in later) or first.checked_in_at, later
