"""The reminder the day before an appointment (run by Celery beat every few minutes:
``vaxbook.notifications.tasks.send_due_reminders``).

A confirmed booking whose appointment is tomorrow (Korea time) gets its reminder at the first
run once its campaign's ``reminder_time`` has passed today (Korea time). So a booking confirmed
after that time for tomorrow still gets one, at the next run; a booking for today gets none
(the day before is over: a reminder on the day could come after the appointment), nor does a
booking cancelled before the run.
"""

from datetime import date, datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from bookings.models import Booking
from vaxbook.dates import KST
from vaxbook.notifications.batch import Message, chunks, notify_batch
from vaxbook.notifications.models import Notification
from vaxbook.notifications.services import booking_context, booking_key

BATCH_SIZE = 500


def reminder_key(booking: Booking, appointment: date) -> str:
    """One reminder per booking per appointment day: a booking moved to another day is
    reminded of that one too."""
    return booking_key(booking, Notification.Kind.REMINDER, extra=appointment.isoformat())


def bookings_due_a_reminder(*, now: datetime) -> QuerySet[Booking]:
    """Confirmed bookings for tomorrow (KST) whose campaign's reminder time has passed today
    (KST) and that have no reminder for that day yet: one query, with what the text needs."""
    local = timezone.localtime(now, KST)
    tomorrow = local.date() + timedelta(days=1)
    reminded = Notification.objects.filter(
        booking=OuterRef("pk"),
        kind=Notification.Kind.REMINDER,
        key__endswith=f":{Notification.Kind.REMINDER}:{tomorrow.isoformat()}:"
        f"{Notification.Channel.SMS}",
    )
    return (
        Booking.objects.filter(
            status=Booking.Status.CONFIRMED,
            slot__date=tomorrow,
            campaign__reminder_time__lte=local.time(),
        )
        .exclude(phone="")
        .exclude(Exists(reminded))
        .select_related("slot__clinic", "campaign__vaccine", "first_dose")
        .order_by("pk")
    )


def send_due_reminders(*, now: datetime | None = None) -> list[str]:
    """Write the reminder of every booking due one (``bookings_due_a_reminder``) to the
    outbox, ``BATCH_SIZE`` to an INSERT, each batch in its own transaction; returns the keys
    written by this call.

    Safe to run as often as wanted and concurrently: a booking already reminded is not a
    candidate, and when two runs pick the same booking at once, the outbox's unique key keeps
    one message and only the run that wrote it sends it.
    """
    now = now or timezone.now()
    written: list[str] = []
    candidates = bookings_due_a_reminder(now=now).iterator(chunk_size=BATCH_SIZE)
    for batch in chunks(candidates, BATCH_SIZE):
        with transaction.atomic():
            written += notify_batch(
                Message(
                    kind=Notification.Kind.REMINDER,
                    recipient=booking.phone,
                    key=reminder_key(booking, booking.slot.date),
                    context=booking_context(booking),
                    language=booking.language,
                    booking=booking,
                )
                for booking in batch
            )
    return written
