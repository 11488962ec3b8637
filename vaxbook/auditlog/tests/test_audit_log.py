"""The audit log: each recorded event, its append-only guarantee (in Python and in
PostgreSQL), its read-only admin, and that it never holds a citizen's name or number."""

import json
from datetime import UTC, date, datetime, time

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.urls import reverse

from bookings.models import Booking
from bookings.tests.factories import BookingFactory
from campaigns.models import BookingWindow, Campaign, QueueDraw
from campaigns.tests.factories import CampaignFactory
from clinics.admin import SlotAdmin
from clinics.models import Slot
from clinics.tests.factories import (
    ClinicFactory,
    SlotFactory,
    StaffMembershipFactory,
    UserFactory,
)
from vaxbook.auditlog.models import COMMAND_LINE, AppendOnlyViolation, AuditEvent
from vaxbook.auditlog.services import record

pytestmark = pytest.mark.django_db

NAME = "Citizen Hong Gildong"
RRN = "620714-1234567"
AUDIT_CHANGELIST = reverse("admin:auditlog_auditevent_changelist")


def _events(action: str | None = None) -> list[AuditEvent]:
    events = AuditEvent.objects.order_by("pk")
    return list(events if action is None else events.filter(action=action))


def _only_event(action: str) -> AuditEvent:
    (event,) = _events(action)
    return event


def _event(**overrides) -> AuditEvent:
    kwargs = {
        "actor": COMMAND_LINE,
        "obj_type": "clinics.clinic",
        "obj_id": 1,
        "details": {"clinic": "jongno", "date": date(2030, 5, 1)},
    }
    kwargs.update(overrides)
    return record(AuditEvent.Action.ROSTER_EXPORTED, **kwargs)


# Roster exports


@pytest.fixture
def roster_day():
    slot = SlotFactory(clinic=ClinicFactory(code="jongno"), date=date(2030, 5, 3))
    BookingFactory(slot=slot, name=NAME, rrn=RRN, status=Booking.Status.CONFIRMED, code="K7M2QX9P")
    return slot.clinic, slot.date


def test_a_roster_export_on_the_staff_page_is_recorded(roster_day):
    clinic, day = roster_day
    member = StaffMembershipFactory(clinic=clinic, user__username="nurse.park")
    client = Client()
    client.force_login(member.user)

    response = client.get(f"/staff/clinics/{clinic.code}/roster.csv", {"date": "2030-05-03"})

    assert response.status_code == 200
    event = _only_event("roster_exported")
    assert (event.actor, event.actor_name) == (member.user, "nurse.park")
    assert (event.object_type, event.object_id) == ("clinics.clinic", str(clinic.pk))
    assert event.details == {"clinic": "jongno", "date": "2030-05-03", "format": "csv"}


def test_a_refused_roster_export_is_not_recorded(roster_day):
    clinic, _ = roster_day
    outsider = StaffMembershipFactory()  # staff at another clinic
    client = Client()
    client.force_login(outsider.user)

    assert client.get(f"/staff/clinics/{clinic.code}/roster.csv").status_code == 403
    assert _events() == []


def test_a_roster_export_on_the_command_line_is_recorded(roster_day, tmp_path):
    clinic, _ = roster_day

    call_command("export_roster", clinic="jongno", date="2030-05-03", output=tmp_path / "r.csv")

    event = _only_event("roster_exported")
    assert (event.actor, event.actor_name) == (None, "command-line")
    assert event.object_id == str(clinic.pk)
    assert event.details == {"clinic": "jongno", "date": "2030-05-03", "format": "csv"}


# Bookings viewed in the admin


def test_opening_a_booking_in_the_admin_is_recorded(admin_client, admin_user):
    booking = BookingFactory(name=NAME, rrn=RRN)

    response = admin_client.get(reverse("admin:bookings_booking_change", args=[booking.pk]))

    assert response.status_code == 200
    event = _only_event("booking_viewed")
    assert (event.actor, event.actor_name) == (admin_user, admin_user.username)
    assert (event.object_type, event.object_id) == ("bookings.booking", str(booking.pk))
    assert event.details == {"campaign": booking.campaign.slug}


