# The audit log's model now belongs to the auditlog app (auditlog.0001_initial); its table,
# rows and triggers stay where they are. Only Django's state forgets it here.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("bookings", "0008_audit_staff_membership"),
        ("auditlog", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="AuditEvent")],
            database_operations=[],
        ),
    ]
