"""Where clinic staff land after logging in as the README says (at /admin/login/): their
clinic's day, or the list of their clinics; officials keep the admin; an explicit, safe
``next`` still wins."""

import pytest
from django.test import Client
from django.urls import reverse

from clinics.tests.factories import ClinicFactory, StaffMembershipFactory, UserFactory
from vaxbook.roles import CLINIC_STAFF, OFFICIALS, ensure_roles

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"
LOGIN = reverse("admin-login")


def _user(role: str, *clinics, **flags):
    user = UserFactory(is_staff=True, **flags)
    if role:
        user.groups.add(ensure_roles()[role])
    for clinic in clinics:
        StaffMembershipFactory(user=user, clinic=clinic)
    return user


def _log_in(user, *, next_url: str | None = None, client: Client | None = None):
    """Open the login page (with ``?next=`` when given), then post the form as a browser does,
    with the ``next`` the page put in it."""
    client = client or Client()
    page = client.get(LOGIN, {"next": next_url} if next_url else {})
    assert page.status_code == 200
    form_next = page.context["next"]
    return client.post(LOGIN, {"username": user.username, "password": PASSWORD, "next": form_next})


def test_staff_of_one_clinic_land_on_its_day():
    clinic = ClinicFactory()
    response = _log_in(_user(CLINIC_STAFF, clinic))
    assert response.status_code == 302
    assert response["Location"] == reverse("clinics:day", kwargs={"code": clinic.code})


def test_staff_of_several_clinics_land_on_the_list_of_them():
    response = _log_in(_user(CLINIC_STAFF, ClinicFactory(), ClinicFactory()))
    assert response.status_code == 302
    assert response["Location"] == reverse("clinics:staff-home")


def test_staff_of_no_clinic_yet_land_on_the_staff_home_that_says_so():
    response = _log_in(_user(CLINIC_STAFF))
    assert response["Location"] == reverse("clinics:staff-home")


@pytest.mark.parametrize(
    ("role", "flags"), [(OFFICIALS, {}), ("", {"is_superuser": True})], ids=["official", "su"]
)
def test_officials_and_superusers_keep_the_admin(role, flags):
    # a member of a clinic too: the admin is still where their work is
    response = _log_in(_user(role, ClinicFactory(), **flags))
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:index")


def test_an_explicit_safe_next_wins():
    clinic = ClinicFactory()
    wanted = reverse("clinics:roster", kwargs={"code": clinic.code, "file_format": "csv"})
    response = _log_in(_user(CLINIC_STAFF, clinic), next_url=wanted)
    assert response["Location"] == wanted


def test_an_unsafe_next_is_ignored():
    clinic = ClinicFactory()
    response = _log_in(_user(CLINIC_STAFF, clinic), next_url="https://evil.example/")
    assert response["Location"] == reverse("clinics:day", kwargs={"code": clinic.code})


def test_opening_the_login_page_when_logged_in_goes_to_the_same_place():
    clinic = ClinicFactory()
    client = Client()
    client.force_login(_user(CLINIC_STAFF, clinic))
    response = client.get(LOGIN)
    assert response.status_code == 302
    assert response["Location"] == reverse("clinics:day", kwargs={"code": clinic.code})