def test_a_missing_booking_is_not_a_booking_view(admin_client):
    BookingFactory()

    admin_client.get(reverse("admin:bookings_booking_change", args=[999999]))

    assert _events("booking_viewed") == []


BOOKING_LIST = reverse("admin:bookings_booking_changelist")


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

    response = client.get(reverse("admin:bookings_booking_change", args=[booking.pk]))

    assert response.status_code == 403
    assert _events() == []


# Campaign windows and waiting room

OPENS = datetime(2030, 5, 1, 11, 0, tzinfo=UTC)  # 20:00 KST
CLOSES = datetime(2030, 5, 8, 11, 0, tzinfo=UTC)


@pytest.fixture
def campaign():
    return CampaignFactory(slug="cohort-60-64", opens_at=OPENS, closes_at=CLOSES)


def _campaign_page(campaign: Campaign) -> str:
    return reverse("admin:campaigns_campaign_change", args=[campaign.pk])


def _campaign_form(campaign: Campaign | None = None, windows=(), **overrides) -> dict:
    """What the campaign page posts: the campaign as it is, changed by ``overrides``, and its
    staggered windows as ``(window or None, values)`` rows."""
    data = {
        "name": campaign.name if campaign else "Cohort 60-64",
        "slug": campaign.slug if campaign else "cohort-60-64",
        "vaccine": "Moderna",
        "born_from": "1962-01-01",
        "born_to": "1966-12-31",
        "opens_at_0": "2030-05-01",
        "opens_at_1": "20:00:00",
        "closes_at_0": "2030-05-08",
        "closes_at_1": "20:00:00",
        "admission_rate_per_minute": "600",
        "admission_pass_minutes": "20",
        "windows-TOTAL_FORMS": str(len(windows)),
        "windows-INITIAL_FORMS": str(sum(1 for window, _ in windows if window is not None)),
        "windows-MIN_NUM_FORMS": "0",
        "windows-MAX_NUM_FORMS": "1000",
    }
    for i, (window, values) in enumerate(windows):
        if window is not None:
            data[f"windows-{i}-id"] = window.pk
            data[f"windows-{i}-campaign"] = window.campaign_id
        data.update({f"windows-{i}-{name}": value for name, value in values.items()})
    data.update(overrides)
    return data


def _window_values(**overrides) -> dict:
    values = {
        "label": "Ending in 9",
        "opens_at_0": "2030-05-02",
        "opens_at_1": "20:00:00",
        "closes_at_0": "2030-05-03",
        "closes_at_1": "20:00:00",
        "birth_day_last_digit": "9",
    }
    values.update(overrides)
    return values


def test_changing_when_a_campaign_opens_and_closes_is_recorded(admin_client, admin_user, campaign):
    form = _campaign_form(campaign, opens_at_1="18:00:00", closes_at_0="2030-05-09")

    response = admin_client.post(_campaign_page(campaign), form)

    assert response.status_code == 302
    opened, closed = _events("campaign_window_changed")
    assert opened.actor == admin_user and opened.object_id == str(campaign.pk)
    assert opened.details == {
        "campaign": "cohort-60-64",
        "field": "opens_at",
        "old": "2030-05-01T20:00:00+09:00",
        "new": "2030-05-01T18:00:00+09:00",
    }
    assert closed.details["field"] == "closes_at"
    assert (closed.details["old"], closed.details["new"]) == (
        "2030-05-08T20:00:00+09:00",
        "2030-05-09T20:00:00+09:00",
    )
    assert _events("waiting_room_changed") == []


def test_saving_a_campaign_unchanged_records_nothing(admin_client, campaign):
    response = admin_client.post(_campaign_page(campaign), _campaign_form(campaign))

    assert response.status_code == 302
    assert _events() == []


