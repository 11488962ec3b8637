"""A confirmed booking as a calendar file (iCalendar, RFC 5545), to keep the appointment.

The event says where (the clinic's name and address), when (in Korea time, with its time zone
in the file), the vaccine and the booking code, in the active language. It says nothing about
the person: no name, no registration number, no phone number. A calendar is synchronised to
places a booking page never goes, and the code alone opens nothing (a lookup needs the
registration number or the phone number too).
"""

from datetime import datetime, timedelta

import icalendar
from django.utils import timezone
from django.utils.translation import gettext

from bookings.models import Booking
from bookings.selectors import course_of
from vaxbook.dates import KST

# Slots store only their start. A visit (the shot and the wait after it) takes about this long;
# a calendar needs an end, and a short one blocks less of the person's day than a guess would.
VISIT = timedelta(minutes=30)


def booking_event(booking: Booking, *, now: datetime | None = None) -> bytes:
    """The calendar file of a confirmed booking (the caller checks that it is confirmed): an
    event for each of its course's confirmed appointments not yet past (every dose)."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//vaxbook//booking//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    for appointment in course_of(booking):
        if appointment.status == Booking.Status.CONFIRMED:
            calendar.add_component(_event(appointment, booking.campaign, now=now))
    calendar.add_missing_timezones()
    return calendar.to_ical()


def _event(booking: Booking, campaign, *, now: datetime | None) -> icalendar.Event:
    slot, clinic = booking.slot, booking.slot.clinic
    starts = datetime.combine(slot.date, slot.start_time, tzinfo=KST)
    vaccine = campaign.vaccine.name if campaign.vaccine else campaign.name
    event = icalendar.Event()
    event.add("uid", f"{booking.public_id}@vaxbook")
    event.add("dtstamp", now or timezone.now())
    event.add("dtstart", starts)
    event.add("dtend", starts + VISIT)
    event.add("summary", gettext("Vaccination: %(vaccine)s") % {"vaccine": vaccine})
    event.add("location", f"{clinic.name}, {clinic.address}")
    event.add(
        "description",
        gettext(
            "%(campaign)s, %(vaccine)s.\nBooking code: %(code)s\n"
            "Bring your ID card and this booking code."
        )
        % {"campaign": campaign.name, "vaccine": vaccine, "code": booking.code},
    )
    return event
