"""Officials close a clinic's day in the admin: a form (clinic, day, reason), a confirmation that
says how many appointments the day holds, then the service moves them or rejects them, audited;
a past or already closed day is refused on the form. The closed days are listed, read-only."""

import threading
from datetime import time, timedelta

import pytest
from django.contrib import messages
from django.contrib.messages import get_messages
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from bookings import services
from bookings.models import Booking
from bookings.tests.doses import assert_places_add_up, book_course, course_slots, two_dose_campaign
from clinics.models import ClinicDayClosure
from clinics.tests.factories import SlotFactory, StaffMembershipFactory, UserFactory
from vaxbook.auditlog.models import AuditEvent
from vaxbook.roles import OFFICIALS, ensure_roles

pytestmark = pytest.mark.django_db

URL = "admin:clinics_clinic_close_day"


@pytest.fixture
def official():
    groups = ensure_roles()
    user = UserFactory(is_staff=True)
    user.groups.add(groups[OFFICIALS])
    client = Client()
    client.force_login(user)
    return client, user


@pytest.fixture
def full_day():
    """A clinic's day with two people's first doses at 09:00 and one free place the day before:
    closing it moves one course and leaves the other without a place."""
    campaign = two_dose_campaign()
    firsts, seconds = course_slots(campaign, times=(time(9, 0),), capacity=2)
    clinic, day = firsts[0].clinic, firsts[0].date
    spare = SlotFactory(
        campaign=campaign,
        clinic=clinic,
        date=day - timedelta(days=1),
        start_time=time(9, 0),
        capacity=1,
    )
    moved = book_course(campaign, firsts[0], 1)
    stranded = book_course(campaign, firsts[0], 2)
    return clinic, day, spare, moved, stranded


def _fields(clinic, day, **more) -> dict:
    return {"clinic": clinic.pk, "date": day.isoformat(), "reason": "vaccine delivery late", **more}


def test_the_form_asks_for_the_clinic_the_day_and_the_reason(official, full_day):
    client, _ = official
    clinic, *_ = full_day
    response = client.get(reverse(URL), {"clinic": clinic.pk})
    assert response.status_code == 200
    form = response.context["form"]
    assert set(form.fields) == {"clinic", "date", "reason"}
    assert form.initial["clinic"] == clinic
    # the clinic is searched for (the admin's autocomplete), not picked from every clinic
    found = client.get(
        reverse("admin:autocomplete"),
        {
            "term": clinic.code,
            "app_label": "clinics",
            "model_name": "clinicdayclosure",
            "field_name": "clinic",
        },
    )
    assert found.status_code == 200
    assert [r["id"] for r in found.json()["results"]] == [str(clinic.pk)]


def test_the_confirmation_says_how_many_appointments_the_day_holds_and_changes_nothing(
    official, full_day
):
    client, _ = official
    clinic, day, *_ = full_day
    response = client.post(reverse(URL), _fields(clinic, day))
    assert response.status_code == 200
    assert response.context["confirming"] is True
    assert response.context["counts"] == {"to_move": 2, "checked_in": 0}
    assert 'id="closing-to-move" data-count="2"' in response.content.decode()
    assert not ClinicDayClosure.objects.exists()
    assert Booking.objects.filter(slot__date=day, status="confirmed").count() == 2


def test_confirming_closes_the_day_moves_and_rejects_and_is_audited(official, full_day):
    client, user = official
    clinic, day, spare, moved, stranded = full_day
    response = client.post(reverse(URL), _fields(clinic, day, confirm="1"))
    closure = ClinicDayClosure.objects.get(clinic=clinic, date=day)
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "admin:clinics_clinicdayclosure_change", args=[closure.pk]
    )
    assert (closure.moved, closure.rejected, closure.closed_by) == (1, 1, user)
    assert closure.reason == "vaccine delivery late"
    moved.refresh_from_db()
    stranded.refresh_from_db()
    assert moved.slot == spare and moved.status == Booking.Status.CONFIRMED
    assert stranded.status == Booking.Status.REJECTED
    assert stranded.reject_reason == Booking.RejectReason.CLINIC_CLOSED
    assert_places_add_up()
    event = AuditEvent.objects.get(action=AuditEvent.Action.CLINIC_DAY_CLOSED)
    assert event.actor == user and event.object_id == str(closure.pk)
    assert event.object_type == "clinics.clinicdayclosure"
    assert (event.details["clinic"], event.details["date"]) == (clinic.code, day.isoformat())
    assert (event.details["moved"], event.details["rejected"]) == (1, 1)
    said = list(get_messages(response.wsgi_request))
    assert [m.level for m in said] == [messages.SUCCESS]


