import io
from datetime import date

from django.core.management.base import BaseCommand, CommandError

from bookings.audit import COMMAND_LINE, AuditEvent, record
from clinics.models import Clinic
from clinics.rosters import RosterExporter, write_csv


class Command(BaseCommand):
    help = "Write a clinic's roster for one day as CSV (UTF-8 with BOM) to stdout or a file."

    def add_arguments(self, parser):
        parser.add_argument("--clinic", required=True, help="The clinic's code.")
        parser.add_argument("--date", required=True, help="The day, YYYY-MM-DD.")
        parser.add_argument("--output", help="A file to write; standard output if omitted.")

    def handle(self, *args, clinic: str, date: str, output: str | None, **options):
        the_clinic = Clinic.objects.filter(code=clinic).first()
        if the_clinic is None:
            raise CommandError(f"No clinic has the code {clinic!r}.")
        try:
            day = parse_day(date)
        except ValueError:
            raise CommandError(f"--date must be YYYY-MM-DD, not {date!r}.") from None
        exporter = RosterExporter(the_clinic, day)
        if output:
            with open(output, "w", encoding="utf-8", newline="") as stream:
                write_csv(exporter, stream)
        else:
            buffer = io.StringIO()
            write_csv(exporter, buffer)
        # Recorded once the roster is written, before it is handed over: no login on the
        # command line, so the actor is the command line itself.
        record(
            AuditEvent.Action.ROSTER_EXPORTED,
            actor=COMMAND_LINE,
            obj_type="clinics.clinic",
            obj_id=the_clinic.pk,
            details={"clinic": the_clinic.code, "date": day, "format": "csv"},
        )
        if output:
            self.stderr.write(f"Wrote {output}")
        else:
            self.stdout.write(buffer.getvalue(), ending="")


def parse_day(raw: str) -> date:
    return date.fromisoformat(raw)
