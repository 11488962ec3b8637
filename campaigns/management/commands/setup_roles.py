from django.core.management.base import BaseCommand, CommandError

from vaxbook.roles import ROLES, MissingPermission, ensure_roles


class Command(BaseCommand):
    help = "Create or update the Officials and Clinic staff groups (run after migrate)."

    def handle(self, *args, **options):
        try:
            ensure_roles()
        except MissingPermission as exc:
            raise CommandError(str(exc)) from None
        for name, grants in ROLES.items():
            summary = ", ".join(f"{m} ({'/'.join(a)})" for m, a in grants) or "no admin permission"
            self.stdout.write(f"{name}: {summary}")
