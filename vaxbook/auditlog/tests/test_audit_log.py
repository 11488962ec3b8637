"""The audit log itself: its append-only guarantee (in Python and in PostgreSQL), its read-only
admin, and that it never holds a citizen's name or number.

What each admin records is tested beside that admin: ``bookings/tests/test_admin_audit.py``,
``campaigns/tests/test_admin_audit.py``, ``clinics/tests/test_admin_audit.py`` and
``clinics/tests/test_roster_audit.py``."""

import json
from datetime import date

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from bookings.models import Booking
from bookings.tests.factories import BookingFactory
from campaigns.tests.admin_forms import campaign_form, campaign_page
from clinics.tests.admin_forms import slot_form, slot_page
from clinics.tests.factories import ClinicFactory, SlotFactory, UserFactory
from vaxbook.auditlog.models import COMMAND_LINE, AppendOnlyViolation, AuditEvent
from vaxbook.auditlog.services import record

pytestmark = pytest.mark.django_db

NAME = "Citizen Hong Gildong"
RRN = "620714-1234567"
AUDIT_CHANGELIST = reverse("admin:auditlog_auditevent_changelist")


def _events(action: str | None = None) -> list[AuditEvent]:
    events = AuditEvent.objects.order_by("pk")
    return list(events if action is None else events.filter(action=action))


def _event(**overrides) -> AuditEvent:
    kwargs = {
        "actor": COMMAND_LINE,
        "obj_type": "clinics.clinic",
        "obj_id": 1,
        "details": {"clinic": "jongno", "date": date(2030, 5, 1)},
    }
    kwargs.update(overrides)
    return record(AuditEvent.Action.ROSTER_EXPORTED, **kwargs)


# Append-only


def test_an_event_cannot_be_saved_again_or_deleted():
    event = _event()
    event.actor_name = "someone else"

    with pytest.raises(AppendOnlyViolation):
        event.save()
    with pytest.raises(AppendOnlyViolation):
        event.delete()
    with pytest.raises(AppendOnlyViolation):
        AuditEvent(pk=event.pk, actor_name="forged", action="roster_exported").save(
            update_fields=["actor_name"]
        )


def _refused_by_the_database(statement) -> None:
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        statement()


def test_the_database_refuses_updates_and_deletes_through_the_orm():
    event = _event()

    _refused_by_the_database(lambda: AuditEvent.objects.update(actor_name="someone else"))
    _refused_by_the_database(lambda: AuditEvent.objects.filter(pk=event.pk).delete())
    # Even a new row with an existing id: save() inserts, and the duplicate key fails.
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent(pk=event.pk, actor_name="forged", action="roster_exported").save()

    event = AuditEvent.objects.get()
    assert event.actor_name == "command-line"
    assert event.details == {"clinic": "jongno", "date": "2030-05-01"}


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE bookings_auditevent SET details = '{}'::jsonb",
        "UPDATE bookings_auditevent SET actor_id = NULL, actor_name = 'nobody'",
        "DELETE FROM bookings_auditevent",
    ],
)
def test_the_database_refuses_updates_and_deletes_in_raw_sql(sql):
    _event(actor=UserFactory(username="official.kim"))

    def execute():
        with connection.cursor() as cursor:
            cursor.execute(sql)

    _refused_by_the_database(execute)
    assert AuditEvent.objects.get().actor_name == "official.kim"


def test_deleting_a_user_keeps_their_events_and_name():
    user = UserFactory(username="official.kim")
    _event(actor=user)

    user.delete()

    event = AuditEvent.objects.get()
    assert (event.actor, event.actor_name) == (None, "official.kim")
    assert event.details == {"clinic": "jongno", "date": "2030-05-01"}


def test_only_known_actions_are_recorded():
    with pytest.raises(ValueError):
        record("anything", actor=COMMAND_LINE, obj_type="x", obj_id=1, details={})


# The audit log in the admin


