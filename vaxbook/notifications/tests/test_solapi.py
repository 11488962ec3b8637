"""The SOLAPI channel against a local server that answers as SOLAPI's API does: what it sends,
SMS or LMS, and its faults (5xx, a stall, a refused number, a worker killed mid-send), each
ending sent once or failed, never sent twice, and the booking untouched."""

import os
import re
import signal
import time
from datetime import timedelta
from pathlib import Path

import pytest
import redis
import time_machine
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from bookings import services as booking_services
from bookings.models import Booking
from bookings.tests.factories import BookingFactory
from clinics.tests.factories import SlotFactory
from vaxbook.celery import app
from vaxbook.notifications.models import Notification
from vaxbook.notifications.phone_codes import issue_code
from vaxbook.notifications.services import deliver, resend_notification
from vaxbook.notifications.solapi import message_type_for
from vaxbook.notifications.tests.fake_solapi import FakeSolapi

SENDER = "02-1234-5678"


@pytest.fixture
def fake_solapi():
    server = FakeSolapi()
    yield server
    server.stop()


def _solapi_env(server: FakeSolapi, **extra: str) -> dict[str, str]:
    return {
        "VAXBOOK_SMS_BACKEND": "solapi",
        "VAXBOOK_SOLAPI_API_KEY": "NCSTESTKEY",
        "VAXBOOK_SOLAPI_API_SECRET": "testsecret",
        "VAXBOOK_SOLAPI_SENDER": SENDER,
        "VAXBOOK_SOLAPI_URL": server.url,
        **extra,
    }


@pytest.fixture
def solapi(settings, fake_solapi):
    for name, value in _solapi_env(fake_solapi).items():
        setattr(settings, name, value)
    settings.VAXBOOK_SOLAPI_TIMEOUT = 0.5
    settings.VAXBOOK_MESSAGE_MAX_ATTEMPTS = 3
    return fake_solapi


def _confirmed_message(django_capture_on_commit_callbacks) -> Notification:
    """A confirmed booking and its message in the outbox (its task not run)."""
    booking = BookingFactory(slot=SlotFactory(capacity=2), language="ko")
    with django_capture_on_commit_callbacks(execute=False):
        booking_services.confirm_booking(booking.pk)
    return Notification.objects.get(booking=booking, kind=Notification.Kind.CONFIRMED)


def _deliver_until_done(key: str) -> Notification:
    """Runs the task's service as the retries would: each time at the moment it asks for."""
    with time_machine.travel(timezone.now(), tick=True) as clock:
        for _ in range(20):
            notification = deliver(key)
            if notification.status != Notification.Status.QUEUED:
                return notification
            clock.move_to(notification.next_attempt_at + timedelta(seconds=1))
    pytest.fail("still queued after 20 tries")


def test_sms_when_it_fits_90_bytes_of_euc_kr_else_lms():
    assert str(message_type_for("가" * 45)) == "SMS"  # 90 bytes
    assert str(message_type_for("가" * 46)) == "LMS"
    assert str(message_type_for("a" * 90)) == "SMS"
    assert str(message_type_for("a" * 91)) == "LMS"
    assert str(message_type_for("예약 확인 🙂")) == "LMS"  # no emoji in EUC-KR, so no SMS


@pytest.mark.django_db
def test_a_confirmation_goes_to_solapi_as_it_expects(solapi, django_capture_on_commit_callbacks):
    message = _confirmed_message(django_capture_on_commit_callbacks)
    sent = deliver(message.key)

    assert sent.status == Notification.Status.SENT and sent.attempts == 1
    [request] = solapi.sends()
    assert request.headers["Authorization"].startswith("HMAC-SHA256 ApiKey=NCSTESTKEY, Date=")
    assert "signature=" in request.headers["Authorization"]
    [body] = request.body["messages"]
    assert body["to"] == "01012345678" and body["from"] == "0212345678"
    assert body["text"] == message.text
    assert body["customFields"] == {"vaxbook_key": message.key}
    # the confirmation is longer than one SMS: sent as LMS, by our decision, and recorded
    assert body["type"] == "LMS" and body["autoTypeDetect"] is False
    assert sent.message_type == "LMS"
    assert sent.provider_id == solapi.registered[0]["messageId"]
    assert not solapi.lists()  # a first attempt has nothing to ask


@pytest.mark.django_db
def test_a_short_text_goes_as_sms(solapi):
    Notification.objects.create(
        kind=Notification.Kind.PHONE_CODE,
        channel=Notification.Channel.SMS,
        recipient="010-9876-5432",
        text="[vaxbook] 인증번호 123456",
        key="phone-code:1:sms",
    )
    assert deliver("phone-code:1:sms").message_type == "SMS"
    assert solapi.sends()[0].body["messages"][0]["type"] == "SMS"


