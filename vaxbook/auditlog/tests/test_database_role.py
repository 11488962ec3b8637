"""The audit log holds against the database itself: TRUNCATE is refused like UPDATE and
DELETE, and the application's own database role (``manage.py setup_database_role``) can do its
work but owns nothing it could use to switch the protection off."""

import os
import secrets
import subprocess
import sys

import psycopg2
import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from bookings.tests.factories import BookingFactory
from vaxbook.auditlog.models import COMMAND_LINE, AuditEvent
from vaxbook.auditlog.services import record

# Committed for real: the role's own connection must see the rows and the role.
pytestmark = pytest.mark.django_db(transaction=True)


def _event() -> AuditEvent:
    return record(
        AuditEvent.Action.ROSTER_EXPORTED,
        actor=COMMAND_LINE,
        obj_type="clinics.clinic",
        obj_id=1,
        details={"clinic": "jongno"},
    )


@pytest.fixture
def role_name():
    """A fresh role for this test (roles belong to the whole PostgreSQL cluster), dropped
    afterwards with everything granted to it."""
    name = f"vaxbook_app_test_{secrets.token_hex(4)}"
    yield name
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_roles WHERE rolname = %s",
            [name],
        )
        if cursor.fetchone():
            cursor.execute(f'DROP OWNED BY "{name}"')
            cursor.execute(f'DROP ROLE "{name}"')


def _refused(cursor, sql: str, match: str) -> None:
    with pytest.raises(DatabaseError, match=match), transaction.atomic():
        cursor.execute(sql)


def test_truncate_is_refused_even_to_a_role_allowed_to_truncate(role_name):
    _event()
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE ROLE "{role_name}"')
        cursor.execute(f'GRANT TRUNCATE, SELECT ON bookings_auditevent TO "{role_name}"')
        with transaction.atomic():
            cursor.execute(f'SET LOCAL ROLE "{role_name}"')
            _refused(cursor, "TRUNCATE bookings_auditevent", "append-only")
    assert AuditEvent.objects.count() == 1


def test_truncating_a_table_that_cascades_into_the_log_is_refused(role_name):
    _event()
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE ROLE "{role_name}"')
        cursor.execute(f'GRANT TRUNCATE ON ALL TABLES IN SCHEMA public TO "{role_name}"')
        with transaction.atomic():
            cursor.execute(f'SET LOCAL ROLE "{role_name}"')
            _refused(cursor, "TRUNCATE auth_user CASCADE", "append-only")
    assert AuditEvent.objects.count() == 1


@pytest.fixture
def app_connection(role_name):
    """A connection to the test database as the application's role, made by the command."""
    call_command("setup_database_role", role_name, verbosity=0)
    settings = connection.settings_dict
    conn = psycopg2.connect(
        dbname=settings["NAME"],
        user=role_name,
        host=settings["HOST"] or "127.0.0.1",
        port=settings["PORT"] or 5432,
    )
    conn.autocommit = True
    yield conn
    conn.close()


def _fails(conn, sql: str, params=None) -> str:
    with conn.cursor() as cursor:
        try:
            cursor.execute(sql, params)
        except psycopg2.Error as error:
            return str(error)
    raise AssertionError(f"the application's role could run: {sql}")


def test_the_application_role_does_its_work(app_connection):
    booking = BookingFactory()
    with app_connection.cursor() as cursor:
        cursor.execute("SELECT status FROM bookings_booking WHERE id = %s", [booking.pk])
        assert cursor.fetchone() == ("pending",)
        cursor.execute(
            "UPDATE clinics_slot SET booked = booked + 1 WHERE id = %s AND booked < capacity",
            [booking.slot_id],
        )
        assert cursor.rowcount == 1
        cursor.execute(
            "INSERT INTO bookings_auditevent (at, actor_name, action, object_type, object_id, "
            "details) VALUES (now(), 'command-line', 'roster_exported', 'clinics.clinic', '1', "
            "'{}') RETURNING id"
        )
        assert cursor.fetchone()[0] > 0
        cursor.execute("DELETE FROM bookings_booking WHERE id = %s", [booking.pk])
        assert cursor.rowcount == 1


