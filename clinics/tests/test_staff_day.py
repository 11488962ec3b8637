"""The clinic's day as staff use it: their own header with the clinic and a logout, any day
by ``?date=``, the totals, a search by name or booking code, check-in and its undo."""

import re
from datetime import time, timedelta
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from bookings import services
from bookings.models import Booking
from bookings.tests.factories import BookingFactory
from clinics.tests.factories import ClinicFactory, SlotFactory, StaffMembershipFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("away_from_midnight")]


@pytest.fixture
def day():
    """A clinic with, today: three confirmed bookings (one checked in), one pending and one
    cancelled; and one confirmed booking in two days."""
    clinic = ClinicFactory(code="jongno", name="종로구 보건소")
    today = timezone.localdate()
    morning = SlotFactory(clinic=clinic, date=today, start_time=time(9, 0))
    campaign = morning.campaign
    later = SlotFactory(clinic=clinic, campaign=campaign, date=today + timedelta(days=2))
    people = {}
    for name in ("김민수", "이서연", "박지훈"):
        people[name] = services.confirm_booking(BookingFactory(slot=morning, name=name).pk)
    people["pending"] = BookingFactory(slot=morning, name="최pending")
    cancelled = services.confirm_booking(BookingFactory(slot=morning, name="정취소").pk)
    services.cancel_booking(cancelled.pk)
    people["later"] = services.confirm_booking(BookingFactory(slot=later, name="한나중").pk)
    member = StaffMembershipFactory(clinic=clinic)
    services.check_in_booking(people["김민수"].pk, by=member.user)
    client = Client()
    client.force_login(member.user)
    return client, clinic, people


def _url(clinic, **query) -> str:
    url = reverse("clinics:day", kwargs={"code": clinic.code})
    return f"{url}?{urlencode(query)}" if query else url


def _codes(page: str) -> list[str]:
    return re.findall(r'<tr[^>]* data-code="([^"]*)"', page)


def _total(page: str, name: str) -> int:
    found = re.search(rf'id="total-{name}"[^>]* data-count="(\d+)"', page)
    assert found, f"no total {name}"
    return int(found[1])


def test_staff_pages_have_their_own_header_with_the_clinic_and_a_logout(day):
    client, clinic, _ = day
    page = client.get(_url(clinic)).content.decode()
    header = re.search(r'<header class="site[^"]*"[^>]*>(.*?)</header>', page, re.S)[1]
    assert clinic.name in header
    logout = reverse("clinics:logout")
    assert re.search(rf'<form[^>]* method="post"[^>]* action="{logout}"', header)
    assert reverse("bookings:lookup") not in header, "not the citizens' header"
    home = client.get(reverse("clinics:staff-home")).content.decode()
    assert re.search(rf'<form[^>]* action="{logout}"', home)

    assert client.post(logout)["Location"] == reverse("admin-login")
    assert client.get(_url(clinic)).status_code == 302, "logged out"


def test_the_day_has_totals_booked_checked_in_and_still_to_come(day):
    client, clinic, people = day
    page = client.get(_url(clinic)).content.decode()
    assert (_total(page, "booked"), _total(page, "checked-in"), _total(page, "to-come")) == (
        3,
        1,
        2,
    )
    listed = _codes(page)
    for name in ("김민수", "이서연", "박지훈"):
        assert people[name].code in listed
    assert people["later"].code not in listed


def test_another_day_by_its_date(day):
    client, clinic, people = day
    later = people["later"].slot.date
    response = client.get(_url(clinic, date=later.isoformat()))
    assert response.status_code == 200
    assert response.context["day"] == later
    page = response.content.decode()
    assert _codes(page) == [people["later"].code]
    assert (_total(page, "booked"), _total(page, "checked-in")) == (1, 0)
    # not today: nobody can be checked in from this list
    assert (
        reverse(
            "clinics:check-in", kwargs={"code": clinic.code, "booking_code": people["later"].code}
        )
        not in page
    )


@pytest.mark.parametrize("bad", ["2026-13-01", "tomorrow", "2026-02-30", "9" * 40])
def test_a_malformed_date_says_so_and_never_fails(day, bad):
    client, clinic, _ = day
    response = client.get(_url(clinic, date=bad))
    assert response.status_code == 400
    assert 'id="date-error"' in response.content.decode()
    assert 'name="date"' in response.content.decode(), "a date picker to try again"


def test_search_by_name_or_booking_code(day):
    client, clinic, people = day
    by_name = client.get(_url(clinic, q="서연")).content.decode()
    assert _codes(by_name) == [people["이서연"].code]
    by_code = client.get(_url(clinic, q=people["박지훈"].code.lower())).content.decode()
    assert _codes(by_code) == [people["박지훈"].code]
    # the totals are the day's, whatever the search
    assert _total(by_code, "booked") == 3
    nothing = client.get(_url(clinic, q="nobody")).content.decode()
    assert _codes(nothing) == [] and 'id="no-match"' in nothing


def _undo_url(clinic, booking) -> str:
    return reverse(
        "clinics:undo-check-in", kwargs={"code": clinic.code, "booking_code": booking.code}
    )


def test_a_check_in_is_undone_the_same_day(day):
    client, clinic, people = day
    booking = people["김민수"]
    page = client.get(_url(clinic)).content.decode()
    assert _undo_url(clinic, booking) in page
    response = client.post(_undo_url(clinic, booking))
    assert response.status_code == 302
    assert response["Location"] == _url(clinic)
    booking.refresh_from_db()
    assert (booking.checked_in_at, booking.checked_in_by) == (None, None)
    assert booking.status == Booking.Status.CONFIRMED
    page = client.get(_url(clinic)).content.decode()
    assert _total(page, "checked-in") == 0 and _total(page, "to-come") == 3
    check_in = reverse(
        "clinics:check-in", kwargs={"code": clinic.code, "booking_code": booking.code}
    )
    assert check_in in page, "can be checked in again"


def test_a_check_in_of_another_day_is_not_undone(day):
    client, clinic, people = day
    booking = people["later"]
    Booking.objects.filter(pk=booking.pk).update(checked_in_at=timezone.now())
    response = client.post(_undo_url(clinic, booking), follow=True)
    assert response.status_code == 200
    [message] = list(response.context["messages"])
    assert message.level_tag == "error"
    booking.refresh_from_db()
    assert booking.checked_in_at is not None


def test_the_search_is_kept_after_a_check_in(day):
    client, clinic, people = day
    booking = people["이서연"]
    url = reverse("clinics:check-in", kwargs={"code": clinic.code, "booking_code": booking.code})
    response = client.post(url, {"q": "서연"})
    assert response.status_code == 302
    assert response["Location"] == _url(clinic) + "?q=%EC%84%9C%EC%97%B0"
    booking.refresh_from_db()
    assert booking.checked_in_at is not None


def test_the_days_queries_do_not_grow_with_its_bookings(day):
    client, clinic, people = day

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(_url(clinic)).status_code == 200
        return len(captured)

    before = queries()
    slot = people["이서연"].slot
    for n in range(5):
        services.confirm_booking(BookingFactory(slot=slot, name=f"추가{n}").pk)
    assert queries() == before
