"""The sweep: a message whose task was lost (a broker restarted, a killed worker's message
waiting for Redis's visibility timeout) or whose worker stopped mid-send is published again,
once its lease has passed and not before; one waiting out its backoff is left to wait."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from vaxbook.notifications.models import Notification
from vaxbook.notifications.services import redeliver_stalled
from vaxbook.notifications.tests.broker import published


def _message(key: str, **fields) -> Notification:
    return Notification.objects.create(
        kind=Notification.Kind.CONFIRMED,
        channel=Notification.Channel.SMS,
        recipient="010-1234-5678",
        text="text",
        key=key,
        **fields,
    )


@pytest.mark.django_db
def test_stalled_messages_are_published_again_after_the_lease(settings, broker):
    settings.VAXBOOK_MESSAGE_SENDING_LEASE = 60
    now = timezone.now()
    with time_machine.travel(now - timedelta(minutes=5)):
        _message("lost-task")
        _message("lost-worker", status="sending", attempts=1, sending_since=timezone.now())
        _message("lost-before-the-lease", status="sending", attempts=1)
        _message("in-backoff", attempts=2, next_attempt_at=now + timedelta(seconds=30))
        _message("done", status="sent")
        _message("given-up", status="failed")
    with time_machine.travel(now - timedelta(seconds=30)):
        _message("just-written")
        _message("being-sent", status="sending", attempts=1, sending_since=timezone.now())

    with time_machine.travel(now):
        assert redeliver_stalled() == 3
    assert sorted(published(broker)) == ["lost-before-the-lease", "lost-task", "lost-worker"]
