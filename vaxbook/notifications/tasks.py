from celery import shared_task
from django.utils import timezone

from vaxbook.celery import RetryingTask
from vaxbook.notifications import services
from vaxbook.notifications.models import Notification


@shared_task(base=RetryingTask, bind=True, max_retries=50)
def send_notification(self, key: str) -> str | None:
    """Send one message of the outbox; after a temporary failure, again at its
    ``next_attempt_at`` (10 s, 20 s, 40 s… up to VAXBOOK_MESSAGE_RETRY_MAX seconds later) until
    it is sent or its attempts run out."""
    notification = services.deliver(key)
    if notification is not None and notification.status == Notification.Status.QUEUED:
        wait = (notification.next_attempt_at or timezone.now()) - timezone.now()
        raise self.retry(countdown=max(1, round(wait.total_seconds())))
    return notification.status if notification else None


@shared_task(base=RetryingTask)
def send_notifications(keys: list[str]) -> int:
    """Send the messages of one batch of decisions (one task for a hundred texts instead of a
    hundred; ``services.deliver_many``); one that failed for now is handed to its own
    ``send_notification`` at its ``next_attempt_at``. Returns how many stand sent. A retry of the
    whole task (a database error) finds the ones already sent done."""
    sent = 0
    for notification in services.deliver_many(keys):
        if notification.status == Notification.Status.SENT:
            sent += 1
        elif notification.status == Notification.Status.QUEUED:
            wait = (notification.next_attempt_at or timezone.now()) - timezone.now()
            send_notification.apply_async(
                (notification.key,), countdown=max(1, round(wait.total_seconds()))
            )
    return sent


@shared_task(base=RetryingTask)
def send_stalled_notifications() -> int:
    """The sweep (Celery beat): messages whose task or worker was lost are published again."""
    return services.redeliver_stalled()


@shared_task(base=RetryingTask)
def send_due_reminders() -> int:
    """Celery beat, every few minutes: the day-before reminders that are due
    (``vaxbook.notifications.reminders``)."""
    from vaxbook.notifications import reminders

    return len(reminders.send_due_reminders())
