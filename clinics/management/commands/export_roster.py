from datetime import date

from django.core.management.base import BaseCommand, CommandError

from clinics.models import Clinic
from clinics.rosters import FORMATS, RosterExporter
from clinics.services import record_roster_export
from vaxbook.auditlog.models import COMMAND_LINE


class Command(BaseCommand):
    help = (
        "Write a clinic's roster for one day as CSV (UTF-8 with BOM) or XLSX to a file, or "
        "CSV to standard output."
    )

    def add_arguments(self, parser):
        parser.add_argument("--clinic", required=True, help="The clinic's code.")
        parser.add_argument("--date", required=True, help="The day, YYYY-MM-DD.")
        parser.add_argument("--output", help="A file to write; standard output if omitted.")
        parser.add_argument("--format", choices=sorted(FORMATS), default="csv")

    def handle(self, *args, clinic: str, date: str, output: str | None, **options):
        file_format = options["format"]
        the_clinic = Clinic.objects.filter(code=clinic).first()
        if the_clinic is None:
            raise CommandError(f"No clinic has the code {clinic!r}.")
        try:
            day = parse_day(date)
        except ValueError:
            raise CommandError(f"--date must be YYYY-MM-DD, not {date!r}.") from None
        if output is None and file_format != "csv":
            raise CommandError("An XLSX roster needs --output FILE.")
        body = FORMATS[file_format].render(RosterExporter(the_clinic, day))
        if output:
            with open(output, "wb") as stream:
                stream.write(body)
        # Recorded once the roster is written, before it is handed over: no login on the
        # command line, so the actor is the command line itself.
        record_roster_export(the_clinic, day, actor=COMMAND_LINE, file_format=file_format)
        if output:
            self.stderr.write(f"Wrote {output}")
        else:
            self.stdout.write(body.decode("utf-8"), ending="")


def parse_day(raw: str) -> date:
    return date.fromisoformat(raw)
