"""The day's roster of a clinic: an exporter that yields rows; CSV is one way to write them.

Every cell a person typed (the name, above all) is neutralised before it reaches a
spreadsheet: a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is
prefixed with an apostrophe so that Excel or LibreOffice show it as text instead of running it.
"""

import codecs
import csv
from collections.abc import Iterator
from datetime import date
from typing import IO

from bookings.models import Booking
from clinics.models import Clinic

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> str:
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_TRIGGERS):
        return "'" + text
    return text


class RosterExporter:
    """The bookings of one clinic on one day, ordered by time."""

    headers = ("Time", "Booking code", "Name", "Birth date", "Registration no.", "Phone", "Status")
    statuses = (Booking.Status.CONFIRMED, Booking.Status.PENDING)

    def __init__(self, clinic: Clinic, day: date):
        self.clinic = clinic
        self.day = day

    def bookings(self):
        return (
            Booking.objects.filter(
                slot__clinic=self.clinic, slot__date=self.day, status__in=self.statuses
            )
            .select_related("slot")
            .order_by("slot__start_time", "name", "pk")
        )

    def iter_rows(self) -> Iterator[tuple[str, ...]]:
        for booking in self.bookings().iterator(chunk_size=2000):
            yield (
                booking.slot.start_time.strftime("%H:%M"),
                booking.code or "",
                booking.name,
                booking.birth_date.isoformat(),
                booking.rrn_masked,
                booking.phone,
                booking.get_status_display(),
            )

    @property
    def filename(self) -> str:
        return f"roster-{self.clinic.code}-{self.day.isoformat()}.csv"


def write_csv(exporter: RosterExporter, stream: IO[str]) -> None:
    """UTF-8 with a byte-order mark, so that Excel shows Korean names."""
    stream.write(codecs.BOM_UTF8.decode("utf-8"))
    writer = csv.writer(stream)
    writer.writerow(exporter.headers)
    for row in exporter.iter_rows():
        writer.writerow([neutralise(cell) for cell in row])
