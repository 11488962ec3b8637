from django.core.management.base import BaseCommand, CommandError

from campaigns.models import Campaign
from campaigns.services import verify_draw


class Command(BaseCommand):
    help = "Recompute a campaign's queue draw from its recorded seed and tickets and check it."

    def add_arguments(self, parser):
        parser.add_argument("campaign", help="The campaign's slug.")

    def handle(self, *args, campaign: str, **options):
        the_campaign = Campaign.objects.filter(slug=campaign).first()
        if the_campaign is None:
            raise CommandError(f"No campaign has the slug {campaign!r}.")
        if the_campaign.drawn_at is None:
            raise CommandError(f"The queue of {the_campaign.name} has not been drawn yet.")
        matches, count = verify_draw(the_campaign)
        if not matches:
            raise CommandError(
                f"The recorded order of {count} tickets does NOT match the seed "
                f"{the_campaign.draw_seed}."
            )
        self.stdout.write(
            f"Draw verified: {count} tickets, seed {the_campaign.draw_seed}, "
            f"drawn at {the_campaign.drawn_at.isoformat()}."
        )
