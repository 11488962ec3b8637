"""Clinic staff and multi-dose courses: the day's list, the roster files and the API say which
dose each appointment is; a past day shows who did not come and counts them; checking in a
first dose tells the staff member when the next dose stays booked."""

import codecs
import csv
import io
import re
from datetime import datetime, time, timedelta

import pytest
import time_machine
from django.contrib import messages
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from bookings import services
from bookings.models import Booking
from bookings.tests.doses import RECOMMENDED, book_course, course_slots, two_dose_campaign
from clinics.tests.factories import ClinicFactory, StaffMembershipFactory
from vaxbook.dates import KST

pytestmark = pytest.mark.django_db


@pytest.fixture
def courses():
    """A clinic with two people's two-dose courses whose first doses are on the same day at
    09:00, and one of its staff."""
    campaign = two_dose_campaign()
    clinic = ClinicFactory(code="jongno")
    firsts, seconds = course_slots(campaign, clinic=clinic, times=(time(9, 0),))
    came = book_course(campaign, firsts[0], 1)
    missed = book_course(campaign, firsts[0], 2)
    member = StaffMembershipFactory(clinic=clinic)
    return clinic, firsts[0].date, came, missed, member.user


def _at(day, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=KST)


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _day_url(clinic, day) -> str:
    return reverse("clinics:day", kwargs={"code": clinic.code}) + f"?date={day.isoformat()}"


def _rows(page: str) -> dict[str, tuple[str, str]]:
    """booking code → (status, dose) of each row of the day's list."""
    return {
        code: (status, dose)
        for code, status, dose in re.findall(
            r'<tr data-code="([^"]*)" data-status="([^"]*)"[^>]* data-dose="(\d)"', page
        )
    }


def _total(page: str, name: str) -> int:
    found = re.search(rf'id="total-{name}"[^>]* data-count="(\d+)"', page)
    assert found, f"no total {name}"
    return int(found[1])


def test_the_day_says_which_dose_each_appointment_is(courses):
    clinic, day, came, missed, user = courses
    second_day = day + timedelta(days=RECOMMENDED)
    with time_machine.travel(_at(day, 8)):
        page = _client(user).get(_day_url(clinic, day)).content.decode()
        assert _rows(page) == {came.code: ("confirmed", "1"), missed.code: ("confirmed", "1")}
        later = _client(user).get(_day_url(clinic, second_day)).content.decode()
    assert _rows(later) == {
        f"{came.code}-2": ("confirmed", "2"),
        f"{missed.code}-2": ("confirmed", "2"),
    }


def test_a_past_day_lists_and_counts_who_did_not_come(courses):
    clinic, day, came, missed, user = courses
    with time_machine.travel(_at(day, 9, 5)):
        services.check_in_booking(came.pk, by=user)
    with time_machine.travel(_at(day + timedelta(days=1), 0, 30)):
        assert services.mark_no_shows() == 1
        page = _client(user).get(_day_url(clinic, day)).content.decode()
    assert _rows(page) == {came.code: ("confirmed", "1"), missed.code: ("no_show", "1")}
    totals = [_total(page, name) for name in ("booked", "checked-in", "no-show", "to-come")]
    assert totals == [2, 1, 1, 0]


def test_the_day_before_the_sweep_has_no_no_shows(courses):
    clinic, day, _, _, user = courses
    with time_machine.travel(_at(day, 8)):
        page = _client(user).get(_day_url(clinic, day)).content.decode()
    totals = [_total(page, name) for name in ("booked", "checked-in", "no-show", "to-come")]
    assert totals == [2, 0, 0, 2]


def test_checking_in_a_first_dose_says_when_the_second_stays_booked(courses):
    clinic, day, came, _, user = courses
    with time_machine.travel(_at(day, 9, 5)):
        client = _client(user)
        url = reverse("clinics:check-in", kwargs={"code": clinic.code, "booking_code": came.code})
        response = client.post(url)
        assert response.status_code == 302
        told = [m for m in get_messages(response.wsgi_request) if "next-dose" in m.tags]
    assert len(told) == 1 and told[0].level == messages.INFO
    came.refresh_from_db()
    assert came.checked_in_at is not None