def test_a_past_day_is_refused_on_the_form(official, full_day):
    client, _ = official
    clinic, *_ = full_day
    yesterday = timezone.localdate() - timedelta(days=1)
    for extra in ({}, {"confirm": "1"}):
        response = client.post(reverse(URL), _fields(clinic, yesterday, **extra))
        assert response.status_code == 200
        form = response.context["form"]
        assert form.has_error("date", code="past")
        assert response.context["confirming"] is False
    assert not ClinicDayClosure.objects.exists()
    assert not AuditEvent.objects.filter(action="clinic_day_closed").exists()


def test_a_day_already_closed_is_refused_on_the_form(official, full_day):
    client, user = official
    clinic, day, *_ = full_day
    services.close_clinic_day(clinic, day, reason="first", actor=user)
    for extra in ({}, {"confirm": "1"}):
        response = client.post(reverse(URL), _fields(clinic, day, **extra))
        assert response.status_code == 200
        assert response.context["form"].has_error("date", code="closed")
    assert ClinicDayClosure.objects.count() == 1
    assert AuditEvent.objects.filter(action="clinic_day_closed").count() == 1


def test_a_day_closed_between_the_confirmation_and_the_click_is_refused_by_the_service(
    official, full_day
):
    """The form's check passed when the page was shown; the service is the last line."""
    client, user = official
    clinic, day, *_ = full_day
    assert client.post(reverse(URL), _fields(clinic, day)).context["confirming"] is True
    services.close_clinic_day(clinic, day, reason="meanwhile", actor=user)
    response = client.post(reverse(URL), _fields(clinic, day, confirm="1"))
    assert response.status_code == 200
    assert response.context["form"].has_error("date", code="closed")


@pytest.mark.django_db(transaction=True)
def test_two_officials_closing_the_same_day_at_once_one_closes_it_the_other_is_told(
    official, full_day
):
    """The other official's closing is still uncommitted when this one confirms: the form's
    check passes, then the service waits for the other's lock on the clinic and finds the day
    closed. The page says so on the form, not a 500, and nothing is closed twice."""
    client, _ = official
    clinic, day, spare, moved, stranded = full_day
    other = UserFactory(is_staff=True)
    closed, release = threading.Event(), threading.Event()

    def close_and_hold():
        try:
            with transaction.atomic():
                services.close_clinic_day(clinic, day, reason="the other", actor=other)
                closed.set()
                release.wait(timeout=10)
        finally:
            connection.close()

    worker = threading.Thread(target=close_and_hold)
    worker.start()
    try:
        assert closed.wait(timeout=10)
        threading.Timer(0.5, release.set).start()
        response = client.post(reverse(URL), _fields(clinic, day, confirm="1"))
    finally:
        release.set()
        worker.join()
    assert response.status_code == 200
    assert response.context["form"].has_error("date", code="closed")
    closure = ClinicDayClosure.objects.get()
    assert (closure.reason, closure.closed_by, closure.moved, closure.rejected) == (
        "the other",
        other,
        1,
        1,
    )
    assert AuditEvent.objects.filter(action="clinic_day_closed").count() == 1
    moved.refresh_from_db()
    assert moved.slot == spare
    assert_places_add_up()


def test_nonsense_is_a_form_error_not_a_500(official, full_day):
    client, _ = official
    response = client.post(reverse(URL), {"clinic": "999999", "date": "2026-02-30", "confirm": "1"})
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"clinic", "date", "reason"}


def test_the_closed_days_are_listed_read_only(official, full_day):
    client, user = official
    clinic, day, *_ = full_day
    closure = services.close_clinic_day(clinic, day, reason="delivery late", actor=user)
    listing = client.get(reverse("admin:clinics_clinicdayclosure_changelist"))
    assert listing.status_code == 200
    assert list(listing.context["cl"].result_list) == [closure]
    page = client.get(reverse("admin:clinics_clinicdayclosure_change", args=[closure.pk]))
    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    assert client.get(reverse("admin:clinics_clinicdayclosure_add")).status_code == 403
    delete = reverse("admin:clinics_clinicdayclosure_delete", args=[closure.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert ClinicDayClosure.objects.filter(pk=closure.pk).exists()


def test_clinic_staff_cannot_close_a_day(full_day):
    clinic, day, *_ = full_day
    member = StaffMembershipFactory(clinic=clinic, user=UserFactory(is_staff=True))
    client = Client()
    client.force_login(member.user)
    assert client.get(reverse(URL)).status_code == 403
    assert client.post(reverse(URL), _fields(clinic, day, confirm="1")).status_code == 403
    assert not ClinicDayClosure.objects.exists()
