from django.core.management.base import BaseCommand, CommandError

from bookings.selectors import suspicious_bookings
from campaigns.models import Campaign
from campaigns.windows import format_kst


class Command(BaseCommand):
    help = (
        "The integrity report: bookings requested outside the person's window, without an "
        "admission pass while the waiting room was on, or through a pass that booked for more "
        "people than allowed. Exits with status 1 when it finds any."
    )

    def add_arguments(self, parser):
        parser.add_argument("--campaign", help="Only this campaign (slug).")

    def handle(self, *args, campaign: str | None = None, **options):
        scope = None
        if campaign:
            scope = Campaign.objects.filter(slug=campaign).first()
            if scope is None:
                raise CommandError(f"No campaign has the slug {campaign!r}.")
        found = 0
        for booking, reason in suspicious_bookings(scope):
            found += 1
            self.stdout.write(
                f"{booking.public_id}\t{booking.code or '-'}\t{booking.campaign.slug}\t"
                f"{format_kst(booking.requested_at)}\t{booking.status}\t{reason}"
            )
        if found:
            raise CommandError(f"{found} suspicious booking(s).", returncode=1)
        self.stdout.write("No suspicious bookings.")
