"""What waits in the real Redis broker's queues (the ``broker`` fixture, conftest.py)."""

import ast
import json


def published(broker) -> list[str]:
    """The keys of the send_notification tasks waiting in the broker's queues."""
    keys = []
    for queue in ("celery", "urgent"):
        for raw in broker.lrange(queue, 0, -1):
            headers = json.loads(raw)["headers"]
            if headers["task"] == "vaxbook.notifications.tasks.send_notification":
                keys.append(ast.literal_eval(headers["argsrepr"])[0])
    return keys
