"""The texts of a batch of decisions go out together (``deliver_many``, the
``send_notifications`` task) with ``deliver``'s promise: each handed to its channel once,
a message whose booking no longer stands not sent, one already tried left to ``deliver``."""

from datetime import time

import pytest
from django.utils import translation

from bookings import services
from bookings.tests.factories import BookingFactory
from clinics.tests.factories import SlotFactory
from vaxbook.notifications import tasks
from vaxbook.notifications.models import Notification
from vaxbook.notifications.services import (
    EMAIL_SUBJECTS,
    booking_context,
    deliver_many,
    render,
)

pytestmark = pytest.mark.django_db


def _decided_in_one_batch(count: int, capacity: int) -> list[str]:
    slot = SlotFactory(capacity=capacity)
    bookings = BookingFactory.create_batch(count, slot=slot)
    services._decide_batch([b.pk for b in bookings], now=bookings[0].requested_at, skip_locked=True)
    return list(Notification.objects.order_by("pk").values_list("key", flat=True))


def test_a_batch_of_texts_is_sent_once_each():
    keys = _decided_in_one_batch(4, capacity=3)
    assert len(keys) == 4
    assert tasks.send_notifications(keys) == 4
    sent = Notification.objects.filter(key__in=keys)
    assert set(sent.values_list("status", flat=True)) == {"sent"}
    assert set(sent.values_list("attempts", flat=True)) == {1}
    assert not sent.filter(sent_at=None).exists()
    assert sorted(sent.values_list("kind", flat=True)) == ["confirmed"] * 3 + ["rejected"]
    # the task run again (a redelivery) sends nothing more
    first_sent = dict(sent.values_list("key", "sent_at"))
    tasks.send_notifications(keys)
    assert set(sent.values_list("attempts", flat=True)) == {1}
    assert dict(sent.values_list("key", "sent_at")) == first_sent


def test_a_cancelled_booking_s_confirmation_is_not_sent_and_a_retry_goes_through_deliver():
    keys = _decided_in_one_batch(3, capacity=3)
    cancelled = Notification.objects.get(key=keys[0])
    services.cancel_booking(cancelled.booking_id)
    retried = Notification.objects.get(key=keys[1])
    Notification.objects.filter(pk=retried.pk).update(attempts=1, last_error="timeout")

    outcomes = {n.key: n for n in deliver_many(keys)}
    assert outcomes[keys[0]].status == Notification.Status.FAILED
    assert Notification.objects.get(key=keys[0]).last_error.startswith("superseded")
    assert outcomes[keys[1]].status == Notification.Status.SENT
    assert Notification.objects.get(key=keys[1]).attempts == 2  # deliver's second attempt
    assert Notification.objects.get(key=keys[2]).status == Notification.Status.SENT


def test_a_batch_writes_each_person_the_text_a_single_decision_writes():
    """A batch renders language by language with shared lookups: each text, e-mail subject
    included, is still the one ``render`` writes for that person in their language."""
    # two times of one campaign: each text says its own
    first = SlotFactory(capacity=2, start_time=time(9, 0))
    slots = [first, SlotFactory(capacity=1, campaign=first.campaign, start_time=time(14, 30))]
    bookings = [
        BookingFactory(slot=slots[i % 2], language=("ko", "en")[i // 2 % 2], email=email)
        for i, email in enumerate(["", "a@example.test", "", "b@example.test", "", ""])
    ]
    services._decide_batch([b.pk for b in bookings], now=bookings[0].requested_at, skip_locked=True)
    rows = Notification.objects.select_related("booking__slot__clinic", "booking__campaign")
    assert rows.count() == 8
    assert {row.kind for row in rows} == {"confirmed", "rejected"}
    assert {row.language for row in rows} == {"ko", "en"}
    for row in rows:
        booking = row.booking
        assert row.text == render(
            row.kind, row.channel, booking_context(booking), language=booking.language
        )
        if row.channel == "email":
            with translation.override(booking.language):
                assert row.subject == str(EMAIL_SUBJECTS[row.kind])