@pytest.mark.django_db(transaction=True)
def test_a_provider_answering_500_is_retried_then_failed_and_the_booking_stands(
    solapi, django_capture_on_commit_callbacks
):
    solapi.send_fault = 500
    message = _confirmed_message(django_capture_on_commit_callbacks)

    failed = _deliver_until_done(message.key)

    assert failed.status == Notification.Status.FAILED
    assert failed.attempts == 3 and "500" in failed.last_error
    assert len(solapi.sends()) == 3  # each later attempt asked first, and found nothing
    assert len(solapi.lists()) == 2
    booking = Booking.objects.get(pk=message.booking_id)
    assert booking.status == Booking.Status.CONFIRMED


@pytest.mark.django_db(transaction=True)
def test_a_stalled_provider_times_out_and_is_retried_then_failed(
    solapi, django_capture_on_commit_callbacks
):
    solapi.send_fault = "stall"
    solapi.stall_seconds = 1.5  # past the 0.5 s timeout; nothing registered
    message = _confirmed_message(django_capture_on_commit_callbacks)

    started = time.monotonic()
    failed = _deliver_until_done(message.key)

    assert failed.status == Notification.Status.FAILED and failed.attempts == 3
    assert "did not answer within 0.5 s" in failed.last_error
    assert time.monotonic() - started < 3 * 1.5  # each attempt gave up at the timeout
    assert Booking.objects.get(pk=message.booking_id).status == Booking.Status.CONFIRMED


@pytest.mark.django_db(transaction=True)
def test_a_request_that_timed_out_after_the_provider_took_it_is_not_sent_again(
    solapi, django_capture_on_commit_callbacks
):
    solapi.send_fault = "stall_after_registering"
    solapi.stall_seconds = 1.5
    message = _confirmed_message(django_capture_on_commit_callbacks)

    sent = _deliver_until_done(message.key)

    assert sent.status == Notification.Status.SENT and sent.attempts == 2
    assert len(solapi.sends()) == 1 and len(solapi.registered) == 1
    assert sent.provider_id == solapi.registered[0]["messageId"]
    [asked] = solapi.lists()
    assert asked.query["to"] == "01012345678" and asked.query["from"] == "0212345678"


@pytest.mark.django_db
def test_a_number_solapi_refuses_fails_at_once(solapi, django_capture_on_commit_callbacks):
    solapi.refuse = True
    message = _confirmed_message(django_capture_on_commit_callbacks)
    failed = deliver(message.key)
    assert failed.status == Notification.Status.FAILED and failed.attempts == 1
    assert "3062" in failed.last_error


@pytest.mark.django_db
def test_a_4xx_is_permanent_a_429_is_not(solapi, django_capture_on_commit_callbacks):
    message = _confirmed_message(django_capture_on_commit_callbacks)
    solapi.send_fault = 429
    assert deliver(message.key).status == Notification.Status.QUEUED
    solapi.send_fault = 400
    with time_machine.travel(timezone.now() + timedelta(minutes=5)):
        refused = deliver(message.key)
    assert refused.status == Notification.Status.FAILED and "400" in refused.last_error


@pytest.mark.django_db
def test_a_message_stuck_sending_is_left_alone_during_the_lease_then_sent_once(
    solapi, settings, django_capture_on_commit_callbacks
):
    """Its worker stopped before the request left: after the lease the provider is asked,
    has nothing, and the message is sent."""
    settings.VAXBOOK_MESSAGE_SENDING_LEASE = 60
    message = _confirmed_message(django_capture_on_commit_callbacks)
    Notification.objects.filter(pk=message.pk).update(
        status=Notification.Status.SENDING, attempts=1, sending_since=timezone.now()
    )
    assert deliver(message.key).status == Notification.Status.SENDING  # in another's hands
    assert not solapi.received
    with time_machine.travel(timezone.now() + timedelta(seconds=61)):
        sent = deliver(message.key)
    assert sent.status == Notification.Status.SENT and sent.attempts == 2
    assert len(solapi.lists()) == 1 and len(solapi.sends()) == 1


@pytest.fixture
def forget_unacknowledged():
    """A killed worker's unacknowledged task would come back to a later test an hour on."""
    yield
    with redis.Redis.from_url(app.conf.broker_url) as broker:
        broker.delete("unacked", "unacked_index")


