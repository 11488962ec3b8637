"""Undoing a check-in made by mistake: only on the appointment's day (Korea time), by the
service, the staff page and the API alike."""

from datetime import UTC, datetime, time, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from bookings import services
from bookings.errors import CannotCheckIn
from bookings.tests.factories import BookingFactory
from clinics.tests.factories import ClinicFactory, SlotFactory, StaffMembershipFactory
from vaxbook.dates import KST

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("away_from_midnight")]


def _korea(day, hour, minute=0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=KST).astimezone(UTC)


def _checked_in(slot, *, at: datetime):
    booking = services.confirm_booking(BookingFactory(slot=slot).pk)
    staff = StaffMembershipFactory(clinic=slot.clinic).user
    return services.check_in_booking(booking.pk, by=staff, now=at), staff


def test_undo_on_the_day_clears_the_check_in_and_is_idempotent():
    day = timezone.localdate() + timedelta(days=3)
    booking, staff = _checked_in(SlotFactory(date=day), at=_korea(day, 9))
    undone = services.undo_check_in(booking.pk, by=staff, now=_korea(day, 23, 59))
    undone.refresh_from_db()
    assert (undone.checked_in_at, undone.checked_in_by) == (None, None)
    again = services.undo_check_in(booking.pk, by=staff, now=_korea(day, 23, 59))
    assert again.checked_in_at is None
    # and the person can be checked in again
    services.check_in_booking(booking.pk, by=staff, now=_korea(day, 10))
    booking.refresh_from_db()
    assert booking.checked_in_at == _korea(day, 10)


@pytest.mark.parametrize("days", [1, -1])
def test_undo_on_another_day_is_refused(days):
    day = timezone.localdate() + timedelta(days=3)
    booking, staff = _checked_in(SlotFactory(date=day), at=_korea(day, 9))
    moment = _korea(day + timedelta(days=days), 0 if days > 0 else 23, 5 if days > 0 else 55)
    with pytest.raises(CannotCheckIn) as refused:
        services.undo_check_in(booking.pk, by=staff, now=moment)
    assert refused.value.reason == "not_today"
    booking.refresh_from_db()
    assert booking.checked_in_at == _korea(day, 9)


def _api(clinic, booking) -> str:
    return reverse("api:check-in", kwargs={"code": clinic.code, "booking_code": booking.code})


def test_the_api_undoes_a_check_in_with_delete():
    clinic = ClinicFactory()
    booking, staff = _checked_in(
        SlotFactory(clinic=clinic, date=timezone.localdate()), at=timezone.now()
    )
    client = Client()
    client.force_login(staff)
    answer = client.delete(_api(clinic, booking))
    assert answer.status_code == 200
    assert answer.json() == {
        "code": booking.code,
        "dose": 1,
        "checked_in_at": None,
        "next_dose": None,
    }
    booking.refresh_from_db()
    assert booking.checked_in_at is None


def test_the_api_says_why_an_undo_is_refused_and_others_cannot():
    clinic = ClinicFactory()
    day = timezone.localdate() + timedelta(days=2)
    booking, staff = _checked_in(SlotFactory(clinic=clinic, date=day), at=_korea(day, 9))
    client = Client()
    client.force_login(staff)
    answer = client.delete(_api(clinic, booking))
    assert answer.status_code == 409
    assert (answer.json()["code"], answer.json()["reason"]) == ("cannot_check_in", "not_today")

    outsider = Client()
    outsider.force_login(StaffMembershipFactory(clinic=ClinicFactory()).user)
    assert outsider.delete(_api(clinic, booking)).status_code == 403
    booking.refresh_from_db()
    assert booking.checked_in_at == _korea(day, 9)
