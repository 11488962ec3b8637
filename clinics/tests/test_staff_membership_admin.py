"""Who works at which clinic decides who reads its roster (names, masked numbers): nobody,
official or not, adds themselves to a clinic — another official must. (Each change of a
membership is in the audit log: ``test_admin_audit``.)"""

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from clinics.models import StaffMembership
from clinics.services import MembershipRefused, check_membership_grant
from clinics.tests.factories import ClinicFactory, StaffMembershipFactory, UserFactory
from vaxbook.auditlog.models import AuditEvent
from vaxbook.roles import OFFICIALS, ensure_roles

pytestmark = pytest.mark.django_db

ADD = reverse("admin:clinics_staffmembership_add")


@pytest.fixture
def official():
    ensure_roles()
    user = UserFactory(username="official.lee", is_staff=True)
    user.groups.add(Group.objects.get(name=OFFICIALS))
    client = Client()
    client.force_login(user)
    return user, client


def test_the_rule_refuses_only_a_grant_to_oneself(official):
    user, _ = official
    with pytest.raises(MembershipRefused):
        check_membership_grant(user=user, actor=user)
    check_membership_grant(user=UserFactory(), actor=user)


def test_an_official_cannot_add_themselves_to_a_clinic(official):
    user, client = official
    clinic = ClinicFactory(code="jongno")

    response = client.post(ADD, {"user": user.pk, "clinic": clinic.pk})

    assert response.status_code == 200
    assert "user" in response.context["adminform"].form.errors
    assert not StaffMembership.objects.exists()
    assert AuditEvent.objects.count() == 0


def test_moving_a_membership_to_oneself_is_refused(official):
    user, client = official
    membership = StaffMembershipFactory(
        user=UserFactory(username="nurse.kim"), clinic=ClinicFactory(code="jongno")
    )
    change = reverse("admin:clinics_staffmembership_change", args=[membership.pk])

    response = client.post(change, {"user": user.pk, "clinic": ClinicFactory(code="mapo").pk})

    assert response.status_code == 200
    assert "user" in response.context["adminform"].form.errors
    membership.refresh_from_db()
    assert (membership.user.username, membership.clinic.code) == ("nurse.kim", "jongno")
    assert AuditEvent.objects.count() == 0
