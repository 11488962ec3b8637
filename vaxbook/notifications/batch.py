"""Many messages into the outbox at once, for the jobs that announce to many people together
(the reminders of a day, a window's opening): one INSERT per batch instead of one per message.

``notify`` (``vaxbook.notifications.services``) stays the way for a single change; this is its
batch form, with the same promise: one message per key, ever, and each one sent after the
surrounding transaction commits.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import TypeVar

from django.db import connection, transaction

from vaxbook.notifications.models import Notification
from vaxbook.notifications.services import enqueue, render

T = TypeVar("T")


@dataclass(frozen=True)
class Message:
    """What ``notify`` takes, as one item of a batch."""

    kind: str
    recipient: str
    key: str
    context: dict = field(hash=False, compare=False)
    language: str
    booking: object = None
    channel: str = Notification.Channel.SMS


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def notify_batch(messages: Iterable[Message]) -> list[str]:
    """Write ``messages`` in one ``INSERT … ON CONFLICT (key) DO NOTHING RETURNING key`` and
    send, after the surrounding transaction commits, exactly the ones this call wrote. Returns
    their keys.

    A key already taken (by an earlier run, or by a concurrent one that committed first) writes
    nothing and is not enqueued again: two runs racing over the same people each enqueue only
    their own rows, so no message is handed to two workers at once. (``bulk_create`` with
    ``ignore_conflicts`` cannot say which rows it wrote, hence the statement built here from
    the model's own fields and their database values.)
    """
    rows = [
        Notification(
            booking=message.booking,
            kind=message.kind,
            channel=message.channel,
            recipient=message.recipient,
            language=message.language,
            text=render(message.kind, message.channel, message.context, language=message.language),
            key=message.key,
        )
        for message in messages
    ]
    if not rows:
        return []
    meta = Notification._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    values = [
        f.get_db_prep_save(f.pre_save(row, add=True), connection) for row in rows for f in fields
    ]
    placeholders = ", ".join(["(" + ", ".join(["%s"] * len(fields)) + ")"] * len(rows))
    key_column = quote(meta.get_field("key").column)
    # Only the model's own (quoted) names are formatted in; every value is a parameter.
    columns = ", ".join(quote(f.column) for f in fields)
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES {placeholders} "  # noqa: S608
        f"ON CONFLICT ({key_column}) DO NOTHING RETURNING {key_column}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        written = [key for (key,) in cursor.fetchall()]
    transaction.on_commit(lambda: _enqueue_all(written), robust=True)
    return written


def _enqueue_all(keys: list[str]) -> None:
    for key in keys:  # batches are never urgent: the default queue, as services decides it
        enqueue(key, urgent=False)
