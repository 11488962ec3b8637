from celery import shared_task
from django.conf import settings

from vaxbook.celery import RetryingTask
from vaxbook.notifications import services
from vaxbook.notifications.models import Notification


@shared_task(base=RetryingTask, bind=True, max_retries=50)
def send_notification(self, key: str) -> str | None:
    """Send one message of the outbox; after a temporary failure, again later (10 s, 20 s,
    40 s… up to VAXBOOK_MESSAGE_RETRY_MAX seconds) until it is sent or its attempts run out."""
    notification = services.deliver(key)
    if notification is not None and notification.status == Notification.Status.QUEUED:
        wait = min(10 * 2 ** (notification.attempts - 1), settings.VAXBOOK_MESSAGE_RETRY_MAX)
        raise self.retry(countdown=wait)
    return notification.status if notification else None


@shared_task(base=RetryingTask)
def send_due_reminders() -> int:
    """Celery beat, every few minutes: the day-before reminders that are due
    (``vaxbook.notifications.reminders``)."""
    from vaxbook.notifications import reminders

    return len(reminders.send_due_reminders())
