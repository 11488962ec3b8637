"""No back door: every view that shows a booking form or accepts a booking write is guarded by
the window rule, and a direct request outside the window writes nothing — staff included."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from bookings.models import Booking
from bookings.tests.factories import BookingFactory
from bookings.tests.flow import token_of, walk_to_review
from clinics.tests.factories import SlotFactory

# Views that neither show a booking form nor accept a booking write, and why they stay open.
OPEN_VIEWS = {
    "home": "lists campaigns and links to the guarded entry; no form",
    "admin-login": "the officials' login (failures limited); books nothing",
    "second-factor-setup": "an account sets up its second factor, behind login; books nothing",
    "bookings:lookup": "finds a booking by code + RRN, or texts its code to its phone; no booking",
    "bookings:status": "shows one booking to the holder of its unguessable link",
    "bookings:cancel": "cancelling frees a place, it never takes one",
    "bookings:calendar": "a confirmed booking's calendar file, for the holder of its link",
    "clinics:staff-home": "clinic staff's roster page, behind login",
    "clinics:roster": "clinic staff's roster export (CSV, XLSX), behind login",
    "clinics:day": "clinic staff's list of the day, behind login",
    "clinics:check-in": "clinic staff mark an arrival; books nothing, behind login",
    "clinics:undo-check-in": "clinic staff take back a mistaken arrival; behind login",
    "clinics:logout": "clinic staff log out; books nothing",
    "api:campaigns": "read-only list of campaigns and their windows",
    "api:availability": "read-only places left; a hint, never a write",
    "api:booking-status": "read-only status of one booking",
    "api:roster": "clinic staff's roster of their own clinic, behind login",
    "api:check-in": "clinic staff mark an arrival; books nothing, behind login",
    "campaigns:queue": "the waiting room: hands out tickets and passes, shows no booking form",
    "campaigns:queue-join": "takes a place in the queue for a proof of work; no booking form",
    "campaigns:queue-status": "the waiting room's poll: a place in the queue, no form",
    "campaigns:draw": "the published draw of the queue, read-only",
    "campaigns:window-signup": "a phone to text when a window opens; books nothing",
    "campaigns:window-signup-code": "the code that confirms that phone; books nothing",
    "set_language": "the language switch: sets a cookie and goes back; books nothing",
    "dev-outbox": "development only (not routed in production): the console channel's texts",
    "dashboard:overview": "officials' live dashboard, behind the admin login; read-only",
    "dashboard:campaign": "officials' live dashboard of a campaign, behind the admin login",
    "dashboard:data": "the dashboard's figures (JSON), behind the admin login; read-only",
    "dashboard:series": "the dashboard's series (CSV), behind the admin login; read-only",
    "planner:campaign": "officials' capacity planner: writes windows, never a booking; admin",
    "metrics:metrics": "operators' Prometheus metrics, behind a token; read-only",
    "metrics:healthz": "the load balancer's health check; reads nothing personal, books nothing",
    "metrics:ping": "the one-line view the benchmark compares pages with: 'ok', nothing else",
}


def _form_actions(page: bytes) -> list[str]:
    """Where each form on the page posts ("" for a form without an action: to itself)."""
    actions = []
    for form in re.findall(rb"<form\b[^>]*>", page):
        action = re.search(rb'action="([^"]*)"', form)
        actions.append(action.group(1).decode() if action else "")
    return actions


# The admin is the officials' console; bookings are read-only there (see test below).
SKIPPED_NAMESPACES = {"admin"}


def _walk(patterns, prefix="", namespace=None):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = entry.namespace or namespace
            if ns in SKIPPED_NAMESPACES:
                continue
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}:{entry.name}" if namespace else entry.name
            yield prefix + str(entry.pattern), name, entry.callback


def _project_urls():
    return [u for u in _walk(get_resolver().url_patterns) if not u[0].startswith("static")]


def test_every_view_is_guarded_or_listed_as_deliberately_open():
    unguarded = [
        f"{route} ({name})"
        for route, name, view in _project_urls()
        if name not in OPEN_VIEWS and not getattr(view, "booking_window_guarded", False)
    ]
    assert unguarded == [], f"views without booking_window_required: {unguarded}"


def test_the_open_list_names_only_views_that_exist_and_are_not_guarded():
    views = {name: view for _, name, view in _project_urls()}
    assert set(OPEN_VIEWS) <= set(views)
    assert not [n for n in OPEN_VIEWS if getattr(views[n], "booking_window_guarded", False)]


def test_the_booking_steps_and_the_api_write_are_guarded():
    guarded = {
        name for _, name, view in _project_urls() if getattr(view, "booking_window_guarded", False)
    }
    assert {
        "bookings:start",
        "bookings:choose",
        "bookings:review",
        "bookings:rebook",
        "bookings:move",
        "bookings:move-review",
        "api:booking-create",
    } <= guarded


def test_the_admin_cannot_create_bookings(admin_client):
    assert admin_client.get(reverse("admin:bookings_booking_add")).status_code == 403


def _guarded_urls(campaign, rejected):
    values = {"<slug:campaign>": campaign.slug, "<uuid:public_id>": str(rejected.public_id)}
    for route, _name, view in _project_urls():
        if getattr(view, "booking_window_guarded", False):
            url = route
            for placeholder, value in values.items():
                url = url.replace(placeholder, value)
            assert "<" not in url, f"test does not know how to fill {route}"
            yield "/" + url


@pytest.mark.django_db
@pytest.mark.parametrize("moment", ["one second before opening", "one second after closing"])
def test_direct_requests_outside_the_window_write_nothing(moment, django_user_model):
    slot = SlotFactory()
    campaign = slot.campaign
    campaign.closes_at = campaign.opens_at + timedelta(hours=1)
    campaign.save()
    rejected = BookingFactory(slot=slot, status=Booking.Status.REJECTED, rrn="640101-2000001")

    citizen, official = Client(), Client()
    official.force_login(
        django_user_model.objects.create_superuser("official", password="pw-official-1")
    )
    tokens = {}
    if moment == "one second after closing":
        # Both got into the flow while it was open and hold valid step tokens.
        with time_machine.travel(campaign.closes_at - timedelta(minutes=5), tick=False):
            for who, client in (("citizen", citizen), ("official", official)):
                rrn = "620714-1234567" if who == "citizen" else "630101-2000002"
                tokens[who] = token_of(walk_to_review(client, slot, rrn=rrn))
        at = campaign.closes_at + timedelta(seconds=1)
    else:
        at = campaign.opens_at - timedelta(seconds=1)

    before = Booking.objects.count()
    signup = reverse("campaigns:window-signup", kwargs={"campaign": campaign.slug})
    urls = list(_guarded_urls(campaign, rejected))
    assert len(urls) >= 5
    with time_machine.travel(at, tick=False):
        for who, client in (("citizen", citizen), ("official", official)):
            form = {
                "t": tokens.get(who, "x"),
                "name": "Kim Minsu",
                "rrn": "650505-1234567",
                "phone": "010-1234-5678",
                "slot": slot.pk,
                "clinic": slot.clinic.code,
                "date": slot.date.isoformat(),
            }
            for url in urls:
                get = client.get(url, {"t": form["t"]})
                assert get.status_code in (403, 405), (who, url, get.status_code)
                # no form but the language switch every page carries, and (before the
                # opening) "text me when my window opens", which books nothing
                assert set(_form_actions(get.content)) <= {reverse("set_language"), signup}
                post = client.post(url, form)
                assert post.status_code == 403, (who, url, post.status_code)
                assert b'name="rrn"' not in post.content and b'name="slot"' not in post.content
                api = client.post(url, form, content_type="application/json")
                assert api.status_code == 403, (who, url, api.status_code)
    assert Booking.objects.count() == before
