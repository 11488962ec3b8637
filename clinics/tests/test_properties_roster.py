"""Property test of a name stored with markup, where clinic staff read it: neutralised in the
CSV roster (no cell a spreadsheet would run), whole in the API's roster, and shown as text on
the clinic's day list. The strategies are in ``bookings/tests/strategies.py``."""

import codecs
import csv
import io
import itertools
from datetime import datetime, time

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from hypothesis import example, given

from bookings.identity import normalise_name
from bookings.tests.factories import rrn_for
from bookings.tests.flow import submit_and_confirm, walk_to_review
from bookings.tests.strategies import (
    FUZZ_SLOW,
    markup_names,
    shown_escaped,
    without_abuse_limits,
)
from campaigns.windows import KST
from clinics.rosters import FORMULA_TRIGGERS
from clinics.tests.factories import ClinicFactory, SlotFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_abuse_limits(settings):
    without_abuse_limits(settings)


@pytest.fixture
def slot():
    return SlotFactory(clinic=ClinicFactory(code="jongno", region="Seoul"), capacity=1000)


people = itertools.count(700_000)  # rrn_for(n): people none of the other tests book


def _roster_rows(content: bytes) -> list[list[str]]:
    assert content.startswith(codecs.BOM_UTF8)
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


@FUZZ_SLOW
@given(raw_name=markup_names)
@example(raw_name="<script>alert(1)</script>")
@example(raw_name='"><img src=x onerror=alert(1)>')
@example(raw_name="=cmd|' /C calc'!A0")
@example(raw_name="\t@SUM(1)")
def test_a_stored_name_is_neutralised_in_the_rosters_and_escaped_on_the_day_list(
    admin_client, admin_user, slot, raw_name
):
    name = normalise_name(raw_name)
    person = Client()
    booking = submit_and_confirm(
        person, walk_to_review(person, slot, rrn=rrn_for(next(people)), name=raw_name)
    )
    assert booking.name == name

    csv_response = admin_client.get(
        reverse("clinics:roster", kwargs={"code": slot.clinic.code, "file_format": "csv"}),
        {"date": slot.date.isoformat()},
    )
    assert csv_response.status_code == 200
    [row] = [row for row in _roster_rows(csv_response.content) if row[1] == booking.code]
    cell = row[2]
    assert cell in (name, "'" + name)
    assert not cell.startswith(FORMULA_TRIGGERS), f"{cell!r} runs as a formula"

    api_roster = admin_client.get(
        reverse("api:roster", kwargs={"code": slot.clinic.code}), {"date": slot.date.isoformat()}
    )
    assert api_roster.status_code == 200
    assert api_roster["Content-Type"] == "application/json"
    assert name in [entry["name"] for entry in api_roster.json()["bookings"]]

    # the day list shows today's bookings: look at it on the day of the appointment
    with time_machine.travel(datetime.combine(slot.date, time(8, 0), tzinfo=KST), tick=False):
        staff = Client()
        staff.force_login(admin_user)
        response = staff.get(reverse("clinics:day", kwargs={"code": slot.clinic.code}))

    assert response.status_code == 200
    page = response.content.decode()
    assert booking.code in page
    shown_escaped(page, name, "clinic day list")
