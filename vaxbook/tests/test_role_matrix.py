"""Each role against each page and API endpoint, with the status it must get.

Roles: anonymous, a citizen (the browser session that looked its booking up with code + RRN),
staff of clinic A, staff of clinic B, an official, a superuser.
"""

import re
from datetime import time

import pytest
from django.contrib.auth.models import Group
from django.forms.forms import NON_FIELD_ERRORS
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from bookings import services
from bookings.models import Booking
from bookings.tests.factories import BookingFactory
from clinics.tests.factories import ClinicFactory, SlotFactory, StaffMembershipFactory, UserFactory
from vaxbook.roles import CLINIC_STAFF, OFFICIALS, ensure_roles

ROLES = ["anonymous", "citizen", "staff_a", "staff_b", "official", "superuser"]

# url template → expected status per role, in the order of ROLES. Literal addresses on purpose:
# the table reads as the site's address space, which reverse() calls would hide.
MATRIX = {
    ("GET", "/"): [200, 200, 200, 200, 200, 200],
    ("GET", "/book/{campaign}/"): [200, 200, 200, 200, 200, 200],
    ("GET", "/booking/{public_id}/"): [200, 200, 200, 200, 200, 200],
    ("POST", "/booking/{other_public_id}/cancel/"): [403, 403, 403, 403, 403, 403],
    ("GET", "/api/campaigns/"): [200, 200, 200, 200, 200, 200],
    ("GET", "/staff/"): [302, 302, 200, 200, 200, 200],
    ("GET", "/staff/clinics/{clinic_a}/roster.csv"): [302, 302, 200, 403, 403, 200],
    ("GET", "/staff/clinics/{clinic_a}/today/"): [302, 302, 200, 403, 403, 200],
    ("GET", "/staff/clinics/{clinic_a}/today/?date={today}&q={code}"): [
        302,
        302,
        200,
        403,
        403,
        200,
    ],
    ("POST", "/staff/clinics/{clinic_a}/check-in/{code}/"): [302, 302, 302, 403, 403, 302],
    ("POST", "/staff/clinics/{clinic_a}/check-in/{code}/undo/"): [302, 302, 302, 403, 403, 302],
    ("POST", "/staff/logout/"): [302, 302, 302, 302, 302, 302],
    ("GET", "/api/clinics/{clinic_a}/roster/?date={today}"): [403, 403, 200, 403, 403, 200],
    ("POST", "/api/clinics/{clinic_a}/bookings/{code}/check-in/"): [403, 403, 200, 403, 403, 200],
    ("DELETE", "/api/clinics/{clinic_a}/bookings/{code}/check-in/"): [403, 403, 200, 403, 403, 200],
    ("GET", "/admin/"): [302, 302, 200, 200, 200, 200],
    ("GET", "/admin/bookings/booking/"): [302, 302, 403, 403, 200, 200],
    ("GET", "/admin/bookings/booking/{pk}/change/"): [302, 302, 403, 403, 200, 200],
    ("GET", "/admin/bookings/booking/integrity/"): [302, 302, 403, 403, 200, 200],
    ("GET", "/admin/auditlog/auditevent/"): [302, 302, 403, 403, 200, 200],
    ("GET", "/admin/notifications/notification/"): [302, 302, 403, 403, 200, 200],
    ("GET", "/admin/campaigns/campaign/add/"): [302, 302, 403, 403, 200, 200],
    ("GET", "/admin/campaigns/campaign/{campaign_pk}/second-doses/"): [
        302,
        302,
        403,
        403,
        200,
        200,
    ],
    ("GET", "/admin/campaigns/vaccine/"): [302, 302, 403, 403, 200, 200],
    ("GET", "/admin/campaigns/vaccine/add/"): [302, 302, 403, 403, 200, 200],
    ("GET", "/admin/campaigns/vaccine/{vaccine}/change/"): [302, 302, 403, 403, 200, 200],
    ("GET", "/admin/clinics/slot/"): [302, 302, 403, 403, 200, 200],
    ("GET", "/admin/clinics/staffmembership/"): [302, 302, 403, 403, 200, 200],
    ("GET", "/admin/clinics/clinic/close-day/"): [302, 302, 403, 403, 200, 200],
    ("POST", "/admin/clinics/clinic/close-day/"): [302, 302, 403, 403, 200, 200],
    ("GET", "/admin/clinics/clinicdayclosure/"): [302, 302, 403, 403, 200, 200],
    ("GET", "/admin/auth/user/"): [302, 302, 403, 403, 403, 200],
    # the officials' live dashboard (vaxbook.dashboard)
    ("GET", "/admin/dashboard/"): [302, 302, 403, 403, 200, 200],
    ("GET", "/admin/dashboard/campaigns/{campaign_pk}/"): [302, 302, 403, 403, 200, 200],
    ("GET", "/admin/dashboard/campaigns/{campaign_pk}/data.json"): [302, 302, 403, 403, 200, 200],
    ("GET", "/admin/dashboard/campaigns/{campaign_pk}/series.csv"): [302, 302, 403, 403, 200, 200],
    # the capacity planner (vaxbook.planner)
    ("GET", "/admin/planner/campaigns/{campaign_pk}/"): [302, 302, 403, 403, 200, 200],
}