def test_the_next_dose_message_carries_its_time(courses):
    clinic, day, came, _, user = courses
    second = came.later_doses.get()
    with time_machine.travel(_at(day, 9, 5)):
        client = _client(user)
        url = reverse("clinics:check-in", kwargs={"code": clinic.code, "booking_code": came.code})
        page = client.post(url, follow=True).content.decode()
    found = re.search(r'data-next-dose="([^"]+)"', page)
    assert found, "the message names the next dose's time"
    assert datetime.fromisoformat(found[1]) == second.slot.starts_at


def test_checking_in_a_second_dose_or_a_one_dose_course_says_nothing_more(courses):
    clinic, day, came, _, user = courses
    second = came.later_doses.get()
    with time_machine.travel(_at(day, 9, 5)):
        services.check_in_booking(came.pk, by=user)
    with time_machine.travel(_at(second.slot.date, 9, 5)):
        client = _client(user)
        url = reverse("clinics:check-in", kwargs={"code": clinic.code, "booking_code": second.code})
        response = client.post(url)
        assert response.status_code == 302
        tags = [m.tags for m in get_messages(response.wsgi_request)]
    second.refresh_from_db()
    assert second.checked_in_at is not None
    assert tags and not any("next-dose" in t for t in tags)


def _csv_rows(content: bytes) -> list[list[str]]:
    assert content.startswith(codecs.BOM_UTF8)
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def test_the_roster_files_and_the_api_say_the_dose_and_list_no_shows(courses):
    clinic, day, came, missed, user = courses
    with time_machine.travel(_at(day, 9, 5)):
        services.check_in_booking(came.pk, by=user)
    with time_machine.travel(_at(day + timedelta(days=1), 0, 30)):
        services.mark_no_shows()
        client = _client(user)
        url = reverse("clinics:roster", kwargs={"code": clinic.code, "file_format": "csv"})
        rows = _csv_rows(client.get(url, {"date": day.isoformat()}).content)
        xlsx = client.get(
            reverse("clinics:roster", kwargs={"code": clinic.code, "file_format": "xlsx"}),
            {"date": day.isoformat()},
        ).content
        api = client.get(reverse("api:roster", kwargs={"code": clinic.code}), {"date": day})
        later = client.get(
            reverse("api:roster", kwargs={"code": clinic.code}),
            {"date": day + timedelta(days=RECOMMENDED)},
        )
    # the dose is the last column (files read by position keep working)
    assert {(r[1], r[-1]) for r in rows[1:]} == {(came.code, "1"), (missed.code, "1")}
    sheet = load_workbook(io.BytesIO(xlsx)).active
    cells = [[c.value for c in row] for row in sheet.iter_rows()]
    assert cells[0] == rows[0] and {(r[1], r[-1]) for r in cells[1:]} == {
        (came.code, "1"),
        (missed.code, "1"),
    }
    assert api.status_code == 200
    listed = {b["code"]: (b["status"], b["dose"]) for b in api.json()["bookings"]}
    assert listed == {came.code: ("confirmed", 1), missed.code: ("no_show", 1)}
    # the missed first dose's second was freed: only the other person's is left that day
    assert [(b["code"], b["dose"]) for b in later.json()["bookings"]] == [(f"{came.code}-2", 2)]


def test_the_api_check_in_of_a_first_dose_names_the_next_dose(courses):
    clinic, day, came, _, user = courses
    second = came.later_doses.get()
    with time_machine.travel(_at(day, 9, 5)):
        client = _client(user)
        url = reverse("api:check-in", kwargs={"code": clinic.code, "booking_code": came.code})
        body = client.post(url).json()
    assert body["dose"] == 1
    assert body["next_dose"]["dose"] == 2 and body["next_dose"]["code"] == second.code
    assert datetime.fromisoformat(body["next_dose"]["starts_at"]) == second.slot.starts_at
    assert Booking.objects.get(pk=came.pk).checked_in_at is not None
