"""The booking admin's audit records: a booking opened, and every list or search of bookings
with the rows it showed — never a refused page, never the text of a search that is not a
booking code."""

import json

import pytest
from django.urls import reverse

from bookings.models import Booking
from bookings.tests.factories import BookingFactory
from clinics.tests.factories import UserFactory
from vaxbook.auditlog.models import AuditEvent

pytestmark = pytest.mark.django_db

NAME = "Citizen Hong Gildong"
RRN = "620714-1234567"
BOOKING_LIST = reverse("admin:bookings_booking_changelist")


def _booking_page(booking_id: int) -> str:
    return reverse("admin:bookings_booking_change", args=[booking_id])


def _events(action: str | None = None) -> list[AuditEvent]:
    events = AuditEvent.objects.order_by("pk")
    return list(events if action is None else events.filter(action=action))


def _only_event(action: str) -> AuditEvent:
    (event,) = _events(action)
    return event


def test_opening_a_booking_in_the_admin_is_recorded(admin_client, admin_user):
    booking = BookingFactory(name=NAME, rrn=RRN)

    response = admin_client.get(_booking_page(booking.pk))

    assert response.status_code == 200
    event = _only_event("booking_viewed")
    assert (event.actor, event.actor_name) == (admin_user, admin_user.username)
    assert (event.object_type, event.object_id) == ("bookings.booking", str(booking.pk))
    assert event.details == {"campaign": booking.campaign.slug}


def test_a_missing_booking_is_not_a_booking_view(admin_client):
    BookingFactory()

    admin_client.get(_booking_page(999999))

    assert _events("booking_viewed") == []


def test_listing_bookings_in_the_admin_is_recorded_with_the_rows_shown(admin_client, admin_user):
    bookings = BookingFactory.create_batch(3, name=NAME)

    response = admin_client.get(BOOKING_LIST, {"status__exact": "pending"})

    assert response.status_code == 200
    event = _only_event("bookings_listed")
    assert (event.actor, event.actor_name) == (admin_user, admin_user.username)
    assert event.object_type == "bookings.booking"
    assert event.details == {
        "search": "",
        "filters": {"status__exact": ["pending"]},
        "rows": 3,
        "shown": 3,
    }
    assert {b.pk for b in response.context["cl"].result_list} == {b.pk for b in bookings}


def test_searching_bookings_in_the_admin_is_recorded_with_the_term_and_the_matches(admin_client):
    BookingFactory(code="K7M2QX9P", status=Booking.Status.CONFIRMED)
    BookingFactory()

    admin_client.get(BOOKING_LIST, {"q": "k7m2qx9p"})

    event = _only_event("bookings_listed")
    assert event.details == {"search": "K7M2QX9P", "filters": {}, "rows": 1, "shown": 1}


def test_a_search_that_is_not_a_booking_code_is_recorded_without_its_text(admin_client):
    BookingFactory(name=NAME, rrn=RRN)

    terms = (RRN, NAME, "01012345678", "620714", "KIM", "K7M2QX9PX")
    for term in terms:
        admin_client.get(BOOKING_LIST, {"q": term})

    events = _events("bookings_listed")
    assert [e.details["search"] for e in events] == [{"not_a_code": len(t)} for t in terms]
    stored = json.dumps(list(AuditEvent.objects.values()), default=str)
    for term in terms:
        assert term not in stored


def test_a_booking_list_refused_to_someone_without_permission_is_not_recorded(client):
    BookingFactory()
    client.force_login(UserFactory(is_staff=True))

    assert client.get(BOOKING_LIST).status_code == 403
    assert _events() == []


def test_a_booking_page_refused_to_someone_without_permission_is_not_recorded(client):
    booking = BookingFactory()
    client.force_login(UserFactory(is_staff=True))

    response = client.get(_booking_page(booking.pk))

    assert response.status_code == 403
    assert _events() == []
