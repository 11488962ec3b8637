import codecs
import csv
import io
from datetime import time

import pytest
from django.core.management import CommandError, call_command
from django.http import Http404
from django.test import Client
from django.urls import reverse
from django.utils import translation
from openpyxl import load_workbook

from bookings import services
from bookings.models import Booking
from bookings.tests.factories import BookingFactory
from clinics.access import NotYourClinic, access_clinic
from clinics.rosters import RosterExporter, neutralise
from clinics.tests.factories import ClinicFactory, SlotFactory, StaffMembershipFactory
from vaxbook.auditlog.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def day_of_bookings():
    clinic = ClinicFactory(code="jongno")
    afternoon = SlotFactory(clinic=clinic, start_time=time(14, 0))
    morning = SlotFactory(
        clinic=clinic, campaign=afternoon.campaign, date=afternoon.date, start_time=time(9, 30)
    )
    late = BookingFactory(slot=afternoon, name='=HYPERLINK("http://evil")', rrn="650505-2123456")
    early = BookingFactory(slot=morning, name="김민수", rrn="620714-1234567", phone="010-2222-3333")
    services.confirm_booking(late.pk)
    services.confirm_booking(early.pk)
    BookingFactory(slot=morning, status=Booking.Status.CANCELLED, name="Cancelled Person")
    return clinic, afternoon.date


def _headers(language: str) -> list[str]:
    with translation.override(language):
        return [str(header) for header in RosterExporter.headers]


def _csv_url(clinic) -> str:
    return reverse("clinics:roster", kwargs={"code": clinic.code, "file_format": "csv"})


def _rows(content: bytes):
    assert content.startswith(codecs.BOM_UTF8), "Excel needs the BOM to show Korean names"
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def test_staff_export_their_clinic_roster_ordered_by_time(day_of_bookings):
    clinic, day = day_of_bookings
    member = StaffMembershipFactory(clinic=clinic)
    client = Client()
    client.force_login(member.user)
    response = client.get(_csv_url(clinic), {"date": day.isoformat()})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    header, first, second = _rows(response.content)
    # the exporter's header (in Korean: no language asked), then time, code, name, birth
    # date, number, phone, status, dose
    assert header == _headers("ko") and len(header) == 8
    assert first[0] == "09:30" and first[2] == "김민수" and first[3] == "1962-07-14"
    assert first[4] == "620714-1******" and first[5] == "010-2222-3333"
    assert first[6] == Booking.Status.CONFIRMED.label
    assert len(first[1]) == 8
    assert second[0] == "14:00"
    assert second[2] == '\'=HYPERLINK("http://evil")', "a formula is shown as text"
    assert b"1234567" not in response.content


def test_the_headers_are_in_the_staff_language_and_the_json_keys_never_change(day_of_bookings):
    clinic, day = day_of_bookings
    member = StaffMembershipFactory(clinic=clinic)
    english = Client(headers={"accept-language": "en"})
    english.force_login(member.user)
    korean = Client(headers={"accept-language": "ko"})
    korean.force_login(member.user)
    assert _headers("en") != _headers("ko")
    for client, language in ((english, "en"), (korean, "ko")):
        response = client.get(_csv_url(clinic), {"date": day.isoformat()})
        assert _rows(response.content)[0] == _headers(language)
        as_json = client.get(reverse("api:roster", kwargs={"code": clinic.code}), {"date": day})
        assert set(as_json.json()["bookings"][0]) == {
            "time",
            "code",
            "name",
            "birth_date",
            "rrn",
            "phone",
            "status",
            "dose",
        }
        # the status is a code a program can rely on, whatever the language of the request
        statuses = {booking["status"] for booking in as_json.json()["bookings"]}
        assert statuses and statuses <= {choice.value for choice in Booking.Status}


def test_staff_of_another_clinic_get_403(day_of_bookings):
    clinic, day = day_of_bookings
    outsider = StaffMembershipFactory(clinic=ClinicFactory())
    client = Client()
    client.force_login(outsider.user)
    response = client.get(_csv_url(clinic), {"date": day.isoformat()})
    assert response.status_code == 403
    assert response.context["title"]  # the page says why, not a bare 403


def test_anonymous_is_sent_to_log_in(day_of_bookings):
    clinic, day = day_of_bookings
    response = Client().get(_csv_url(clinic))
    assert response.status_code == 302
    assert response["Location"].startswith(f"{reverse('admin-login')}?next=")


def test_staff_home_lists_only_their_clinics(day_of_bookings):
    clinic, _ = day_of_bookings
    other = ClinicFactory(name="Elsewhere Clinic")
    member = StaffMembershipFactory(clinic=clinic)
    client = Client()
    client.force_login(member.user)
    page = client.get(reverse("clinics:staff-home")).content.decode()
    assert clinic.name in page and other.name not in page


def test_a_malformed_day_is_404_not_500(day_of_bookings):
    clinic, _ = day_of_bookings
    member = StaffMembershipFactory(clinic=clinic)
    client = Client()
    client.force_login(member.user)
    assert client.get(_csv_url(clinic), {"date": "2021-13-01"}).status_code == 404


