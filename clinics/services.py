"""Every change to clinics' slots and staff memberships goes through a function here."""

from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime, time, timedelta
from itertools import islice
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from campaigns.models import Campaign
from clinics.models import Clinic, ClinicDayClosure, Slot, StaffMembership
from vaxbook.auditlog.models import AuditEvent
from vaxbook.auditlog.services import record

MAX_DAYS = 366
# A sanity bound, far above any clinic's room, and far below what the integer column holds.
MAX_CAPACITY = 10_000
# Slots of one day never wrap past midnight, so a longer interval could only ever give the one
# slot at the start of the day that this one gives already.
MAX_INTERVAL_MINUTES = 24 * 60
# Rows per INSERT, and the most slot objects held in memory at once: a year of 5-minute slots
# at a few clinics is hundreds of thousands of rows.
BATCH_SIZE = 2000


def _start_times(day_starts: time, day_ends: time, interval: timedelta) -> list[time]:
    # Any date will do: the arithmetic only needs a datetime, and a day never wraps because
    # day_ends is later than day_starts on the same day.
    anchor = date(2000, 1, 1)
    moment, end = datetime.combine(anchor, day_starts), datetime.combine(anchor, day_ends)
    times = []
    while moment < end:
        times.append(moment.time())
        moment += interval
    return times


