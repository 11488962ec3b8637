from django.core.management.base import BaseCommand, CommandError

from bookings.selectors import suspicious_bookings
from campaigns.models import Campaign
from campaigns.windows import format_kst


class Command(BaseCommand):
    help = (
        "List bookings requested outside the person's window or without an admission pass "
        "while the waiting room was on. Exits with status 1 when it finds any."
    )

    def add_arguments(self, parser):
        parser.add_argument("--campaign", help="Only this campaign (slug).")

    def handle(self, *args, campaign: str | None = None, **options):
        the_campaign = None
        if campaign:
            the_campaign = Campaign.objects.filter(slug=campaign).first()
            if the_campaign is None:
                raise CommandError(f"No campaign has the slug {campaign!r}.")
        found = 0
        for booking, reason in suspicious_bookings(the_campaign):
            found += 1
            self.stdout.write(
                f"{booking.public_id}\t{booking.code or '-'}\t{booking.campaign.slug}\t"
                f"{format_kst(booking.requested_at)}\t{booking.status}\t{reason}"
            )
        if found:
            raise CommandError(f"{found} suspicious booking(s).", returncode=1)
        self.stdout.write("No suspicious bookings.")
