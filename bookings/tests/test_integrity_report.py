"""The integrity audit: bookings requested outside their window or without an admission pass
while the waiting room was on. Always empty — and it finds one planted by hand."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command

from bookings.tests.factories import BookingFactory
from clinics.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db


def _run():
    from io import StringIO

    out = StringIO()
    call_command("integrity_report", stdout=out)
    return out.getvalue()


def test_normal_bookings_are_not_reported():
    BookingFactory()
    BookingFactory(waiting_room_required=True, admission_pass="a1b2c3d4e5f6a7b8")
    assert "No suspicious bookings" in _run()


def test_a_booking_planted_before_the_opening_is_found(admin_client):
    slot = SlotFactory()
    planted = BookingFactory(slot=slot, requested_at=slot.campaign.opens_at - timedelta(seconds=1))
    with pytest.raises(CommandError, match="1 suspicious"):
        _run()
    page = admin_client.get("/admin/bookings/booking/integrity/").content.decode()
    assert str(planted.public_id) in page and "outside" in page


def test_a_booking_without_a_pass_while_the_room_was_on_is_found(admin_client):
    planted = BookingFactory(waiting_room_required=True, admission_pass="")
    with pytest.raises(CommandError, match="1 suspicious"):
        _run()
    page = admin_client.get("/admin/bookings/booking/integrity/").content.decode()
    assert str(planted.public_id) in page and "no admission pass" in page


def test_the_report_is_for_officials_only(client, django_user_model):
    user = django_user_model.objects.create_user("nobody", password="pw-nobody-1", is_staff=True)
    client.force_login(user)
    assert client.get("/admin/bookings/booking/integrity/").status_code == 403
