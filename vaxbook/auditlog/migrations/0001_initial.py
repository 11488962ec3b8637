# The audit log moves from the bookings app to its own, without copying a row: the table
# (bookings_auditevent), its index and its append-only triggers stay exactly as they are; only
# Django's idea of which app owns the model changes (SeparateDatabaseAndState), and the content
# type follows so that the permissions officials hold on it (view_auditevent) stay theirs.

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

import vaxbook.auditlog.models


def move_content_type(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="bookings", model="auditevent").update(
        app_label="auditlog"
    )


def move_content_type_back(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="auditlog", model="auditevent").update(
        app_label="bookings"
    )


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("bookings", "0008_audit_staff_membership"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="AuditEvent",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "at",
                            models.DateTimeField(db_index=True, default=django.utils.timezone.now),
                        ),
                        (
                            "actor_name",
                            models.CharField(
                                help_text="Who it was when the event was written; kept if the "
                                "user goes.",
                                max_length=150,
                            ),
                        ),
                        (
                            "action",
                            models.CharField(
                                choices=[
                                    ("roster_exported", "Roster exported"),
                                    ("booking_viewed", "Booking viewed"),
                                    ("bookings_listed", "Bookings listed or searched"),
                                    ("campaign_window_changed", "Campaign window changed"),
                                    ("booking_window_added", "Staggered window added"),
                                    ("booking_window_changed", "Staggered window changed"),
                                    ("booking_window_deleted", "Staggered window deleted"),
                                    ("waiting_room_changed", "Waiting room changed"),
                                    ("slot_capacity_changed", "Slot capacity changed"),
                                    ("staff_membership_added", "Clinic staff member added"),
                                    ("staff_membership_changed", "Clinic staff member changed"),
                                    ("staff_membership_removed", "Clinic staff member removed"),
                                ],
                                max_length=40,
                            ),
                        ),
                        (
                            "object_type",
                            models.CharField(
                                help_text="app_label.model, e.g. clinics.slot", max_length=100
                            ),
                        ),
                        ("object_id", models.CharField(max_length=64)),
                        (
                            "details",
                            models.JSONField(
                                blank=True,
                                default=dict,
                                encoder=vaxbook.auditlog.models.AuditEventJSONEncoder,
                            ),
                        ),
                        (
                            "actor",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "bookings_auditevent",
                        "ordering": ["-at", "-pk"],
                        "indexes": [
                            models.Index(
                                fields=["object_type", "object_id"],
                                name="bookings_au_object__89e457_idx",
                            )
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_type, move_content_type_back, elidable=False),
    ]