class SlotsRefused(ValueError):
    """Parameters of ``generate_slots`` that make no sense: ``reason`` says which rule, the
    parameters (``limit``, ``asked``) its numbers; the text is made when it is read, in the
    language active then."""

    texts = {
        "days_reversed": _("The last day is before the first day."),
        "too_many_days": _("At most %(limit)d days at a time (%(asked)d asked)."),
        "interval_too_short": _("The interval between slots must be at least one minute."),
        "interval_too_long": _(
            "The interval between slots can be at most %(limit)d minutes (a day)."
        ),
        "capacity_too_small": _("Each slot needs a capacity of at least one person."),
        "capacity_too_large": _("A slot can hold at most %(limit)d people."),
        "day_reversed": _("The day must end after it starts."),
    }

    def __init__(self, reason: str, **params: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.params = params

    def __str__(self) -> str:
        return str(self.texts[self.reason]) % self.params


def generate_slots(
    *,
    clinics: Iterable[Clinic],
    campaign: Campaign,
    first_day: date,
    last_day: date,
    day_starts: time,
    day_ends: time,
    interval_minutes: int,
    capacity: int,
) -> int:
    """Create the campaign's slots at each clinic, each day, every ``interval_minutes``.

    Days run from ``first_day`` to ``last_day`` inclusive; start times from ``day_starts``
    up to, not including, ``day_ends``. A slot that already exists (same clinic, campaign,
    day and start time) is left as it is, its capacity and bookings untouched, so running it
    again is harmless. Returns how many slots were created.

    Raises ``SlotsRefused`` (a ``ValueError`` whose text is fit to show an official) when the
    input makes no sense.
    """
    days = (last_day - first_day).days + 1
    if last_day < first_day:
        raise SlotsRefused("days_reversed")
    if days > MAX_DAYS:
        raise SlotsRefused("too_many_days", limit=MAX_DAYS, asked=days)
    if interval_minutes <= 0:
        raise SlotsRefused("interval_too_short")
    if interval_minutes > MAX_INTERVAL_MINUTES:
        raise SlotsRefused("interval_too_long", limit=MAX_INTERVAL_MINUTES)
    if capacity < 1:
        raise SlotsRefused("capacity_too_small")
    if capacity > MAX_CAPACITY:
        raise SlotsRefused("capacity_too_large", limit=MAX_CAPACITY)
    if day_ends <= day_starts:
        raise SlotsRefused("day_reversed")

    clinic_ids = [clinic.pk for clinic in clinics]
    if not clinic_ids:
        return 0
    times = _start_times(day_starts, day_ends, timedelta(minutes=interval_minutes))
    # a closed day (bookings.services.close_clinic_day) gets no new places
    closed = set(
        ClinicDayClosure.objects.filter(
            clinic_id__in=clinic_ids, date__range=(first_day, last_day)
        ).values_list("clinic_id", "date")
    )
    new_slots: Iterator[Slot] = (
        Slot(
            clinic_id=clinic_id,
            campaign=campaign,
            date=first_day + timedelta(days=offset),
            start_time=start_time,
            capacity=capacity,
        )
        for clinic_id in clinic_ids
        for offset in range(days)
        if (clinic_id, first_day + timedelta(days=offset)) not in closed
        for start_time in times
    )
    scope = Slot.objects.filter(
        clinic_id__in=clinic_ids, campaign=campaign, date__range=(first_day, last_day)
    )
    with transaction.atomic():
        # ignore_conflicts leans on the slot_unique_time constraint and does not report which
        # rows it skipped, so the count is a difference. A concurrent run on the same clinics
        # could have its rows counted here too; for an official's report that is acceptable.
        before = scope.count()
        while batch := list(islice(new_slots, BATCH_SIZE)):
            Slot.objects.bulk_create(batch, ignore_conflicts=True)
        return scope.count() - before


# What a booking was made for. Once a slot has bookings, changing one of these would leave them
# pointing at a campaign, clinic or time the person did not book.
SLOT_SCHEDULE_FIELDS = ("clinic", "campaign", "date", "start_time")


def change_slot(slot_id: int, *, changes: Mapping[str, Any], actor) -> None:
    """Write ``changes`` (field name to new value) to one slot, and only those columns, and
    record a change of capacity in the audit log (by ``actor``) in the same transaction.

    ``booked`` cannot be among them: only the booking services move it. The slot's row is
    locked and re-read first, so the new capacity is checked against the places booked right
    now: a confirmation racing this change has either committed and is counted, or waits for
    this transaction and then re-checks against the new capacity. The schedule fields
    (``SLOT_SCHEDULE_FIELDS``) are refused once the slot has any booking, whatever its status.
    Writes nothing when ``changes`` is empty or when it refuses.

    Raises ``ValueError`` with a message fit to show an official.
    """
    if "booked" in changes:
        raise ValueError(gettext("Booked places change only through bookings."))
    if not changes:
        return
    try:
        with transaction.atomic():
            slot = (
                Slot.objects.select_for_update(of=("self",))
                .select_related("clinic")
                .filter(pk=slot_id)
                .first()
            )
            if slot is None:
                raise ValueError(gettext("The slot no longer exists."))
            if changes.keys() & set(SLOT_SCHEDULE_FIELDS) and slot.bookings.exists():
                raise ValueError(
                    gettext(
                        "The slot has bookings, so its clinic, campaign, date and start time "
                        "can no longer change."
                    )
                )
            capacity_before = slot.capacity  # read under the lock: what the change replaces
            for name, value in changes.items():
                setattr(slot, name, value)
            try:
                slot.clean()  # capacity against the places booked, read under the lock
            except ValidationError as refused:
                raise ValueError(" ".join(refused.messages)) from refused
            slot.save(update_fields=list(changes))
            if slot.capacity != capacity_before:
                record(
                    AuditEvent.Action.SLOT_CAPACITY_CHANGED,
                    actor=actor,
                    obj_type="clinics.slot",
                    obj_id=slot.pk,
                    details={
                        "clinic": slot.clinic.code,
                        "date": slot.date,
                        "start_time": slot.start_time,
                        "field": "capacity",
                        "old": capacity_before,
                        "new": slot.capacity,
                    },
                )
    except IntegrityError as conflict:
        # The checks above cover this row's own constraints; what is left is a change made
        # meanwhile elsewhere, such as another slot created at the same clinic, campaign, day
        # and time.
        raise ValueError(
            gettext(
                "The change conflicts with another one made at the same time (for example a "
                "slot at the same clinic, campaign, day and time); nothing was changed."
            )
        ) from conflict


class MembershipRefused(ValueError):
    """A change of who works at a clinic that is not allowed; the message is for the official."""


def _membership_details(membership: StaffMembership) -> dict[str, str]:
    return {"user": membership.user.get_username(), "clinic": membership.clinic.code}


def check_membership_grant(*, user, actor) -> None:
    """Nobody gives themselves access to a clinic's roster (names and masked registration
    numbers of everyone booked there): another official must."""
    if actor is not None and user is not None and user.pk == actor.pk:
        raise MembershipRefused(
            gettext(
                "You cannot add yourself to a clinic: another official must do it (it gives "
                "access to the clinic's roster)."
            )
        )


def save_staff_membership(membership: StaffMembership, *, actor) -> StaffMembership:
    """Add a membership (no pk yet) or change one, and record it in the audit log, in one
    transaction."""
    check_membership_grant(user=membership.user, actor=actor)
    with transaction.atomic():
        if membership.pk is None:
            membership.save()
            record(
                AuditEvent.Action.STAFF_MEMBERSHIP_ADDED,
                actor=actor,
                obj_type="clinics.staffmembership",
                obj_id=membership.pk,
                details=_membership_details(membership),
            )
            return membership
        before = (
            StaffMembership.objects.select_for_update()
            .select_related("user", "clinic")
            .get(pk=membership.pk)
        )
        membership.save()
        old, new = _membership_details(before), _membership_details(membership)
        if old != new:
            record(
                AuditEvent.Action.STAFF_MEMBERSHIP_CHANGED,
                actor=actor,
                obj_type="clinics.staffmembership",
                obj_id=membership.pk,
                details={"old": old, "new": new},
            )
    return membership


def remove_staff_membership(membership: StaffMembership, *, actor) -> None:
    with transaction.atomic():
        details = _membership_details(membership)
        pk = membership.pk
        membership.delete()
        record(
            AuditEvent.Action.STAFF_MEMBERSHIP_REMOVED,
            actor=actor,
            obj_type="clinics.staffmembership",
            obj_id=pk,
            details=details,
        )


def record_roster_export(clinic: Clinic, day: date, *, actor, file_format: str) -> None:
    """Record that ``actor`` (a user, or ``COMMAND_LINE``) exported a clinic's roster of a day
    (a file, or the API's JSON): the one writer of these audit events."""
    record(
        AuditEvent.Action.ROSTER_EXPORTED,
        actor=actor,
        obj_type="clinics.clinic",
        obj_id=clinic.pk,
        details={"clinic": clinic.code, "date": day, "format": file_format},
    )
