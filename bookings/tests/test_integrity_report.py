"""The integrity audit: bookings requested outside their window or without an admission pass
while the waiting room was on. Always empty — and it finds one planted by hand."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils.html import escape

from bookings.selectors import suspicious_bookings
from bookings.tests.factories import BookingFactory
from campaigns.windows import is_open
from clinics.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db

REPORT = reverse("admin:bookings_booking_integrity")


def _run():
    from io import StringIO

    out = StringIO()
    call_command("integrity_report", stdout=out)
    return out.getvalue()


def _reported(admin_client, planted) -> None:
    """The report page lists the planted booking, with the reason the integrity rule gives."""
    response = admin_client.get(REPORT)
    [(booking, reason)] = response.context["rows"]
    assert booking == planted
    assert [r for b, r in suspicious_bookings()] == [reason]
    page = response.content.decode()
    assert str(planted.public_id) in page and f"<td>{escape(reason)}</td></tr>" in page


def test_normal_bookings_are_not_reported():
    BookingFactory()
    BookingFactory(waiting_room_required=True, admission_pass="a1b2c3d4e5f6a7b8")
    assert "No suspicious bookings" in _run()


def test_a_booking_planted_before_the_opening_is_found(admin_client):
    slot = SlotFactory()
    planted = BookingFactory(slot=slot, requested_at=slot.campaign.opens_at - timedelta(seconds=1))
    with pytest.raises(CommandError, match="1 suspicious"):
        _run()
    # requested outside the window (the reason that applies)
    assert not is_open(planted.campaign, at=planted.requested_at, birth_date=planted.birth_date)
    _reported(admin_client, planted)


def test_a_booking_without_a_pass_while_the_room_was_on_is_found(admin_client):
    planted = BookingFactory(waiting_room_required=True, admission_pass="")
    with pytest.raises(CommandError, match="1 suspicious"):
        _run()
    # requested in its window: the missing pass is the reason that applies
    assert is_open(planted.campaign, at=planted.requested_at, birth_date=planted.birth_date)
    _reported(admin_client, planted)


def test_the_report_is_for_officials_only(client, django_user_model):
    user = django_user_model.objects.create_user("nobody", password="pw-nobody-1", is_staff=True)
    client.force_login(user)
    assert client.get(REPORT).status_code == 403
