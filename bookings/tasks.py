import logging

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError, InterfaceError

from bookings import retention, services
from bookings.models import Booking
from vaxbook.celery import RetryingTask

logger = logging.getLogger(__name__)


class ConfirmBookingTask(RetryingTask):
    """A confirmation that failed for good (its retries spent, or an error not worth retrying)
    rejects its booking with a reason the person reads, rather than leaving them on a page
    that waits for a decision nobody will make."""

    max_retries = settings.VAXBOOK_CONFIRM_MAX_RETRIES
    retry_backoff_max = settings.VAXBOOK_CONFIRM_RETRY_BACKOFF_MAX

    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        booking_id = args[0] if args else kwargs.get("booking_id")
        logger.error("confirm: giving up on booking id %s after %r", booking_id, exc)
        # If the connection is what broke, Django has already dropped it (a failed rollback
        # closes it), so this reconnects.
        try:
            services.give_up_booking(booking_id, reason=Booking.RejectReason.SYSTEM_ERROR)
        except (DatabaseError, InterfaceError):
            # The database is still out of reach: the booking stays pending and the sweep
            # decides it once the database is back.
            logger.exception("confirm: could not give up on booking id %s", booking_id)


@shared_task(name="bookings.tasks.confirm_booking", base=ConfirmBookingTask)
def confirm_booking(booking_id: int) -> str | None:
    """Decide this booking and, with it, up to VAXBOOK_CONFIRM_BATCH bookings that published
    no task because this one was queued (``services._enqueue_confirmation``): under a surge one
    transaction decides many; under a light load it is this booking alone, at once."""
    booking = services.confirm_booking(booking_id, others=settings.VAXBOOK_CONFIRM_BATCH)
    return booking.status if booking else None


@shared_task(name="bookings.tasks.confirm_pending_bookings", base=RetryingTask)
def confirm_pending_bookings() -> int:
    """The next batch after a full one (see ``services._enqueue_more_confirmations``)."""
    return services.confirm_pending_bookings(limit=settings.VAXBOOK_CONFIRM_BATCH)


@shared_task(name="bookings.tasks.confirm_stale_bookings", base=RetryingTask)
def confirm_stale_bookings() -> int:
    return services.sweep_pending_bookings()


@shared_task(name="bookings.tasks.purge_personal_data", base=RetryingTask)
def purge_personal_data() -> int:
    return retention.anonymise_closed_campaigns()


@shared_task(name="bookings.tasks.mark_no_shows", base=RetryingTask)
def mark_no_shows() -> int:
    return services.mark_no_shows()
