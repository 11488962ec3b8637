"""The clinic admins' audit records: a slot's capacity changed, and who was added to, moved
between or removed from a clinic's staff (that is who reads its roster).

The rules are the services' (``change_slot``, ``save_staff_membership``,
``remove_staff_membership``, each with ``actor=``) and are tested on them; a few posts to the
admin check that its pages call them with the official who made the change."""

from datetime import date, time

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from clinics.admin import SlotAdmin
from clinics.models import Slot, StaffMembership
from clinics.services import (
    MembershipRefused,
    change_slot,
    remove_staff_membership,
    save_staff_membership,
)
from clinics.tests.admin_forms import slot_form, slot_page
from clinics.tests.factories import (
    ClinicFactory,
    SlotFactory,
    StaffMembershipFactory,
    UserFactory,
)
from vaxbook.auditlog.models import COMMAND_LINE, AuditEvent
from vaxbook.roles import OFFICIALS, ensure_roles

pytestmark = pytest.mark.django_db

MEMBERSHIPS = reverse("admin:clinics_staffmembership_changelist")


def _events(action: str | None = None) -> list[AuditEvent]:
    events = AuditEvent.objects.order_by("pk")
    return list(events if action is None else events.filter(action=action))


def _only_event(action: str) -> AuditEvent:
    (event,) = _events(action)
    return event


@pytest.fixture
def official():
    """An official (the officials' group, not a superuser), logged in."""
    ensure_roles()
    user = UserFactory(username="official.lee", is_staff=True)
    user.groups.add(Group.objects.get(name=OFFICIALS))
    client = Client()
    client.force_login(user)
    return user, client


# Slot capacity: the rule


def test_change_slot_records_a_capacity_change_with_who_and_what(official):
    user, _ = official
    slot = SlotFactory(
        clinic=ClinicFactory(code="jongno"), capacity=10, date=date(2030, 5, 3), start_time=time(9)
    )

    change_slot(slot.pk, changes={"capacity": 12}, actor=user)

    event = _only_event("slot_capacity_changed")
    assert (event.actor, event.actor_name) == (user, "official.lee")
    assert (event.object_type, event.object_id) == ("clinics.slot", str(slot.pk))
    assert event.details == {
        "clinic": "jongno",
        "date": "2030-05-03",
        "start_time": "09:00:00",
        "field": "capacity",
        "old": 10,
        "new": 12,
    }


def test_change_slot_records_the_capacity_it_replaces_read_under_its_lock():
    slot = SlotFactory(capacity=10)
    Slot.objects.filter(pk=slot.pk).update(capacity=12)  # another change, after slot was read

    change_slot(slot.pk, changes={"capacity": 14}, actor=COMMAND_LINE)

    event = _only_event("slot_capacity_changed")
    assert (event.details["old"], event.details["new"]) == (12, 14)
    assert (event.actor, event.actor_name) == (None, "command-line")


def test_change_slot_records_nothing_when_it_refuses_or_the_capacity_stays():
    slot = SlotFactory(capacity=6, booked=5)

    with pytest.raises(ValueError):
        change_slot(slot.pk, changes={"capacity": 4}, actor=COMMAND_LINE)
    change_slot(slot.pk, changes={"start_time": time(10)}, actor=COMMAND_LINE)
    change_slot(slot.pk, changes={"capacity": 6}, actor=COMMAND_LINE)

    slot.refresh_from_db()
    assert (slot.capacity, slot.start_time) == (6, time(10))
    assert _events() == []


# Slot capacity: the admin's wiring


def test_changing_a_slots_capacity_in_the_admin_is_recorded(admin_client, admin_user):
    slot = SlotFactory(
        clinic=ClinicFactory(code="jongno"), capacity=10, date=date(2030, 5, 3), start_time=time(9)
    )

    response = admin_client.post(slot_page(slot), slot_form(slot, capacity="12"))

    assert response.status_code == 302
    event = _only_event("slot_capacity_changed")
    assert (event.actor, event.object_type, event.object_id) == (
        admin_user,
        "clinics.slot",
        str(slot.pk),
    )
    assert event.details == {
        "clinic": "jongno",
        "date": "2030-05-03",
        "start_time": "09:00:00",
        "field": "capacity",
        "old": 10,
        "new": 12,
    }


def test_the_old_capacity_is_the_one_replaced_not_the_one_the_admin_first_read(
    admin_client, monkeypatch
):
    slot = SlotFactory(capacity=10)
    read = SlotAdmin.get_object

    def get_object(self, request, object_id, from_field=None):
        found = read(self, request, object_id, from_field)
        # Another official's change commits between the admin's read and its lock.
        Slot.objects.filter(pk=found.pk).update(capacity=12)
        return found

    monkeypatch.setattr(SlotAdmin, "get_object", get_object)

    admin_client.post(slot_page(slot), slot_form(slot, capacity="14"))

    details = _only_event("slot_capacity_changed").details
    assert (details["old"], details["new"]) == (12, 14)


