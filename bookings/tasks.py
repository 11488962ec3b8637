import logging

from celery import shared_task
from celery.contrib.django.task import DjangoTask
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError

from bookings import retention, services
from bookings.models import Booking

logger = logging.getLogger(__name__)

# Database hiccups (a failover, a dropped connection, a lock timeout) are retried a bounded
# number of times; acks_late with reject_on_worker_lost puts the message back if a pool
# process dies mid-task, and the service's idempotence makes the re-run harmless. A retry runs
# on a working connection: between tasks the worker drops a connection that failed
# (close_old_connections, vaxbook/celery.py), so the next try reconnects.
_TASK_OPTIONS = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (OperationalError, InterfaceError),
    "max_retries": 5,
    "retry_backoff": True,
    "retry_backoff_max": 30,
    "retry_jitter": True,
}


class ConfirmBookingTask(DjangoTask):
    """A confirmation that failed for good (its retries spent, or an error not worth retrying)
    rejects its booking with a reason the person reads, rather than leaving them on a page
    that waits for a decision nobody will make."""

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


@shared_task(
    name="bookings.tasks.confirm_booking",
    base=ConfirmBookingTask,
    **{
        **_TASK_OPTIONS,
        "max_retries": settings.VAXBOOK_CONFIRM_MAX_RETRIES,
        "retry_backoff_max": settings.VAXBOOK_CONFIRM_RETRY_BACKOFF_MAX,
    },
)
def confirm_booking(booking_id: int) -> str | None:
    booking = services.confirm_booking(booking_id)
    return booking.status if booking else None


@shared_task(name="bookings.tasks.confirm_stale_bookings", **_TASK_OPTIONS)
def confirm_stale_bookings() -> int:
    return services.sweep_pending_bookings()


@shared_task(name="bookings.tasks.purge_personal_data", **_TASK_OPTIONS)
def purge_personal_data() -> int:
    return retention.anonymise_closed_campaigns()
