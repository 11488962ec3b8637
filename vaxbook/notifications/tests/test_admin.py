"""Officials read the messages in the admin (recipients masked, texts as stored) and send the
failed ones again, audited; nobody adds or changes one; clinic staff see none of it."""

import pytest
from django.test import Client
from django.urls import reverse

from bookings import services as booking_services
from bookings.tests.factories import BookingFactory
from clinics.tests.factories import SlotFactory, UserFactory
from vaxbook.auditlog.models import AuditEvent
from vaxbook.notifications.models import Notification
from vaxbook.notifications.tests.broker import published
from vaxbook.roles import CLINIC_STAFF, ensure_roles

CHANGELIST = reverse("admin:notifications_notification_changelist")


@pytest.fixture
def messages_sent(db) -> tuple[Notification, Notification]:
    """A confirmation sent, and a rejection that failed."""
    slot = SlotFactory(capacity=1)
    first, second = BookingFactory(slot=slot), BookingFactory(slot=slot)
    booking_services.confirm_booking(first.pk)
    booking_services.confirm_booking(second.pk)
    Notification.objects.filter(kind="confirmed").update(status="sent", attempts=1)
    Notification.objects.filter(kind="rejected").update(
        status="failed", attempts=5, last_error="SOLAPI answered 500"
    )
    return Notification.objects.get(kind="confirmed"), Notification.objects.get(kind="rejected")


def test_officials_see_the_messages_masked_with_their_booking(official, messages_sent):
    confirmed, rejected = messages_sent
    page = official.get(CHANGELIST)
    assert page.status_code == 200
    html = page.content.decode()
    assert "010-****-5678" in html and "010-1234-5678" not in html
    assert confirmed.booking.code in html and "SOLAPI answered 500" in html

    failed_only = official.get(CHANGELIST, {"status__exact": "failed"})
    assert list(failed_only.context["cl"].result_list) == [rejected]
    by_kind = official.get(CHANGELIST, {"kind__exact": "confirmed"})
    assert list(by_kind.context["cl"].result_list) == [confirmed]

    change = official.get(reverse("admin:notifications_notification_change", args=[confirmed.pk]))
    assert change.status_code == 200
    assert confirmed.text.splitlines()[1] in change.content.decode()  # the text as stored
    assert "010-1234-5678" not in change.content.decode()
    assert 'name="_save"' not in change.content.decode()


def test_nobody_adds_changes_or_deletes_a_message(official, messages_sent):
    confirmed, _ = messages_sent
    assert official.get(reverse("admin:notifications_notification_add")).status_code == 403
    change_url = reverse("admin:notifications_notification_change", args=[confirmed.pk])
    assert official.post(change_url, {"text": "forged"}).status_code == 403
    confirmed.refresh_from_db()
    assert confirmed.text != "forged"
    assert "delete_selected" not in official.get(CHANGELIST).content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_failed_message_is_sent_again_from_the_admin_audited(official, messages_sent, broker):
    confirmed, rejected = messages_sent
    response = official.post(
        CHANGELIST,
        {"action": "resend", "_selected_action": [confirmed.pk, rejected.pk]},
    )
    assert response.status_code == 302

    rejected.refresh_from_db()
    assert (rejected.status, rejected.attempts) == ("queued", 0)
    confirmed.refresh_from_db()
    assert confirmed.status == "sent"  # only the failed are sent again
    assert published(broker) == [rejected.key]
    [event] = AuditEvent.objects.filter(action=AuditEvent.Action.MESSAGE_RESENT)
    assert event.object_id == str(rejected.pk)
    assert event.details["last_error"] == "SOLAPI answered 500"


def test_clinic_staff_have_no_access(messages_sent):
    user = UserFactory(is_staff=True)
    user.groups.add(ensure_roles()[CLINIC_STAFF])
    client = Client()
    client.force_login(user)
    assert client.get(CHANGELIST).status_code == 403
    response = client.post(
        CHANGELIST, {"action": "resend", "_selected_action": [messages_sent[1].pk]}
    )
    assert response.status_code == 403
    assert Notification.objects.get(pk=messages_sent[1].pk).status == "failed"
