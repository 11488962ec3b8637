"""Multi-dose courses with a real Celery worker process on the real Redis broker: a two-dose
booking asked for through the API is confirmed by the worker with both appointments, and the
hourly no-show sweep, sent to the worker as beat would send it, marks a missed first dose and
frees its second dose's place — once: sent again, it changes nothing."""

import re
import time
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from bookings import tasks
from bookings.models import Booking
from bookings.tests.doses import assert_places_add_up, book_course, course_slots, two_dose_campaign
from bookings.tests.factories import rrn_for
from clinics.models import Slot
from vaxbook.notifications.models import Notification

pytestmark = pytest.mark.django_db(transaction=True)


def _log(worker) -> str:
    return Path(worker.log_path).read_text(errors="replace")


def _wait_for(condition, *, what: str, worker, timeout: float = 60):
    # A wait, not a speed check: the worker may take a while to start on a busy machine.
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if value := condition():
            return value
        assert worker.poll() is None, f"the worker died:\n{_log(worker)[-3000:]}"
        time.sleep(0.2)
    pytest.fail(f"gave up waiting until {what}\n{_log(worker)[-3000:]}")


def _result_through_worker(task, worker) -> str:
    """Send ``task`` to the worker and wait for its result: the return value the worker logs
    when the task succeeded (the project keeps no result backend)."""
    sent = task.delay()
    done = re.compile(rf"\[{re.escape(sent.id)}\] succeeded in [0-9.e-]+s: (.*)$", re.M)
    return _wait_for(
        lambda: (found := done.search(_log(worker))) and found.group(1),
        what=f"{task.name} returned",
        worker=worker,
    )


def test_a_two_dose_booking_asked_through_the_api_is_confirmed_with_both_appointments(
    start_worker,
):
    campaign = two_dose_campaign()
    firsts, seconds = course_slots(campaign)
    api = APIClient()
    url = reverse("api:booking-create", kwargs={"campaign": campaign.slug})
    body = {"name": "Kim Minsu", "rrn": rrn_for(1), "phone": "010-1234-5678", "slot": firsts[0].pk}
    response = api.post(url, body, format="json")
    assert response.status_code == 202
    assert [d["status"] for d in response.json()["doses"]] == ["pending", "pending"]

    worker = start_worker()
    booking = _wait_for(
        lambda: Booking.objects.filter(dose=1).exclude(status=Booking.Status.PENDING).first(),
        what="the worker decided the booking",
        worker=worker,
    )
    second = booking.later_doses.get()
    assert booking.status == second.status == Booking.Status.CONFIRMED
    assert second.slot_id == seconds[0].pk and second.code == f"{booking.code}-2"
    assert [Slot.objects.get(pk=s.pk).booked for s in (firsts[0], seconds[0])] == [1, 1]
    assert_places_add_up()
    status_url = reverse("api:booking-status", kwargs={"public_id": booking.public_id})
    answer = api.get(status_url).json()
    assert [(d["dose"], d["status"], d["slot"]) for d in answer["doses"]] == [
        (1, "confirmed", firsts[0].pk),
        (2, "confirmed", seconds[0].pk),
    ]


def test_the_no_show_sweep_through_the_worker_frees_a_missed_first_doses_second_once(
    start_worker,
):
    # Booked ten days ago for a week ago; the second dose is two weeks from now.
    with time_machine.travel(timezone.now() - timedelta(days=10)):
        campaign = two_dose_campaign()
        firsts, seconds = course_slots(campaign)
        missed = book_course(campaign, firsts[0], 1)
        came = book_course(campaign, firsts[1], 2)
        Booking.objects.filter(pk=came.pk).update(checked_in_at=timezone.now() + timedelta(days=7))
    assert firsts[0].date < timezone.localdate() < seconds[0].date
    assert [Slot.objects.get(pk=s.pk).booked for s in (*firsts, *seconds)] == [1, 1, 1, 1]

    worker = start_worker()
    assert _result_through_worker(tasks.mark_no_shows, worker) == "1"
    missed.refresh_from_db()
    missed_second = missed.later_doses.get()
    assert missed.status == Booking.Status.NO_SHOW
    assert missed_second.status == Booking.Status.CANCELLED
    assert missed_second.cancel_reason == Booking.CancelReason.FIRST_DOSE_MISSED
    came_second = came.later_doses.get()
    assert Booking.objects.get(pk=came.pk).status == came_second.status == "confirmed"
    # the missed first's place and its second's are free; the person who came keeps theirs
    after = [Slot.objects.get(pk=s.pk).booked for s in (*firsts, *seconds)]
    assert after == [0, 1, 0, 1]
    assert_places_add_up()
    told = Notification.objects.filter(booking=missed, kind="changed").count()
    assert told == 1

    statuses = dict(Booking.objects.values_list("pk", "status"))
    assert _result_through_worker(tasks.mark_no_shows, worker) == "0"
    assert dict(Booking.objects.values_list("pk", "status")) == statuses
    assert [Slot.objects.get(pk=s.pk).booked for s in (*firsts, *seconds)] == after
    assert Notification.objects.filter(booking=missed, kind="changed").count() == told
