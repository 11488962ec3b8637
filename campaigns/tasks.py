from celery import shared_task
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from campaigns import services, waiting_room
from campaigns.models import Campaign


@shared_task(
    name="campaigns.tasks.run_draw",
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    max_retries=5,
    retry_backoff=True,
)
def run_draw(campaign_id: int) -> int | None:
    return services.run_draw(campaign_id)


@shared_task(name="campaigns.tasks.draw_due_waiting_rooms")
def draw_due_waiting_rooms() -> int:
    """Safety net: draw every waiting room whose opening has passed and is not drawn yet."""
    now = timezone.now()
    due = Campaign.objects.filter(
        waiting_room_enabled=True, drawn_at__isnull=True, opens_at__lte=now, closes_at__gt=now
    )
    count = 0
    for campaign in due:
        if waiting_room.draw_due(waiting_room.build_config(campaign), now=now.timestamp()):
            services.run_draw(campaign.pk, now=now)
            count += 1
    return count
