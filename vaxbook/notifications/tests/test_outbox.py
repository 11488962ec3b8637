"""Messages people receive: written to the outbox with the change they announce, sent once by
the worker, in the language the booking was made in, never with a registration number."""

import time
from pathlib import Path

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse

from bookings import services
from bookings.models import Booking
from bookings.tests.factories import BookingFactory
from bookings.tests.flow import submit, walk_to_review
from clinics.tests.factories import SlotFactory
from vaxbook.notifications.models import Notification, mask_phone
from vaxbook.notifications.services import booking_decided, deliver

RRN = "620714-1234567"


def _sent(kind: str, deadline_s: float = 60, process=None) -> list[Notification]:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        found = list(Notification.objects.filter(kind=kind, status=Notification.Status.SENT))
        if found:
            return found
        if process is not None:
            assert process.poll() is None, Path(process.log_path).read_text()[-3000:]
        time.sleep(0.2)
    pytest.fail(f"no {kind} message was sent")


@pytest.mark.django_db(transaction=True)
def test_a_booking_made_through_the_pages_gets_exactly_one_confirmation(start_worker):
    slot = SlotFactory(capacity=2)
    client = Client(headers={"accept-language": "en"})
    submit(client, walk_to_review(client, slot, rrn=RRN))
    booking = Booking.objects.get()
    assert booking.language == "en"
    assert not Notification.objects.exists()  # nothing to say before the decision

    worker = start_worker()
    [message] = _sent(Notification.Kind.CONFIRMED, process=worker)
    booking.refresh_from_db()
    assert message.booking == booking and message.recipient == booking.phone
    assert booking.code in message.text
    assert booking.slot.clinic.name in message.text and booking.slot.clinic.address in message.text
    assert "KST" in message.text and booking.campaign.vaccine.name in message.text
    assert reverse("bookings:status", kwargs={"public_id": booking.public_id}) in message.text
    assert "1234567" not in message.text and "620714" not in message.text
    # the worker's retry or the sweep announcing the same decision again sends nothing more
    with transaction.atomic():
        booking_decided(booking)
    assert deliver(message.key).status == Notification.Status.SENT
    assert Notification.objects.filter(booking=booking).count() == 1
    assert "1234567" not in Path(worker.log_path).read_text()


@pytest.mark.django_db
def test_messages_are_in_the_language_of_the_booking(django_capture_on_commit_callbacks):
    slot = SlotFactory(capacity=2)
    korean = BookingFactory(slot=slot, language="ko")
    english = BookingFactory(slot=slot, language="en")
    for booking in (korean, english):
        services.confirm_booking(booking.pk)
    texts = {n.booking.language: n.text for n in Notification.objects.all()}
    assert set(texts) == {"ko", "en"}
    assert "예약" in texts["ko"] and "예약" not in texts["en"]
    assert texts["ko"] != texts["en"]


@pytest.mark.django_db
def test_a_rejection_and_a_cancellation_are_announced():
    slot = SlotFactory(capacity=1)
    first, second = BookingFactory(slot=slot), BookingFactory(slot=slot)
    services.confirm_booking(first.pk)
    services.confirm_booking(second.pk)  # the slot is full
    services.cancel_booking(first.pk)
    kinds = sorted(Notification.objects.values_list("booking_id", "kind"))
    assert kinds == sorted(
        [(first.pk, "confirmed"), (second.pk, "rejected"), (first.pk, "cancelled")]
    )
    rejected = Notification.objects.get(kind="rejected")
    # its link leads to the booking's page, which offers the times with places left
    assert reverse("bookings:status", kwargs={"public_id": second.public_id}) in rejected.text


def test_phones_are_masked_for_logs_and_the_admin():
    assert mask_phone("010-1234-5678") == "010-****-5678"
    assert mask_phone("01012345678") == "010-****-5678"
    assert mask_phone("kim@example.org") == "k***@example.org"


@pytest.mark.django_db
def test_the_developer_reads_the_texts_on_the_dev_outbox():
    slot = SlotFactory(capacity=2)
    booking = services.confirm_booking(BookingFactory(slot=slot).pk)
    page = Client().get(reverse("dev-outbox"))
    assert page.status_code == 200
    assert [n.kind for n in page.context["messages_sent"]] == ["confirmed"]
    assert booking.code in page.content.decode()
