"""Moving the audit log's model into its own app copies nothing and loses nothing: the events
written before the move are the events after it, and officials keep their permission on them."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from vaxbook.auditlog.models import AuditEvent

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("bookings", "0008_audit_staff_membership"), ("auditlog", None)]


def test_the_move_keeps_every_event_and_the_officials_permission():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    ContentType.objects.clear_cache()
    executor.loader.build_graph()
    old = executor._create_project_state(with_applied_migrations=True).apps
    old_event = old.get_model("bookings", "AuditEvent").objects.create(
        actor_name="official.kim",
        action="roster_exported",
        object_type="clinics.clinic",
        object_id="7",
        details={"clinic": "jongno", "date": "2030-05-01"},
    )
    old_type = old.get_model("contenttypes", "ContentType").objects.get(
        app_label="bookings", model="auditevent"
    )
    officials = old.get_model("auth", "Group").objects.create(name="Officials of the test")
    officials.permissions.add(
        old.get_model("auth", "Permission").objects.get(
            content_type=old_type, codename="view_auditevent"
        )
    )

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    ContentType.objects.clear_cache()

    event = AuditEvent.objects.get(pk=old_event.pk)
    assert (event.actor_name, event.object_id) == ("official.kim", "7")
    assert event.details == {"clinic": "jongno", "date": "2030-05-01"}
    moved = ContentType.objects.get_for_model(AuditEvent)
    assert (moved.pk, moved.app_label) == (old_type.pk, "auditlog")
    permission = Permission.objects.get(content_type=moved, codename="view_auditevent")
    assert permission in Group.objects.get(name="Officials of the test").permissions.all()