@pytest.mark.parametrize(
    ("cell", "shown"),
    [
        ("=1+1", "'=1+1"),
        ("+82", "'+82"),
        ("-5", "'-5"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("Kim", "Kim"),
        ("010-1234", "010-1234"),
    ],
)
def test_cells_that_a_spreadsheet_would_run_are_neutralised(cell, shown):
    assert neutralise(cell) == shown


def test_the_command_writes_the_same_roster(day_of_bookings, tmp_path):
    clinic, day = day_of_bookings
    out = tmp_path / "roster.csv"
    call_command(
        "export_roster", "--clinic", clinic.code, "--date", day.isoformat(), "--output", str(out)
    )
    rows = _rows(out.read_bytes())
    assert [r[0] for r in rows[1:]] == ["09:30", "14:00"]
    stdout = io.StringIO()
    call_command("export_roster", "--clinic", clinic.code, "--date", day.isoformat(), stdout=stdout)
    printed = list(csv.reader(io.StringIO(stdout.getvalue().lstrip("\ufeff"))))
    assert printed == rows and printed[0] == _headers("ko")


def test_the_command_explains_bad_arguments(day_of_bookings):
    with pytest.raises(CommandError, match="No clinic"):
        call_command("export_roster", "--clinic", "nope", "--date", "2021-07-14")
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("export_roster", "--clinic", day_of_bookings[0].code, "--date", "14/07/2021")


def _xlsx_rows(content: bytes) -> list[list[str]]:
    workbook = load_workbook(io.BytesIO(content), read_only=True)
    (sheet,) = workbook.worksheets
    return [["" if cell is None else str(cell) for cell in row] for row in sheet.values]


def _staff_of(clinic) -> Client:
    client = Client()
    client.force_login(StaffMembershipFactory(clinic=clinic).user)
    return client


def test_the_roster_as_xlsx_has_the_same_rows_masked_and_neutralised(day_of_bookings):
    clinic, day = day_of_bookings
    client = _staff_of(clinic)

    def url(file_format):
        return reverse("clinics:roster", kwargs={"code": clinic.code, "file_format": file_format})

    as_csv = client.get(url("csv"), {"date": day.isoformat()})
    as_xlsx = client.get(url("xlsx"), {"date": day.isoformat()})
    assert as_xlsx.status_code == 200
    assert as_xlsx["Content-Type"].startswith("application/vnd.openxmlformats")
    assert as_xlsx["Content-Disposition"].endswith(f'roster-{clinic.code}-{day}.xlsx"')
    assert _xlsx_rows(as_xlsx.content) == _rows(as_csv.content)
    cells = [cell for row in _xlsx_rows(as_xlsx.content) for cell in row]
    assert "620714-1******" in cells and '\'=HYPERLINK("http://evil")' in cells
    assert not any("1234567" in cell for cell in cells)
    assert client.get(url("pdf"), {"date": day.isoformat()}).status_code == 404


def test_the_api_gives_the_roster_as_json_csv_or_xlsx(day_of_bookings):
    clinic, day = day_of_bookings
    client = _staff_of(clinic)
    url = reverse("api:roster", kwargs={"code": clinic.code})
    as_json = client.get(url, {"date": day.isoformat()})
    assert [b["time"] for b in as_json.json()["bookings"]] == ["09:30", "14:00"]
    as_xlsx = client.get(url, {"date": day.isoformat(), "file": "xlsx"})
    assert [r[0] for r in _xlsx_rows(as_xlsx.content)[1:]] == ["09:30", "14:00"]
    as_csv = client.get(url, {"date": day.isoformat(), "file": "csv"})
    assert [r[0] for r in _rows(as_csv.content)[1:]] == ["09:30", "14:00"]
    assert client.get(url, {"date": day.isoformat(), "file": "pdf"}).status_code == 400
    formats = AuditEvent.objects.filter(action="roster_exported").values_list(
        "details__format", flat=True
    )
    assert sorted(formats) == ["csv", "json", "xlsx"]


def test_the_command_writes_xlsx_to_a_file(day_of_bookings, tmp_path):
    clinic, day = day_of_bookings
    out = tmp_path / "roster.xlsx"
    call_command(
        "export_roster",
        "--clinic",
        clinic.code,
        "--date",
        day.isoformat(),
        "--format",
        "xlsx",
        "--output",
        str(out),
    )
    assert [r[0] for r in _xlsx_rows(out.read_bytes())[1:]] == ["09:30", "14:00"]
    with pytest.raises(CommandError, match="--output"):
        call_command(
            "export_roster", "--clinic", clinic.code, "--date", day.isoformat(), "--format", "xlsx"
        )


def test_one_path_to_a_clinic(day_of_bookings):
    clinic, _ = day_of_bookings
    member = StaffMembershipFactory(clinic=clinic)
    assert access_clinic(member.user, clinic.code) == clinic
    with pytest.raises(NotYourClinic):
        access_clinic(StaffMembershipFactory(clinic=ClinicFactory()).user, clinic.code)
    with pytest.raises(Http404):
        access_clinic(member.user, "no-such-clinic")
