"""Create (or bring up to date) the PostgreSQL role the application runs as in production.

Run it as the role that owns the database and its tables (the one ``migrate`` runs as; it needs
CREATEROLE the first time, to create the role — no superuser needed), after every ``migrate``:

    export DATABASE_URL=postgres://vaxbook_owner@db/vaxbook
    python manage.py migrate
    python manage.py setup_database_role vaxbook_app --password-env VAXBOOK_APP_DB_PASSWORD

The web processes and workers then connect as ``vaxbook_app``. That role owns nothing: it reads
and writes rows, but it cannot drop or alter a table, drop or disable a trigger, create
objects, or truncate. On the audit log it may only read and append (and set ``actor_id`` to
NULL, which is what deleting a user does and the append-only trigger allows), so the log's
protection cannot be switched off from the application, whatever code runs in it.

Idempotent: running it again re-applies the same grants and changes nothing else.
"""

import os

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from psycopg2 import sql

AUDIT_TABLE = "bookings_auditevent"


class Command(BaseCommand):
    help = (
        "Create or update the login role the application runs as: rows only, no ownership, "
        "the audit log append-only. Run as the tables' owner after migrate."
    )

    def add_arguments(self, parser):
        parser.add_argument("role", help="Name of the application's role, e.g. vaxbook_app.")
        parser.add_argument(
            "--password-env",
            metavar="VARIABLE",
            help="Set the role's password from this environment variable (never on the "
            "command line, where other users of the machine could read it).",
        )

    def handle(self, *args, role: str, password_env: str | None = None, **options):
        if connection.vendor != "postgresql":
            raise CommandError("The application's database role is for PostgreSQL only.")
        password = None
        if password_env:
            password = os.environ.get(password_env)
            if not password:
                raise CommandError(f"{password_env} is not set or empty.")
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT current_user, current_database()")
            owner, database = cursor.fetchone()
            if role == owner:
                raise CommandError(
                    f"{role} is the role running this command (the tables' owner): the "
                    "application must run as another role."
                )
            cursor.execute(
                "SELECT rolsuper OR rolreplication OR rolbypassrls OR rolcreaterole "
                "OR rolcreatedb FROM pg_roles WHERE rolname = %s",
                [role],
            )
            found = cursor.fetchone()
            created = found is None
            if found and found[0]:
                raise CommandError(
                    f"The role {role} exists with powers the application must not have "
                    "(superuser, replication, bypassing row security, creating roles or "
                    "databases): drop it, or have a superuser take them away, then run this "
                    "again."
                )
            for statement, params in self._statements(role, owner, database, created, password):
                cursor.execute(statement, params)
        verb = "Created" if created else "Kept"
        self.stdout.write(f"{verb} role {role}: login, no superuser, owns nothing.")
        self.stdout.write(
            f"Grants in {database}: read and write rows of every table; {AUDIT_TABLE} read "
            "and append only; sequences; no TRUNCATE, no TRIGGER, no CREATE."
        )

    def _statements(self, role, owner, database, created, password):
        name = sql.Identifier(role)
        if created:
            # Every power spelled out; a role-creating owner (no superuser) may create this.
            attributes = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"
            yield sql.SQL("CREATE ROLE {} " + attributes).format(name), None
        else:
            # Checked above to hold none of the powers only a superuser could take away.
            yield sql.SQL("ALTER ROLE {} LOGIN").format(name), None
        if password is not None:
            yield sql.SQL("ALTER ROLE {} PASSWORD %s").format(name), [password]
        yield (
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(database), name),
            None,
        )
        yield (
            sql.SQL("REVOKE CREATE ON DATABASE {} FROM {}").format(sql.Identifier(database), name),
            None,
        )
        yield sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(name), None
        yield sql.SQL("REVOKE CREATE ON SCHEMA public FROM {}").format(name), None
        # PostgreSQL 15's default; older clusters let every role create in public.
        yield sql.SQL("REVOKE CREATE ON SCHEMA public FROM PUBLIC"), None
        # Rows of every table, nothing more; the same for tables later migrations create.
        yield sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {}").format(name), None
        yield (
            sql.SQL(
                "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {}"
            ).format(name),
            None,
        )
        yield (
            sql.SQL(
                "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA public "
                "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {}"
            ).format(sql.Identifier(owner), name),
            None,
        )
        yield (
            sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}").format(name),
            None,
        )
        yield (
            sql.SQL(
                "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA public "
                "GRANT USAGE, SELECT ON SEQUENCES TO {}"
            ).format(sql.Identifier(owner), name),
            None,
        )
        # The audit log: read and append; the one UPDATE it needs is a deleted user's
        # actor_id set to NULL (the trigger refuses any other change anyway).
        audit = sql.Identifier(AUDIT_TABLE)
        yield sql.SQL("REVOKE ALL ON {} FROM {}").format(audit, name), None
        yield sql.SQL("GRANT SELECT, INSERT ON {} TO {}").format(audit, name), None
        yield sql.SQL("GRANT UPDATE (actor_id) ON {} TO {}").format(audit, name), None
