"""Done when: the metrics move as bookings happen. Two people book the last place through the
pages; the scrape shows two requested, two pending, two messages in the Celery queue and the
booking steps counted by view; then a real worker decides them and the scrape shows one
confirmed, one rejected, nothing pending and the queue drained."""

import time
from pathlib import Path

import pytest
from django.test import Client

from bookings.models import Booking
from bookings.tests.flow import submit, walk_to_review
from clinics.tests.factories import SlotFactory
from vaxbook.metrics.tests.scrape import TOKEN, scrape, value

pytestmark = pytest.mark.django_db(transaction=True)


def _wait_for(condition, worker, *, timeout: float = 60):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if result := condition():
            return result
        assert worker.poll() is None, Path(worker.log_path).read_text()[-3000:]
        time.sleep(0.2)
    pytest.fail(Path(worker.log_path).read_text()[-3000:])


def test_the_counters_move_as_people_book_and_the_worker_decides(start_worker, settings):
    settings.VAXBOOK_METRICS_TOKEN = TOKEN
    settings.VAXBOOK_METRICS_CACHE_SECONDS = 0
    operator = Client()
    slot = SlotFactory(capacity=1)
    slug = slot.campaign.slug
    before = scrape(operator)
    for rrn in ("620714-1234567", "630303-2345678"):
        person = Client()
        assert submit(person, walk_to_review(person, slot, rrn=rrn)).status_code == 302

    submitted = scrape(operator)
    assert value(submitted, "vaxbook_bookings_requested_total", campaign=slug) == 2
    assert value(submitted, "vaxbook_bookings", campaign=slug, status="pending") == 2
    # the second booking was committed while the first one's confirmation waited in the
    # queue: it published nothing (that task's batch takes it)
    assert value(submitted, "vaxbook_celery_queue_length", queue="urgent") == 1
    identify = {"view": "bookings:start", "method": "POST", "status": "3xx"}
    assert (
        value(submitted, "vaxbook_http_requests_total", **identify)
        - value(before, "vaxbook_http_requests_total", **identify)
        == 2
    )

    worker = start_worker()
    _wait_for(lambda: not Booking.objects.filter(status=Booking.Status.PENDING).exists(), worker)
    decided = scrape(operator)
    total = "vaxbook_bookings_decided_total"
    assert value(decided, total, campaign=slug, outcome="confirmed") == 1
    assert value(decided, total, campaign=slug, outcome="rejected") == 1
    assert value(decided, "vaxbook_bookings", campaign=slug, status="pending") == 0
    assert value(decided, "vaxbook_oldest_pending_booking_age_seconds") == 0
    assert value(decided, "vaxbook_celery_queue_length", queue="celery") == 0
    assert value(decided, "vaxbook_confirmation_lag_max_seconds") > 0