def test_a_new_campaign_records_its_window(admin_client):
    response = admin_client.post(reverse("admin:campaigns_campaign_add"), _campaign_form())

    assert response.status_code == 302
    campaign = Campaign.objects.get(slug="cohort-60-64")
    events = _events("campaign_window_changed")
    assert [(e.object_id, e.details["field"], e.details["old"]) for e in events] == [
        (str(campaign.pk), "opens_at", None),
        (str(campaign.pk), "closes_at", None),
    ]
    assert _events("waiting_room_changed") == []  # the defaults, unchanged


def test_adding_changing_and_deleting_staggered_windows_is_recorded(admin_client, campaign):
    kept = BookingWindow.objects.create(
        campaign=campaign,
        label="Ending in 9",
        birth_day_last_digit=9,
        opens_at=datetime(2030, 5, 2, 11, 0, tzinfo=UTC),
        closes_at=datetime(2030, 5, 3, 11, 0, tzinfo=UTC),
    )
    dropped = BookingWindow.objects.create(
        campaign=campaign,
        label="Ending in 0",
        birth_day_last_digit=0,
        opens_at=datetime(2030, 5, 3, 11, 0, tzinfo=UTC),
        closes_at=datetime(2030, 5, 4, 11, 0, tzinfo=UTC),
    )
    windows = [
        (kept, _window_values(closes_at_1="22:00:00")),
        (dropped, _window_values(label="Ending in 0", birth_day_last_digit="0", DELETE="on")),
        (None, _window_values(label="Ending in 1", birth_day_last_digit="1")),
    ]

    response = admin_client.post(_campaign_page(campaign), _campaign_form(campaign, windows))

    assert response.status_code == 302
    added = BookingWindow.objects.get(label="Ending in 1")
    changed = _only_event("booking_window_changed")
    assert changed.details == {
        "campaign": "cohort-60-64",
        "window": kept.pk,
        "field": "closes_at",
        "old": "2030-05-03T20:00:00+09:00",
        "new": "2030-05-03T22:00:00+09:00",
    }
    assert _only_event("booking_window_added").details == {
        "campaign": "cohort-60-64",
        "window": added.pk,
        "new": {
            "label": "Ending in 1",
            "opens_at": "2030-05-02T20:00:00+09:00",
            "closes_at": "2030-05-03T20:00:00+09:00",
            "birth_day_last_digit": 1,
            "born_from": None,
            "born_to": None,
        },
    }
    deleted = _only_event("booking_window_deleted")
    assert deleted.details["window"] == dropped.pk
    assert deleted.details["old"]["label"] == "Ending in 0"
    assert {e.object_id for e in _events()} == {str(campaign.pk)}


def test_changing_the_waiting_room_is_recorded(admin_client, campaign):
    form = _campaign_form(
        campaign, waiting_room_enabled="on", admission_rate_per_minute="120", draw_published="on"
    )

    response = admin_client.post(_campaign_page(campaign), form)

    assert response.status_code == 302
    changes = {
        e.details["field"]: (e.details["old"], e.details["new"])
        for e in _events("waiting_room_changed")
    }
    assert changes == {
        "waiting_room_enabled": (False, True),
        "admission_rate_per_minute": (600, 120),
        "draw_published": (False, True),
    }
    assert _events("campaign_window_changed") == []


def test_publishing_the_draw_is_recorded_once(admin_client, admin_user, campaign):
    QueueDraw.objects.create(campaign=campaign, opens_at=OPENS, seed="ab" * 16, drawn_at=OPENS)
    action = {"action": "publish_draw", "_selected_action": [campaign.pk]}

    admin_client.post(reverse("admin:campaigns_campaign_changelist"), action)
    admin_client.post(reverse("admin:campaigns_campaign_changelist"), action)  # already public

    event = _only_event("waiting_room_changed")
    assert event.actor == admin_user
    assert event.details == {
        "campaign": "cohort-60-64",
        "field": "draw_published",
        "old": False,
        "new": True,
    }


# Slot capacity


