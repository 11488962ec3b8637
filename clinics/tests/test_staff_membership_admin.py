"""Who works at which clinic decides who reads its roster (names, masked numbers): an
official cannot add themselves to a clinic, and every membership change is in the audit log."""

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from clinics.models import StaffMembership
from clinics.tests.factories import ClinicFactory, StaffMembershipFactory, UserFactory
from vaxbook.auditlog.models import AuditEvent
from vaxbook.roles import OFFICIALS, ensure_roles

pytestmark = pytest.mark.django_db

ADD = reverse("admin:clinics_staffmembership_add")
LIST = reverse("admin:clinics_staffmembership_changelist")


@pytest.fixture
def official():
    ensure_roles()
    user = UserFactory(username="official.lee", is_staff=True)
    user.groups.add(Group.objects.get(name=OFFICIALS))
    client = Client()
    client.force_login(user)
    return user, client


def _events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("pk"))


def test_an_official_cannot_add_themselves_to_a_clinic(official):
    user, client = official
    clinic = ClinicFactory(code="jongno")

    response = client.post(ADD, {"user": user.pk, "clinic": clinic.pk})

    assert response.status_code == 200
    assert "user" in response.context["adminform"].form.errors
    assert not StaffMembership.objects.exists()
    assert AuditEvent.objects.count() == 0


def test_adding_someone_else_is_recorded(official):
    user, client = official
    nurse, clinic = UserFactory(username="nurse.kim"), ClinicFactory(code="jongno")

    response = client.post(ADD, {"user": nurse.pk, "clinic": clinic.pk})

    assert response.status_code == 302
    membership = StaffMembership.objects.get()
    (event,) = _events("staff_membership_added")
    assert (event.actor, event.object_type, event.object_id) == (
        user,
        "clinics.staffmembership",
        str(membership.pk),
    )
    assert event.details == {"user": "nurse.kim", "clinic": "jongno"}


def test_moving_a_membership_to_oneself_is_refused_and_other_changes_are_recorded(official):
    user, client = official
    membership = StaffMembershipFactory(
        user=UserFactory(username="nurse.kim"), clinic=ClinicFactory(code="jongno")
    )
    other = ClinicFactory(code="mapo")
    change = reverse("admin:clinics_staffmembership_change", args=[membership.pk])

    assert client.post(change, {"user": user.pk, "clinic": other.pk}).status_code == 200
    membership.refresh_from_db()
    assert (membership.user.username, membership.clinic.code) == ("nurse.kim", "jongno")

    assert client.post(change, {"user": membership.user_id, "clinic": other.pk}).status_code == 302
    (event,) = _events("staff_membership_changed")
    assert event.details == {
        "old": {"user": "nurse.kim", "clinic": "jongno"},
        "new": {"user": "nurse.kim", "clinic": "mapo"},
    }


def test_removing_memberships_one_by_one_or_in_bulk_is_recorded(official):
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
    assert client.post(LIST, bulk).status_code == 302

    assert not StaffMembership.objects.exists()
    removed = _events("staff_membership_removed")
    assert sorted(e.details["user"] for e in removed) == ["nurse.0", "nurse.1", "nurse.2"]
    assert {e.actor for e in removed} == {user}
