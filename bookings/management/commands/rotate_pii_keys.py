"""Re-encrypt every stored registration number with the newest key.

Put the new key first in ``VAXBOOK_PII_KEYS`` (keep the old ones after it), deploy, run this,
then drop the old keys. Safe to re-run and to interrupt: rows are done in small committed
batches, and rows already under the newest key are skipped.
"""

from django.core.management.base import BaseCommand
from django.db import transaction

from bookings.identity import IdentityError, is_encrypted_with_newest_key, reencrypt
from bookings.models import Booking

BATCH = 500


class Command(BaseCommand):
    help = "Re-encrypt stored registration numbers with the newest key of VAXBOOK_PII_KEYS."

    def handle(self, *args, **options):
        done = skipped = failed = 0
        last_pk = 0
        while True:
            with transaction.atomic():
                batch = list(
                    Booking.objects.select_for_update(skip_locked=True)
                    .filter(pk__gt=last_pk)
                    .exclude(rrn_encrypted="")
                    .order_by("pk")
                    .only("pk", "rrn_encrypted")[:BATCH]
                )
                if not batch:
                    break
                last_pk = batch[-1].pk
                changed = []
                for booking in batch:
                    if is_encrypted_with_newest_key(booking.rrn_encrypted):
                        skipped += 1
                        continue
                    try:
                        booking.rrn_encrypted = reencrypt(booking.rrn_encrypted)
                    except IdentityError:
                        failed += 1
                        self.stderr.write(f"booking {booking.pk}: no configured key decrypts it")
                        continue
                    changed.append(booking)
                Booking.objects.bulk_update(changed, ["rrn_encrypted"])
                done += len(changed)
        self.stdout.write(
            f"Re-encrypted {done}, already current {skipped}, undecryptable {failed}."
        )
        if failed:
            raise SystemExit(1)
