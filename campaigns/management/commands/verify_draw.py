from django.core.management.base import BaseCommand, CommandError

from campaigns.models import Campaign
from campaigns.services import verify_draw
from campaigns.windows import format_kst


class Command(BaseCommand):
    help = (
        "Recompute every queue draw of a campaign (one per opening) from its recorded seed and "
        "tickets and check it."
    )

    def add_arguments(self, parser):
        parser.add_argument("campaign", help="The campaign's slug.")

    def handle(self, *args, campaign: str, **options):
        found = Campaign.objects.filter(slug=campaign).first()
        if found is None:
            raise CommandError(f"No campaign has the slug {campaign!r}.")
        draws = list(found.draws.order_by("opens_at"))
        if not draws:
            raise CommandError(f"The queue of {found.name} has not been drawn yet.")
        wrong = []
        for draw in draws:
            matches, count = verify_draw(draw)
            opening = format_kst(draw.opens_at)
            if matches:
                self.stdout.write(
                    f"Draw of the opening at {opening} verified: {count} tickets, seed "
                    f"{draw.seed}, drawn at {draw.drawn_at.isoformat()}."
                )
            else:
                wrong.append(
                    f"the draw of the opening at {opening}: the recorded order of {count} "
                    f"tickets does NOT match the seed {draw.seed}"
                )
        if wrong:
            raise CommandError("; ".join(wrong) + ".")