def _slot_form(slot, **overrides) -> dict:
    data = {
        "clinic": slot.clinic_id,
        "campaign": slot.campaign_id,
        "date": slot.date.isoformat(),
        "start_time": slot.start_time.strftime("%H:%M:%S"),
        "capacity": str(slot.capacity),
    }
    data.update(overrides)
    return data


def _slot_page(slot) -> str:
    return reverse("admin:clinics_slot_change", args=[slot.pk])


def test_changing_a_slots_capacity_is_recorded(admin_client, admin_user):
    slot = SlotFactory(
        clinic=ClinicFactory(code="jongno"), capacity=10, date=date(2030, 5, 3), start_time=time(9)
    )

    response = admin_client.post(_slot_page(slot), _slot_form(slot, capacity="12"))

    assert response.status_code == 302
    event = _only_event("slot_capacity_changed")
    assert (event.actor, event.object_type, event.object_id) == (
        admin_user,
        "clinics.slot",
        str(slot.pk),
    )
    assert event.details == {
        "clinic": "jongno",
        "date": "2030-05-03",
        "start_time": "09:00:00",
        "field": "capacity",
        "old": 10,
        "new": 12,
    }


def test_the_old_capacity_is_the_one_replaced_not_the_one_first_read(admin_client, monkeypatch):
    slot = SlotFactory(capacity=10)
    read = SlotAdmin.get_object

    def get_object(self, request, object_id, from_field=None):
        found = read(self, request, object_id, from_field)
        # Another official's change commits between the admin's read and its lock.
        Slot.objects.filter(pk=found.pk).update(capacity=12)
        return found

    monkeypatch.setattr(SlotAdmin, "get_object", get_object)

    admin_client.post(_slot_page(slot), _slot_form(slot, capacity="14"))

    details = _only_event("slot_capacity_changed").details
    assert (details["old"], details["new"]) == (12, 14)


def test_a_refused_capacity_change_and_other_slot_changes_are_not_recorded(admin_client):
    slot = SlotFactory(capacity=6, booked=5)

    refused = admin_client.post(_slot_page(slot), _slot_form(slot, capacity="4"))
    moved = admin_client.post(_slot_page(slot), _slot_form(slot, start_time="10:00:00"))

    assert refused.status_code == 200 and moved.status_code == 302
    assert _events() == []


# Append-only


def test_an_event_cannot_be_saved_again_or_deleted():
    event = _event()
    event.actor_name = "someone else"

    with pytest.raises(AppendOnlyViolation):
        event.save()
    with pytest.raises(AppendOnlyViolation):
        event.delete()
    with pytest.raises(AppendOnlyViolation):
        AuditEvent(pk=event.pk, actor_name="forged", action="roster_exported").save(
            update_fields=["actor_name"]
        )


def _refused_by_the_database(statement) -> None:
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        statement()


def test_the_database_refuses_updates_and_deletes_through_the_orm():
    event = _event()

    _refused_by_the_database(lambda: AuditEvent.objects.update(actor_name="someone else"))
    _refused_by_the_database(lambda: AuditEvent.objects.filter(pk=event.pk).delete())
    # Even a new row with an existing id: save() inserts, and the duplicate key fails.
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent(pk=event.pk, actor_name="forged", action="roster_exported").save()

    event = AuditEvent.objects.get()
    assert event.actor_name == "command-line"
    assert event.details == {"clinic": "jongno", "date": "2030-05-01"}


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE bookings_auditevent SET details = '{}'::jsonb",
        "UPDATE bookings_auditevent SET actor_id = NULL, actor_name = 'nobody'",
        "DELETE FROM bookings_auditevent",
    ],
)
def test_the_database_refuses_updates_and_deletes_in_raw_sql(sql):
    _event(actor=UserFactory(username="official.kim"))

    def execute():
        with connection.cursor() as cursor:
            cursor.execute(sql)

    _refused_by_the_database(execute)
    assert AuditEvent.objects.get().actor_name == "official.kim"


