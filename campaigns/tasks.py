from celery import shared_task
from django.utils import timezone

from campaigns import services, waiting_room, window_signups
from campaigns.models import Campaign
from vaxbook.celery import RetryingTask


@shared_task(name="campaigns.tasks.run_draw", base=RetryingTask)
def run_draw(campaign_id: int) -> int | None:
    return services.run_draw(campaign_id)


@shared_task(name="campaigns.tasks.draw_due_waiting_rooms")
def draw_due_waiting_rooms() -> int:
    """Safety net: draw every opening of an open waiting room whose draw is due and not yet
    recorded (the first poll after an opening normally starts it)."""
    now = timezone.now()
    rooms = Campaign.objects.filter(waiting_room_enabled=True).prefetch_related("windows", "draws")
    count = 0
    for campaign in rooms:
        config = waiting_room.build_config(campaign)
        if now.timestamp() >= config.closes_at:
            continue
        drawn = {d.opens_at.timestamp() for d in campaign.draws.all()}
        if set(waiting_room.due_draws(config, now=now.timestamp())) - drawn:
            services.run_draw(campaign.pk, now=now)
            count += 1
    return count


@shared_task(name="campaigns.tasks.send_window_notices", base=RetryingTask)
def send_window_notices() -> int:
    """Celery beat, every minute: the texts to those who asked to be told when their booking
    window opens (``campaigns.window_signups``)."""
    return len(window_signups.send_window_notices())