def test_a_refused_capacity_change_and_other_slot_changes_in_the_admin_are_not_recorded(
    admin_client,
):
    slot = SlotFactory(capacity=6, booked=5)

    refused = admin_client.post(slot_page(slot), slot_form(slot, capacity="4"))
    moved = admin_client.post(slot_page(slot), slot_form(slot, start_time="10:00:00"))

    assert refused.status_code == 200 and moved.status_code == 302
    assert _events() == []


# Staff memberships: the rule


def test_save_staff_membership_records_an_addition(official):
    user, _ = official
    nurse, clinic = UserFactory(username="nurse.kim"), ClinicFactory(code="jongno")

    membership = save_staff_membership(StaffMembership(user=nurse, clinic=clinic), actor=user)

    assert membership.pk is not None
    event = _only_event("staff_membership_added")
    assert (event.actor, event.object_type, event.object_id) == (
        user,
        "clinics.staffmembership",
        str(membership.pk),
    )
    assert event.details == {"user": "nurse.kim", "clinic": "jongno"}


def test_save_staff_membership_records_a_change_with_old_and_new_and_nothing_else(official):
    user, _ = official
    membership = StaffMembershipFactory(
        user=UserFactory(username="nurse.kim"), clinic=ClinicFactory(code="jongno")
    )

    save_staff_membership(membership, actor=user)  # saved as it is: nothing to record
    membership.clinic = ClinicFactory(code="mapo")
    save_staff_membership(membership, actor=user)

    event = _only_event("staff_membership_changed")
    assert (event.actor, event.object_id) == (user, str(membership.pk))
    assert event.details == {
        "old": {"user": "nurse.kim", "clinic": "jongno"},
        "new": {"user": "nurse.kim", "clinic": "mapo"},
    }
    assert _events() == [event]


def test_remove_staff_membership_records_who_left_which_clinic(official):
    user, _ = official
    membership = StaffMembershipFactory(
        user=UserFactory(username="nurse.kim"), clinic=ClinicFactory(code="jongno")
    )
    pk = membership.pk

    remove_staff_membership(membership, actor=user)

    assert not StaffMembership.objects.exists()
    event = _only_event("staff_membership_removed")
    assert (event.actor, event.object_id) == (user, str(pk))
    assert event.details == {"user": "nurse.kim", "clinic": "jongno"}


def test_a_refused_membership_is_neither_saved_nor_recorded(official):
    user, _ = official

    with pytest.raises(MembershipRefused):
        save_staff_membership(StaffMembership(user=user, clinic=ClinicFactory()), actor=user)

    assert not StaffMembership.objects.exists()
    assert _events() == []


# Staff memberships: the admin's wiring


def test_adding_someone_else_in_the_admin_is_recorded(official):
    user, client = official
    nurse, clinic = UserFactory(username="nurse.kim"), ClinicFactory(code="jongno")

    response = client.post(
        reverse("admin:clinics_staffmembership_add"), {"user": nurse.pk, "clinic": clinic.pk}
    )

    assert response.status_code == 302
    membership = StaffMembership.objects.get()
    event = _only_event("staff_membership_added")
    assert (event.actor, event.object_type, event.object_id) == (
        user,
        "clinics.staffmembership",
        str(membership.pk),
    )
    assert event.details == {"user": "nurse.kim", "clinic": "jongno"}


def test_moving_a_membership_to_another_clinic_in_the_admin_is_recorded(official):
    user, client = official
    membership = StaffMembershipFactory(
        user=UserFactory(username="nurse.kim"), clinic=ClinicFactory(code="jongno")
    )
    other = ClinicFactory(code="mapo")
    change = reverse("admin:clinics_staffmembership_change", args=[membership.pk])

    assert client.post(change, {"user": membership.user_id, "clinic": other.pk}).status_code == 302

    event = _only_event("staff_membership_changed")
    assert event.actor == user
    assert event.details == {
        "old": {"user": "nurse.kim", "clinic": "jongno"},
        "new": {"user": "nurse.kim", "clinic": "mapo"},
    }


def test_removing_memberships_in_the_admin_one_by_one_or_in_bulk_is_recorded(official):
    user, client = official
    memberships = [
        StaffMembershipFactory(user=UserFactory(username=f"nurse.{n}"), clinic=ClinicFactory())
        for n in range(3)
    ]
    one = reverse("admin:clinics_staffmembership_delete", args=[memberships[0].pk])
    assert client.post(one, {"post": "yes"}).status_code == 302
    bulk = {
        "action": "delete_selected",
        "_selected_action": [m.pk for m in memberships[1:]],
        "post": "yes",
    }
    assert client.post(MEMBERSHIPS, bulk).status_code == 302

    assert not StaffMembership.objects.exists()
    removed = _events("staff_membership_removed")
    assert sorted(e.details["user"] for e in removed) == ["nurse.0", "nurse.1", "nurse.2"]
    assert {e.actor for e in removed} == {user}