def test_deleting_a_user_keeps_their_events_and_name():
    user = UserFactory(username="official.kim")
    _event(actor=user)

    user.delete()

    event = AuditEvent.objects.get()
    assert (event.actor, event.actor_name) == (None, "official.kim")
    assert event.details == {"clinic": "jongno", "date": "2030-05-01"}


def test_only_known_actions_are_recorded():
    with pytest.raises(ValueError):
        record("anything", actor=COMMAND_LINE, obj_type="x", obj_id=1, details={})


# The audit log in the admin


def _official_with(*codenames: str):
    user = UserFactory(is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


def test_an_official_with_the_view_permission_reads_and_filters_the_log(client):
    _event(obj_id=7, actor=UserFactory(username="official.kim"))
    _event(obj_id=8)
    client.force_login(_official_with("view_auditevent"))

    everything = client.get(AUDIT_CHANGELIST)
    by_actor = client.get(AUDIT_CHANGELIST, {"q": "kim"})
    by_object = client.get(AUDIT_CHANGELIST, {"q": "8"})
    by_action = client.get(AUDIT_CHANGELIST, {"action__exact": "booking_viewed"})
    by_day = client.get(AUDIT_CHANGELIST, {"at__gte": "2999-01-01 00:00:00+09:00"})

    assert everything.status_code == 200
    html = everything.content.decode()
    assert "official.kim" in html and "clinics.clinic 7" in html and "Roster exported" in html
    assert [e.object_id for e in by_actor.context["cl"].result_list] == ["7"]
    assert [e.object_id for e in by_object.context["cl"].result_list] == ["8"]
    assert list(by_action.context["cl"].result_list) == []
    assert list(by_day.context["cl"].result_list) == []
    event_page = client.get(
        reverse("admin:auditlog_auditevent_change", args=[AuditEvent.objects.first().pk])
    )
    assert event_page.status_code == 200
    assert 'name="_save"' not in event_page.content.decode()
    assert _events("booking_viewed") == []  # reading the log is not itself logged


def test_the_log_cannot_be_added_to_changed_or_deleted_in_the_admin(admin_client):
    event = _event()
    change_url = reverse("admin:auditlog_auditevent_change", args=[event.pk])

    assert admin_client.get(reverse("admin:auditlog_auditevent_add")).status_code == 403
    assert admin_client.post(change_url, {"actor_name": "forged"}).status_code == 403
    delete_url = reverse("admin:auditlog_auditevent_delete", args=[event.pk])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    assert "delete_selected" not in admin_client.get(AUDIT_CHANGELIST).content.decode()
    assert AuditEvent.objects.get().actor_name == "command-line"


def test_staff_without_the_view_permission_cannot_read_the_log(client):
    _event()
    client.force_login(_official_with("view_booking"))

    assert client.get(AUDIT_CHANGELIST).status_code == 403


# Never a citizen's name or number


def test_no_event_holds_a_citizens_name_or_registration_number(admin_client, roster_day):
    clinic, day = roster_day
    booking = Booking.objects.get()
    slot = booking.slot
    admin_client.get(reverse("admin:bookings_booking_change", args=[booking.pk]))
    admin_client.get(f"/staff/clinics/{clinic.code}/roster.csv", {"date": day.isoformat()})
    call_command("export_roster", clinic=clinic.code, date=day.isoformat(), output="/dev/null")
    admin_client.post(_slot_page(slot), _slot_form(slot, capacity="20"))
    admin_client.post(
        _campaign_page(slot.campaign), _campaign_form(slot.campaign, opens_at_1="18:00:00")
    )

    assert {e.action for e in _events()} == {
        "booking_viewed",
        "roster_exported",
        "slot_capacity_changed",
        "campaign_window_changed",
    }
    stored = json.dumps(list(AuditEvent.objects.values()), default=str)
    digits = RRN.replace("-", "")
    for secret in (NAME, "Hong", RRN, digits, RRN[7:], booking.rrn_hmac, booking.phone):
        assert secret not in stored
