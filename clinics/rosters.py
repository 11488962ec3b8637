"""The day's roster of a clinic: an exporter that yields rows, and the file formats that write
them (CSV and XLSX), so the format is the caller's choice (pretix's ``ListExporter``).

Every cell a person typed (the name, above all) is neutralised before it reaches a spreadsheet,
in both formats: a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is
prefixed with an apostrophe so that Excel or LibreOffice show it as text instead of running it.
Registration numbers are masked (``620714-1******``) in the rows themselves.

The column headers and the status are for the staff who read the file, so they are in the
language active when it is written; the other cells are data (ISO dates, 24-hour times).
"""

import codecs
import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import IO

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from openpyxl import Workbook

from bookings.models import Booking
from clinics.models import Clinic
from clinics.selectors import day_bookings

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> str:
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_TRIGGERS):
        return "'" + text
    return text


class RosterExporter:
    """The appointments of one clinic on one day, ordered by time, each with its dose."""

    headers = (
        _("Time"),
        _("Booking code"),
        _("Name"),
        _("Date of birth"),
        _("Resident registration no."),
        _("Phone"),
        _("Status"),
        # Last, so that spreadsheets and scripts that read the columns by position keep working.
        _("Dose"),
    )

    def __init__(self, clinic: Clinic, day: date):
        self.clinic = clinic
        self.day = day

    def bookings(self) -> QuerySet[Booking]:
        return day_bookings(self.clinic, self.day)

    def iter_rows(self, *, labels: bool = True) -> Iterator[tuple[str | int, ...]]:
        """One row per appointment (a dose; the no-shows of a past day too). ``labels``: the
        status as the staff read it (a file); without, its code (``confirmed``), which a
        program can rely on whatever the language (the API)."""
        for booking in self.bookings().iterator(chunk_size=2000):
            yield (
                booking.slot.start_time.strftime("%H:%M"),
                booking.code or "",
                booking.name,
                booking.birth_date.isoformat(),
                booking.rrn_masked,
                booking.phone,
                booking.get_status_display() if labels else booking.status,
                booking.dose,
            )

    def filename(self, file_format: str) -> str:
        return f"roster-{self.clinic.code}-{self.day.isoformat()}.{file_format}"


def write_csv(exporter: RosterExporter, stream: IO[str]) -> None:
    """UTF-8 with a byte-order mark, so that Excel shows Korean names."""
    stream.write(codecs.BOM_UTF8.decode("utf-8"))
    writer = csv.writer(stream)
    writer.writerow([str(header) for header in exporter.headers])
    for row in exporter.iter_rows():
        writer.writerow([neutralise(cell) for cell in row])


def render_csv(exporter: RosterExporter) -> bytes:
    buffer = io.StringIO()
    write_csv(exporter, buffer)
    return buffer.getvalue().encode("utf-8")


def render_xlsx(exporter: RosterExporter) -> bytes:
    """One sheet, every cell text (never a formula), header in the first row."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=exporter.day.isoformat())
    sheet.append([str(header) for header in exporter.headers])
    for row in exporter.iter_rows():
        sheet.append([neutralise(cell) for cell in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@dataclass(frozen=True)
class RosterFormat:
    content_type: str
    render: Callable[[RosterExporter], bytes]


FORMATS = {
    "csv": RosterFormat("text/csv; charset=utf-8", render_csv),
    "xlsx": RosterFormat(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", render_xlsx
    ),
}
