# The audit log refuses TRUNCATE too (0004 refuses UPDATE and DELETE row by row).

from django.db import migrations

# A statement trigger: TRUNCATE fires no row triggers. It refuses every role but a superuser,
# whoever owns the table and whatever was granted: the migration role that owns the tables,
# or an application role someone granted TRUNCATE by mistake. A superuser is let through
# because nothing can hold one back (it can drop any trigger or switch triggers off with
# session_replication_role), and the test runner empties tables with TRUNCATE as one.
# The application itself runs as a role that owns nothing (manage.py setup_database_role), so
# it can neither truncate nor drop this trigger.
CREATE_TRIGGER = """
CREATE FUNCTION bookings_auditevent_no_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'the audit log is append-only: TRUNCATE of bookings_auditevent refused';
END;
$$;
CREATE TRIGGER bookings_auditevent_no_truncate
BEFORE TRUNCATE ON bookings_auditevent
FOR EACH STATEMENT EXECUTE FUNCTION bookings_auditevent_no_truncate();
"""

DROP_TRIGGER = """
DROP TRIGGER IF EXISTS bookings_auditevent_no_truncate ON bookings_auditevent;
DROP FUNCTION IF EXISTS bookings_auditevent_no_truncate();
"""


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE_TRIGGER, params=None)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_TRIGGER, params=None)


class Migration(migrations.Migration):
    dependencies = [("bookings", "0006_audit_bookings_listed")]

    operations = [migrations.RunPython(create_trigger, drop_trigger, elidable=False)]
