from celery import shared_task
from django.db import InterfaceError, OperationalError

from bookings import retention, services

# Database hiccups (a failover, a dropped connection) are retried a bounded number of times;
# acks_late with reject_on_worker_lost puts the message back if the worker dies mid-task, and
# the service's idempotence makes the re-run harmless.
_TASK_OPTIONS = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (OperationalError, InterfaceError),
    "max_retries": 5,
    "retry_backoff": True,
    "retry_backoff_max": 30,
    "retry_jitter": True,
}


@shared_task(name="bookings.tasks.confirm_booking", **_TASK_OPTIONS)
def confirm_booking(booking_id: int) -> str | None:
    booking = services.confirm_booking(booking_id)
    return booking.status if booking else None


@shared_task(name="bookings.tasks.confirm_stale_bookings", **_TASK_OPTIONS)
def confirm_stale_bookings() -> int:
    return services.sweep_pending_bookings()


@shared_task(name="bookings.tasks.purge_personal_data", **_TASK_OPTIONS)
def purge_personal_data() -> int:
    return retention.anonymise_closed_campaigns()
