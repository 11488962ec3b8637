"""Anonymise the bookings of campaigns closed longer ago than the retention period.

Meant to run daily (cron or a scheduler). Safe to re-run and to interrupt: bookings are done in
committed batches, and anonymised ones are skipped.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from bookings import retention
from campaigns.windows import format_kst
from vaxbook.notifications.retention import delete_unattached_messages, unattached_messages_before


class Command(BaseCommand):
    help = (
        "Blank name, phone and registration number of the bookings of campaigns that closed "
        "more than --days days ago (default VAXBOOK_RETENTION_DAYS); keep the birth year and "
        "everything the statistics count."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help=f"Retention in days (default {settings.VAXBOOK_RETENTION_DAYS}).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Only count what would be anonymised."
        )

    def handle(self, *args, days: int | None = None, dry_run: bool = False, **options):
        if days is not None and days < 0:
            raise CommandError("--days cannot be negative.")
        cutoff = retention.retention_cutoff(older_than_days=days)
        total = 0
        for campaign, pending in retention.campaigns_due(cutoff):
            done = pending if dry_run else retention.anonymise_campaign(campaign, cutoff)
            total += done
            verb = "would anonymise" if dry_run else "anonymised"
            self.stdout.write(f"{campaign.slug}: {verb} {done} booking(s)")
        summary = "would be anonymised" if dry_run else "anonymised"
        self.stdout.write(
            f"{total} booking(s) {summary} (campaigns closed before {format_kst(cutoff.moment)})."
        )
        messages = (
            unattached_messages_before(cutoff.moment).count()
            if dry_run
            else delete_unattached_messages(cutoff.moment)
        )
        verb = "would be deleted" if dry_run else "deleted"
        self.stdout.write(f"{messages} message(s) about no booking, past retention, {verb}.")
        signups = (
            retention.window_signups_of_closed_campaigns().count()
            if dry_run
            else retention.delete_window_signups()
        )
        verb = "would be deleted" if dry_run else "deleted"
        self.stdout.write(f"{signups} window sign-up(s) of closed campaigns {verb}.")