RRN = "620714-1234567"

# the booking checked in is today's: it must still be today when the request comes
pytestmark = pytest.mark.usefixtures("away_from_midnight")


@pytest.fixture
def world(db):
    groups = ensure_roles()
    clinic_a, clinic_b = ClinicFactory(code="clinic-a"), ClinicFactory(code="clinic-b")
    slot = SlotFactory(clinic=clinic_a, date=timezone.localdate(), start_time=time(23, 59))
    booking = BookingFactory(slot=slot, rrn=RRN)
    other = BookingFactory(slot=slot)
    for b in (booking, other):
        services.confirm_booking(b.pk)
    booking.refresh_from_db()

    def staff(clinic, group: Group):
        membership = StaffMembershipFactory(clinic=clinic, user=UserFactory(is_staff=True))
        membership.user.groups.add(group)
        return membership.user

    users = {
        "staff_a": staff(clinic_a, groups[CLINIC_STAFF]),
        "staff_b": staff(clinic_b, groups[CLINIC_STAFF]),
        "official": UserFactory(is_staff=True),
        "superuser": UserFactory(is_staff=True, is_superuser=True),
    }
    users["official"].groups.add(groups[OFFICIALS])
    clients = {"anonymous": Client()}
    citizen = Client()
    found = citizen.post(reverse("bookings:lookup"), {"code": booking.code, "rrn": RRN})
    assert found.status_code == 302
    clients["citizen"] = citizen
    for role, user in users.items():
        clients[role] = Client()
        clients[role].force_login(user)
    values = {
        "campaign": slot.campaign.slug,
        "campaign_pk": slot.campaign.pk,
        "vaccine": slot.campaign.vaccine_id,
        "public_id": booking.public_id,
        "other_public_id": other.public_id,
        "clinic_a": clinic_a.code,
        "code": booking.code,
        "pk": booking.pk,
        "today": timezone.localdate().isoformat(),
    }
    return clients, values


@pytest.mark.parametrize(("method", "url"), list(MATRIX))
def test_each_role_gets_exactly_what_is_theirs(world, method, url):
    clients, values = world
    got = []
    for role in ROLES:
        client = clients[role]
        target = url.format(**values)
        response = getattr(client, method.lower())(target)
        got.append(response.status_code)
    assert got == MATRIX[(method, url)], dict(zip(ROLES, got, strict=True))


def test_a_booking_is_never_reached_with_its_code_alone(world):
    clients, values = world
    response = Client().post(reverse("bookings:lookup"), {"code": values["code"]})
    assert response.status_code == 200
    # a well-formed code, refused for want of the number or the phone, not looked up
    form = response.context["form"]
    assert list(form.errors) == [NON_FIELD_ERRORS]
    assert (form.cleaned_data["code"], form.cleaned_data["rrn"]) == (values["code"], None)
    assert form.cleaned_data["phone"] is None


def test_the_phone_number_also_opens_a_booking(world):
    _, values = world
    client = Client()
    response = client.post(
        reverse("bookings:lookup"), {"code": values["code"], "phone": "010 1234 5678"}
    )
    assert response.status_code == 302
    cancel = reverse("bookings:cancel", kwargs={"public_id": values["public_id"]})
    assert client.post(cancel).status_code == 302
    assert Booking.objects.get(code=values["code"]).status == Booking.Status.CANCELLED


def test_check_in_by_the_clinics_own_staff_is_recorded(world):
    clients, values = world
    clinic, code = values["clinic_a"], values["code"]
    check_in = reverse("clinics:check-in", kwargs={"code": clinic, "booking_code": code})
    clients["staff_a"].post(check_in)
    booking = Booking.objects.get(code=code)
    assert booking.checked_in_at is not None and booking.checked_in_by.is_staff
    day = reverse("clinics:day", kwargs={"code": clinic})
    page = clients["staff_a"].get(day).content.decode()
    # the row of this booking says it is checked in
    assert re.search(
        f'<tr data-code="{code}" data-status="confirmed" data-checked-in="[^"]+"[^>]*>', page
    )
    assert "620714-1******" in page and "1234567" not in page


def test_the_api_says_why_a_check_in_is_refused(world):
    clients, values = world
    Booking.objects.filter(code=values["code"]).update(status=Booking.Status.CANCELLED)
    url = reverse(
        "api:check-in", kwargs={"code": values["clinic_a"], "booking_code": values["code"]}
    )
    response = clients["staff_a"].post(url)
    assert response.status_code == 409
    assert (response.json()["code"], response.json()["reason"]) == (
        "cannot_check_in",
        "not_confirmed",
    )
    assert Booking.objects.get(code=values["code"]).checked_in_at is None