def _wait_for(condition, *, what: str, workers=(), timeout: float = 60):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        result = condition()
        if result:
            return result
        for worker in workers:
            assert worker.poll() is None, Path(worker.log_path).read_text()[-3000:]
        time.sleep(0.1)
    logs = "\n".join(Path(w.log_path).read_text()[-3000:] for w in workers)
    pytest.fail(f"timed out waiting for {what}\n{logs}")


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_send_then_replaced_sends_once(
    fake_solapi, start_worker, forget_unacknowledged
):
    fake_solapi.send_fault = "hold"  # takes the message, then does not answer
    booking = BookingFactory(slot=SlotFactory(capacity=2))
    booking_services.confirm_booking(booking.pk)  # its task is published on commit
    message = Notification.objects.get(booking=booking, kind=Notification.Kind.CONFIRMED)

    env = _solapi_env(fake_solapi, VAXBOOK_SOLAPI_TIMEOUT="60")
    worker = start_worker(**env)
    assert fake_solapi.send_arrived.wait(60), Path(worker.log_path).read_text()[-3000:]
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)
    message.refresh_from_db()
    assert message.status == Notification.Status.SENDING

    quick = {"VAXBOOK_SWEEP_INTERVAL_SECONDS": "1", "VAXBOOK_MESSAGE_SENDING_LEASE": "2"}
    replacement = start_worker(beat=True, **env, **quick)
    _wait_for(
        lambda: Notification.objects.filter(pk=message.pk, status="sent").exists(),
        what="the message sent",
        workers=[replacement],
    )

    message.refresh_from_db()
    assert len(fake_solapi.sends()) == 1  # the provider received it exactly once
    assert len(fake_solapi.lists()) >= 1  # the replacement asked before doing anything
    assert message.provider_id == fake_solapi.registered[0]["messageId"]
    assert message.attempts == 2


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_retries_a_provider_answering_500_then_gives_up(fake_solapi, start_worker):
    """The task's own retries (their waits capped at one second here), not a loop in the
    test: three attempts, then failed; the confirmation stands."""
    fake_solapi.send_fault = 500
    booking = BookingFactory(slot=SlotFactory(capacity=2))
    booking_services.confirm_booking(booking.pk)
    env = _solapi_env(fake_solapi, VAXBOOK_MESSAGE_MAX_ATTEMPTS="3", VAXBOOK_MESSAGE_RETRY_MAX="1")
    worker = start_worker(**env)
    _wait_for(
        lambda: Notification.objects.filter(booking=booking, status="failed").exists(),
        what="the message failed",
        workers=[worker],
    )
    message = Notification.objects.get(booking=booking)
    assert message.attempts == 3 and "500" in message.last_error
    assert len(fake_solapi.sends()) == 3
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED


@pytest.mark.django_db
def test_a_resend_after_a_timeout_asks_the_provider_before_sending_again(
    solapi, django_capture_on_commit_callbacks, admin_user
):
    # the provider took the message but answered too late, every time: failed in the end
    solapi.send_fault = "stall_after_registering"
    solapi.stall_seconds = 1.5
    message = _confirmed_message(django_capture_on_commit_callbacks)
    with override_settings(VAXBOOK_MESSAGE_MAX_ATTEMPTS=1):
        assert deliver(message.key).status == Notification.Status.FAILED
    # an official sends it again: the provider is asked first, and it has it
    solapi.send_fault = None
    with django_capture_on_commit_callbacks(execute=False):
        resend_notification(message.pk, actor=admin_user)
    again = deliver(message.key)
    assert again.status == Notification.Status.SENT
    assert len(solapi.sends()) == 1 and len(solapi.lists()) == 1


@pytest.mark.django_db
def test_a_reminder_waiting_when_its_booking_is_cancelled_is_not_sent(
    solapi, django_capture_on_commit_callbacks
):
    solapi.send_fault = 500
    message = _confirmed_message(django_capture_on_commit_callbacks)
    assert deliver(message.key).status == Notification.Status.QUEUED  # waits for a retry
    with django_capture_on_commit_callbacks(execute=False):
        booking_services.cancel_booking(message.booking_id)
    solapi.send_fault = None
    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        late = deliver(message.key)
    assert late.status == Notification.Status.FAILED and late.last_error.startswith("superseded")
    assert len(solapi.sends()) == 1  # only the attempt that got the 500


@pytest.mark.django_db
def test_a_one_time_code_is_not_kept_once_sent_nor_shown_nor_resent(
    solapi, admin_client, admin_user
):
    issue_code("010-1234-5678", "booking", language="ko", address="203.0.113.7")
    code = Notification.objects.get(kind=Notification.Kind.PHONE_CODE)
    assert re.search(r"\d{6}", code.text)  # waiting to go: the text holds it
    page = admin_client.get(reverse("admin:notifications_notification_change", args=[code.pk]))
    assert page.status_code == 200 and not re.search(r"\b\d{6}\b", _readonly_text(page))
    sent = deliver(code.key)
    assert sent.status == Notification.Status.SENT
    assert re.search(r"\d{6}", solapi.sends()[0].body["messages"][0]["text"])
    sent.refresh_from_db()
    assert sent.text == ""
    Notification.objects.filter(pk=sent.pk).update(status=Notification.Status.FAILED)
    resend_notification(sent.pk, actor=admin_user)
    sent.refresh_from_db()
    assert sent.status == Notification.Status.FAILED  # a stale code is never sent again


def _readonly_text(page) -> str:
    return " ".join(re.findall(r'<div class="readonly">(.*?)</div>', page.content.decode(), re.S))