def _official_with(*codenames: str):
    user = UserFactory(is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


def test_an_official_with_the_view_permission_reads_and_filters_the_log(client):
    _event(obj_id=7, actor=UserFactory(username="official.kim"))
    _event(obj_id=8)
    client.force_login(_official_with("view_auditevent"))

    everything = client.get(AUDIT_CHANGELIST)
    by_actor = client.get(AUDIT_CHANGELIST, {"q": "kim"})
    by_object = client.get(AUDIT_CHANGELIST, {"q": "8"})
    by_action = client.get(AUDIT_CHANGELIST, {"action__exact": "booking_viewed"})
    by_day = client.get(AUDIT_CHANGELIST, {"at__gte": "2999-01-01 00:00:00+09:00"})

    assert everything.status_code == 200
    html = everything.content.decode()
    for column, shown in [
        ("actor_name", "official.kim"),
        ("object_label", "clinics.clinic 7"),
        ("action", AuditEvent.Action.ROSTER_EXPORTED.label),
    ]:
        assert f'<td class="field-{column}">{shown}</td>' in html, column
    assert [e.object_id for e in by_actor.context["cl"].result_list] == ["7"]
    assert [e.object_id for e in by_object.context["cl"].result_list] == ["8"]
    assert list(by_action.context["cl"].result_list) == []
    assert list(by_day.context["cl"].result_list) == []
    event_page = client.get(
        reverse("admin:auditlog_auditevent_change", args=[AuditEvent.objects.first().pk])
    )
    assert event_page.status_code == 200
    assert 'name="_save"' not in event_page.content.decode()
    assert _events("booking_viewed") == []  # reading the log is not itself logged


def test_the_log_cannot_be_added_to_changed_or_deleted_in_the_admin(admin_client):
    event = _event()
    change_url = reverse("admin:auditlog_auditevent_change", args=[event.pk])

    assert admin_client.get(reverse("admin:auditlog_auditevent_add")).status_code == 403
    assert admin_client.post(change_url, {"actor_name": "forged"}).status_code == 403
    delete_url = reverse("admin:auditlog_auditevent_delete", args=[event.pk])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    assert "delete_selected" not in admin_client.get(AUDIT_CHANGELIST).content.decode()
    assert AuditEvent.objects.get().actor_name == "command-line"


def test_staff_without_the_view_permission_cannot_read_the_log(client):
    _event()
    client.force_login(_official_with("view_booking"))

    assert client.get(AUDIT_CHANGELIST).status_code == 403


# Never a citizen's name or number


def test_no_event_holds_a_citizens_name_or_registration_number(admin_client):
    slot = SlotFactory(clinic=ClinicFactory(code="jongno"), date=date(2030, 5, 3))
    booking = BookingFactory(
        slot=slot, name=NAME, rrn=RRN, status=Booking.Status.CONFIRMED, code="K7M2QX9P"
    )
    day = slot.date.isoformat()
    roster = reverse("clinics:roster", kwargs={"code": slot.clinic.code, "file_format": "csv"})
    admin_client.get(reverse("admin:bookings_booking_change", args=[booking.pk]))
    admin_client.get(roster, {"date": day})
    call_command("export_roster", clinic=slot.clinic.code, date=day, output="/dev/null")
    admin_client.post(slot_page(slot), slot_form(slot, capacity="20"))
    admin_client.post(
        campaign_page(slot.campaign), campaign_form(slot.campaign, opens_at_1="18:00:00")
    )

    assert {e.action for e in _events()} == {
        "booking_viewed",
        "roster_exported",
        "slot_capacity_changed",
        "campaign_window_changed",
    }
    stored = json.dumps(list(AuditEvent.objects.values()), default=str)
    digits = RRN.replace("-", "")
    for secret in (NAME, "Hong", RRN, digits, RRN[7:], booking.rrn_hmac, booking.phone):
        assert secret not in stored
