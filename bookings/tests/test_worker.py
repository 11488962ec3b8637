"""End to end with a real Celery worker process on the real Redis broker: a citizen submits,
the worker confirms, the status page shows the booking code."""

import time
from pathlib import Path

import pytest
from django.test import Client

from bookings.models import Booking
from bookings.tests.flow import submit, walk_to_review
from clinics.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _wait_until_decided(booking_id: int, process, deadline_s: float = 60) -> Booking:
    # A wait, not a speed check: the worker may take a while to start on a busy machine.
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        booking = Booking.objects.get(pk=booking_id)
        if booking.status != Booking.Status.PENDING:
            return booking
        assert process.poll() is None, Path(process.log_path).read_text()[-3000:]
        time.sleep(0.2)
    pytest.fail("the worker did not decide the booking")


def test_submit_then_the_worker_confirms_one_and_rejects_the_other(start_worker):
    slot = SlotFactory(capacity=1)
    later = SlotFactory(campaign=slot.campaign, clinic=slot.clinic, start_time="11:00", capacity=4)
    first, second = Client(), Client()
    # Both reach the last place before any confirmation: the worker decides who gets it.
    first_status = submit(first, walk_to_review(first, slot, rrn="620714-1234567"))["Location"]
    second_status = submit(second, walk_to_review(second, slot, rrn="630303-2345678"))["Location"]
    assert 'id="booking" data-status="pending"' in first.get(first_status).content.decode()
    early, late = Booking.objects.order_by("requested_at", "pk")

    worker = start_worker()
    early = _wait_until_decided(early.pk, worker)
    late = _wait_until_decided(late.pk, worker)
    assert (early.status, late.status) == (Booking.Status.CONFIRMED, Booking.Status.REJECTED)
    slot.refresh_from_db()
    assert slot.booked == 1

    page = first.get(first_status).content.decode()
    assert 'id="booking" data-status="confirmed"' in page
    assert f'id="booking-code">{early.code}</strong>' in page
    rejected = second.get(second_status)
    assert 'data-status="rejected" data-reject-reason="slot_full"' in rejected.content.decode()
    assert rejected.context["alternatives"] == [later]  # the 11:00 slot, offered instead
    worker_log = Path(worker.log_path).read_text()
    assert "confirmed" in worker_log  # the worker logs its work...
    assert "1234567" not in worker_log and "2345678" not in worker_log  # ...never an RRN