def test_the_application_role_cannot_rewrite_or_unprotect_the_log(app_connection):
    _event()
    for sql, match in [
        ("UPDATE bookings_auditevent SET details = '{}'", "permission denied"),
        ("DELETE FROM bookings_auditevent", "permission denied"),
        ("TRUNCATE bookings_auditevent", "permission denied"),
        ("DROP TRIGGER bookings_auditevent_append_only ON bookings_auditevent", "owner"),
        ("ALTER TABLE bookings_auditevent DISABLE TRIGGER ALL", "owner"),
        ("DROP TABLE bookings_auditevent", "owner"),
        ("DROP FUNCTION bookings_auditevent_append_only() CASCADE", "owner"),
        ("CREATE TABLE bookings_auditevent_copy (id int)", "permission denied"),
        ("SET session_replication_role = replica", "permission denied"),
    ]:
        assert match in _fails(app_connection, sql), sql
    assert AuditEvent.objects.count() == 1


def test_the_application_role_can_null_a_deleted_users_name_only(app_connection):
    """Deleting a user sets the events' actor to NULL (the trigger lets exactly that through);
    the role has the column grant for it and no other."""
    from clinics.tests.factories import UserFactory

    user = UserFactory()
    record(
        AuditEvent.Action.ROSTER_EXPORTED,
        actor=user,
        obj_type="clinics.clinic",
        obj_id=1,
        details={},
    )
    with app_connection.cursor() as cursor:
        cursor.execute(
            "UPDATE bookings_auditevent SET actor_id = NULL WHERE actor_id = %s", [user.pk]
        )
        assert cursor.rowcount == 1
    assert "permission denied" in _fails(
        app_connection, "UPDATE bookings_auditevent SET actor_name = 'someone else'"
    )


def test_running_the_command_again_changes_nothing_and_reports_the_same(role_name, capsys):
    call_command("setup_database_role", role_name)
    first = capsys.readouterr().out
    call_command("setup_database_role", role_name)
    assert capsys.readouterr().out == first.replace("Created", "Kept")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls FROM pg_roles "
            "WHERE rolname = %s",
            [role_name],
        )
        assert cursor.fetchone() == (False, False, False, False)


@pytest.fixture
def owner_role():
    """The database and its tables handed to a role that is no superuser (only CREATEROLE), as
    in production; handed back to the test runner's role afterwards."""
    name = f"vaxbook_owner_test_{secrets.token_hex(4)}"
    database = connection.settings_dict["NAME"]
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE ROLE "{name}" LOGIN CREATEROLE')
        cursor.execute(f'ALTER DATABASE "{database}" OWNER TO "{name}"')
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        for (table,) in cursor.fetchall():
            cursor.execute(f'ALTER TABLE "{table}" OWNER TO "{name}"')
    yield name
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        (superuser,) = cursor.fetchone()
        cursor.execute(f'ALTER DATABASE "{database}" OWNER TO "{superuser}"')
        cursor.execute(f'REASSIGN OWNED BY "{name}" TO "{superuser}"')
        cursor.execute(f'DROP OWNED BY "{name}"')
        cursor.execute(f'DROP ROLE "{name}"')


def _run_as(owner: str, *arguments: str) -> subprocess.CompletedProcess:
    settings_dict = connection.settings_dict
    url = (
        f"postgres://{owner}@{settings_dict['HOST'] or '127.0.0.1'}:"
        f"{settings_dict['PORT'] or 5432}/{settings_dict['NAME']}"
    )
    return subprocess.run(  # noqa: S603 - our own management command
        [sys.executable, "manage.py", *arguments],
        cwd=django_settings.BASE_DIR,
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_tables_owner_without_superuser_sets_it_up_and_again_after_a_migrate(
    owner_role, role_name
):
    first = _run_as(owner_role, "setup_database_role", role_name)
    assert first.returncode == 0, first.stderr
    again = _run_as(owner_role, "setup_database_role", role_name)
    assert again.returncode == 0, again.stderr
    assert "Kept role" in again.stdout
    settings_dict = connection.settings_dict
    app = psycopg2.connect(
        dbname=settings_dict["NAME"],
        user=role_name,
        host=settings_dict["HOST"] or "127.0.0.1",
        port=settings_dict["PORT"] or 5432,
    )
    app.autocommit = True
    try:
        assert "permission denied" in _fails(app, "TRUNCATE bookings_auditevent")
        assert "owner" in _fails(app, "ALTER TABLE bookings_auditevent DISABLE TRIGGER ALL")
        with app.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM bookings_booking")
            assert cursor.fetchone() == (0,)
    finally:
        app.close()


def test_a_role_with_powers_is_refused_not_silently_kept(owner_role, role_name):
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE ROLE "{role_name}" LOGIN CREATEDB')
    refused = _run_as(owner_role, "setup_database_role", role_name)
    assert refused.returncode != 0
    assert "powers" in refused.stderr
