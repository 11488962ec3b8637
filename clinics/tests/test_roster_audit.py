"""Every export of a clinic's roster is in the audit log — from the staff pages, the API or
the command line — by who made it, and a refused one is not. ``record_roster_export`` is the
one writer of these records."""

from datetime import date

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from bookings.models import Booking
from bookings.tests.factories import BookingFactory
from clinics.services import record_roster_export
from clinics.tests.factories import ClinicFactory, SlotFactory, StaffMembershipFactory
from vaxbook.auditlog.models import COMMAND_LINE, AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def roster_day():
    slot = SlotFactory(clinic=ClinicFactory(code="jongno"), date=date(2030, 5, 3))
    BookingFactory(slot=slot, status=Booking.Status.CONFIRMED, code="K7M2QX9P")
    return slot.clinic, slot.date


def _roster(clinic, file_format: str = "csv") -> str:
    return reverse("clinics:roster", kwargs={"code": clinic.code, "file_format": file_format})


def _only_export() -> AuditEvent:
    (event,) = AuditEvent.objects.filter(action="roster_exported")
    return event


def test_record_roster_export_records_who_which_clinic_which_day_and_format(roster_day):
    clinic, day = roster_day
    nurse = StaffMembershipFactory(clinic=clinic, user__username="nurse.park").user

    record_roster_export(clinic, day, actor=nurse, file_format="xlsx")
    record_roster_export(clinic, day, actor=COMMAND_LINE, file_format="csv")

    by_nurse, by_command = AuditEvent.objects.filter(action="roster_exported").order_by("pk")
    assert (by_nurse.actor, by_nurse.actor_name) == (nurse, "nurse.park")
    assert (by_nurse.object_type, by_nurse.object_id) == ("clinics.clinic", str(clinic.pk))
    assert by_nurse.details == {"clinic": "jongno", "date": "2030-05-03", "format": "xlsx"}
    assert (by_command.actor, by_command.actor_name) == (None, "command-line")
    assert by_command.details["format"] == "csv"


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_a_roster_export_on_the_staff_page_is_recorded(roster_day, file_format):
    clinic, _ = roster_day
    member = StaffMembershipFactory(clinic=clinic, user__username="nurse.park")
    client = Client()
    client.force_login(member.user)

    response = client.get(_roster(clinic, file_format), {"date": "2030-05-03"})

    assert response.status_code == 200
    event = _only_export()
    assert (event.actor, event.actor_name) == (member.user, "nurse.park")
    assert (event.object_type, event.object_id) == ("clinics.clinic", str(clinic.pk))
    assert event.details == {"clinic": "jongno", "date": "2030-05-03", "format": file_format}


def test_a_refused_roster_export_is_not_recorded(roster_day):
    clinic, _ = roster_day
    outsider = StaffMembershipFactory()  # staff at another clinic
    client = Client()
    client.force_login(outsider.user)

    assert client.get(_roster(clinic)).status_code == 403
    assert client.get(reverse("api:roster", kwargs={"code": clinic.code})).status_code == 403
    assert not AuditEvent.objects.exists()


def test_a_roster_export_on_the_command_line_is_recorded(roster_day, tmp_path):
    clinic, _ = roster_day

    call_command("export_roster", clinic="jongno", date="2030-05-03", output=tmp_path / "r.csv")

    event = _only_export()
    assert (event.actor, event.actor_name) == (None, "command-line")
    assert event.object_id == str(clinic.pk)
    assert event.details == {"clinic": "jongno", "date": "2030-05-03", "format": "csv"}
