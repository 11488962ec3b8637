import re
import threading
import time as clock
from datetime import date, time

import pytest
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection
from django.db.models import F
from django.forms.forms import NON_FIELD_ERRORS
from django.urls import reverse
from django.utils.html import escape

from bookings.models import Booking
from bookings.tests.factories import BookingFactory
from campaigns.tests.factories import CampaignFactory
from clinics import admin as clinics_admin
from clinics.admin import GenerateSlotsForm, SlotAdmin
from clinics.models import Slot
from clinics.services import generate_slots
from clinics.tests.admin_forms import slot_form, slot_page
from clinics.tests.factories import ClinicFactory, SlotFactory, UserFactory

pytestmark = pytest.mark.django_db

CLINICS = reverse("admin:clinics_clinic_changelist")
ACTION = "generate_slots_action"


def _ask(clinics) -> dict:
    """What the changelist posts when the action is chosen for the selected clinics."""
    return {"action": ACTION, "index": 0, "_selected_action": [c.pk for c in clinics]}


def _apply(clinics, campaign, **overrides) -> dict:
    """What the intermediate page posts back."""
    data = {
        "action": ACTION,
        "_selected_action": [c.pk for c in clinics],
        "apply": "Generate slots",
        "campaign": campaign.pk,
        "first_day": "2030-05-01",
        "last_day": "2030-05-02",
        "day_starts": "09:00",
        "day_ends": "12:00",
        "interval_minutes": "30",
        "capacity": "6",
    }
    data.update(overrides)
    return data


def _messages(response) -> list[tuple[int, str]]:
    return [(message.level, str(message)) for message in response.context["messages"]]


def _errors_shown(response, field: str) -> list[ValidationError]:
    """The form's errors on ``field`` (NON_FIELD_ERRORS: the form's own), each shown."""
    form = response.context["form"]
    html = response.content.decode()
    assert all(escape(message) in html for message in form.errors[field])
    return form.errors.as_data()[field]


def _capacity_refusal(*, capacity: int, booked: int) -> list[str]:
    """What the slot's own rule (``Slot.clean``) says of this capacity."""
    with pytest.raises(ValidationError) as refused:
        Slot(capacity=capacity, booked=booked).clean()
    return refused.value.message_dict["capacity"]


def _staff_user(*codenames: str):
    user = UserFactory(is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="clinics", codename__in=codenames)
    )
    return user


def test_the_action_asks_for_the_parameters_first(admin_client):
    clinics = ClinicFactory.create_batch(2)
    CampaignFactory(name="Cohort 55-59")

    response = admin_client.post(CLINICS, _ask(clinics))

    assert response.status_code == 200
    assert response.templates[0].name == "admin/clinics/clinic/generate_slots.html"
    html = response.content.decode()
    assert clinics[0].code in html and clinics[1].code in html
    assert "Cohort 55-59" in html
    assert not Slot.objects.exists()


def test_generates_the_slots_and_says_how_many(admin_client):
    clinics = ClinicFactory.create_batch(2)
    ClinicFactory()  # not selected
    campaign = CampaignFactory()

    response = admin_client.post(CLINICS, _apply(clinics, campaign), follow=True)

    # 2 clinics x 2 days x 6 half-hours from 09:00 to 11:30
    assert Slot.objects.count() == 24
    assert set(Slot.objects.values_list("clinic", flat=True)) == {c.pk for c in clinics}
    [(level, said)] = _messages(response)
    # the numbers it gives, besides the campaign's name: the slots created, the clinics
    assert level == messages.SUCCESS
    assert sorted(re.findall(r"\d+", said.replace(str(campaign), ""))) == ["2", "24"]

    response = admin_client.post(CLINICS, _apply(clinics, campaign), follow=True)

    assert Slot.objects.count() == 24
    [(level, said)] = _messages(response)
    assert level == messages.SUCCESS
    assert sorted(re.findall(r"\d+", said.replace(str(campaign), ""))) == ["0", "2"]


@pytest.mark.parametrize(
    ("overrides", "field", "code", "limit"),
    [
        ({"interval_minutes": "0"}, "interval_minutes", "min_value", 1),
        ({"capacity": "0"}, "capacity", "min_value", 1),
        ({"first_day": "not a date"}, "first_day", "invalid", None),
        ({"interval_minutes": ""}, "interval_minutes", "required", None),
        # Too big for the database: a form error, not a 500 (DataError, OverflowError).
        ({"capacity": "99999999999"}, "capacity", "max_value", 10000),
        ({"capacity": "10001"}, "capacity", "max_value", 10000),
        ({"interval_minutes": "10000000000"}, "interval_minutes", "max_value", 1440),
        ({"interval_minutes": "1441"}, "interval_minutes", "max_value", 1440),
    ],
)
def test_bad_input_shows_the_form_again_with_the_error(admin_client, overrides, field, code, limit):
    clinic = ClinicFactory()

    response = admin_client.post(CLINICS, _apply([clinic], CampaignFactory(), **overrides))

    assert response.status_code == 200
    [error] = _errors_shown(response, field)
    assert error.code == code
    if limit is not None:  # the bound it names
        assert error.params["limit_value"] == limit
    assert not Slot.objects.exists()


@pytest.mark.parametrize(
    "overrides",
    [{"first_day": "2030-05-02", "last_day": "2030-05-01"}, {"day_ends": "08:00"}],
)
def test_input_the_service_refuses_shows_the_form_again_with_its_refusal(admin_client, overrides):
    clinic, campaign = ClinicFactory(), CampaignFactory()
    asked = GenerateSlotsForm(_apply([clinic], campaign, **overrides))
    assert asked.is_valid()  # the form lets it through: the rule is the service's
    with pytest.raises(ValueError) as refused:
        generate_slots(clinics=[clinic], **asked.cleaned_data)

    response = admin_client.post(CLINICS, _apply([clinic], campaign, **overrides))

    assert response.status_code == 200
    assert [e.message for e in _errors_shown(response, NON_FIELD_ERRORS)] == [str(refused.value)]
    assert not Slot.objects.exists()


def test_the_action_is_offered_only_to_who_may_add_slots(client):
    ClinicFactory()
    client.force_login(_staff_user("view_clinic", "change_clinic", "add_slot"))
    assert ACTION in client.get(CLINICS).content.decode()

    client.force_login(_staff_user("view_clinic", "change_clinic"))
    assert ACTION not in client.get(CLINICS).content.decode()


def test_posting_the_action_without_permission_creates_nothing(client):
    clinic = ClinicFactory()
    client.force_login(_staff_user("view_clinic", "change_clinic"))

    client.post(CLINICS, _apply([clinic], CampaignFactory()))

    assert not Slot.objects.exists()


def test_slot_capacity_cannot_go_below_the_places_booked(admin_client):
    slot = SlotFactory(capacity=6, booked=4)
    url = reverse("admin:clinics_slot_change", args=[slot.pk])
    data = {
        "clinic": slot.clinic_id,
        "campaign": slot.campaign_id,
        "date": slot.date.isoformat(),
        "start_time": "09:00:00",
        "capacity": "3",
    }

    response = admin_client.post(url, data)

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.errors["capacity"] == _capacity_refusal(capacity=3, booked=4)
    assert escape(form.errors["capacity"][0]) in response.content.decode()
    slot.refresh_from_db()
    assert slot.capacity == 6

    response = admin_client.post(url, {**data, "capacity": "4"})

    assert response.status_code == 302
    slot.refresh_from_db()
    assert slot.capacity == 4


def test_slot_pages_show_booked_and_places_left_but_never_edit_booked(admin_client):
    slot = SlotFactory(capacity=6, booked=4, date=date(2030, 5, 1))

    listing = admin_client.get(reverse("admin:clinics_slot_changelist")).content.decode()
    change = admin_client.get(reverse("admin:clinics_slot_change", args=[slot.pk]))

    assert '<td class="field-booked">4</td>' in listing
    assert '<td class="field-places_left">2</td>' in listing
    assert 'name="booked"' not in change.content.decode()
    assert "booked" in change.context["adminform"].readonly_fields


def test_slots_can_be_found_by_clinic_code(admin_client):
    wanted = SlotFactory(clinic=ClinicFactory(code="busan-07"))
    SlotFactory(clinic=ClinicFactory(code="seoul-01"))

    response = admin_client.get(reverse("admin:clinics_slot_changelist"), {"q": "busan-07"})

    assert list(response.context["cl"].result_list) == [wanted]


def _confirm_one(slot_id: int) -> int:
    """Take a place the way confirm_booking does; returns the rows updated (0: full)."""
    return Slot.objects.filter(pk=slot_id, booked__lt=F("capacity")).update(booked=F("booked") + 1)


def _without_the_protection(monkeypatch) -> None:
    """The slot page as it was: stale booked in the form, the whole row saved."""
    monkeypatch.setattr(SlotAdmin, "form", forms.ModelForm)
    monkeypatch.setattr(SlotAdmin, "save_model", admin.ModelAdmin.save_model)


@pytest.fixture
def confirmation_after_the_admin_reads(monkeypatch):
    """A worker confirms a booking just after the admin loaded the slot for a POST.

    Deterministic: it runs in the request's own transaction, between the read that fills the
    form and the write.
    """
    read = SlotAdmin.get_object

    def get_object(self, request, object_id, from_field=None):
        slot = read(self, request, object_id, from_field)
        if request.method == "POST":
            assert _confirm_one(slot.pk) == 1
        return slot

    monkeypatch.setattr(SlotAdmin, "get_object", get_object)


def test_a_confirmation_made_while_the_page_was_open_is_kept(admin_client):
    slot = SlotFactory(capacity=6, booked=4)
    data = slot_form(slot)
    admin_client.get(slot_page(slot))
    assert _confirm_one(slot.pk) == 1

    response = admin_client.post(slot_page(slot), {**data, "capacity": "8"})

    assert response.status_code == 302
    slot.refresh_from_db()
    assert (slot.capacity, slot.booked) == (8, 5)


def test_a_confirmation_between_the_admins_read_and_its_write_is_kept(
    admin_client, confirmation_after_the_admin_reads
):
    slot = SlotFactory(capacity=6, booked=4)

    response = admin_client.post(slot_page(slot), slot_form(slot, capacity="8"))

    assert response.status_code == 302
    slot.refresh_from_db()
    assert (slot.capacity, slot.booked) == (8, 5)


def test_control_saving_the_whole_row_loses_that_confirmation(
    admin_client, confirmation_after_the_admin_reads, monkeypatch
):
    _without_the_protection(monkeypatch)
    slot = SlotFactory(capacity=6, booked=4)

    admin_client.post(slot_page(slot), slot_form(slot, capacity="8"))

    slot.refresh_from_db()
    assert (slot.capacity, slot.booked) == (8, 4), "the fifth place was given but not counted"


def test_capacity_below_a_place_booked_meanwhile_is_refused_and_nothing_changes(
    admin_client, confirmation_after_the_admin_reads
):
    slot = SlotFactory(capacity=6, booked=4)

    # Fine for the 4 places the official saw, not for the 5 booked by the time it is saved.
    response = admin_client.post(slot_page(slot), slot_form(slot, capacity="4"))

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.errors["capacity"] == _capacity_refusal(capacity=4, booked=5)
    assert escape(form.errors["capacity"][0]) in response.content.decode()
    slot.refresh_from_db()
    assert (slot.capacity, slot.booked) == (6, 5)


def _post_while_a_worker_confirms(client, monkeypatch, slot: Slot, data: dict) -> int:
    """POST the slot page while a worker, on its own connection, confirms a booking.

    The worker starts when the admin is about to save and is let to run until it is blocked
    on a lock or done. Returns the rows its conditional UPDATE changed.
    """
    save = SlotAdmin.save_model
    updated = []

    def confirm() -> None:
        try:
            updated.append(_confirm_one(slot.pk))
        finally:
            connection.close()  # the thread's own connection

    worker = threading.Thread(target=confirm)

    def save_model(self, request, obj, form, change):
        worker.start()
        deadline = clock.monotonic() + 10
        while worker.is_alive() and not _someone_waits_for_a_lock():
            assert clock.monotonic() < deadline, "the worker neither finished nor waited"
            clock.sleep(0.01)
        save(self, request, obj, form, change)

    monkeypatch.setattr(SlotAdmin, "save_model", save_model)
    response = client.post(slot_page(slot), data)
    assert response.status_code == 302
    worker.join(timeout=10)
    assert not worker.is_alive()
    return updated[0]


def _someone_waits_for_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
        return cursor.fetchone()[0] > 0


@pytest.mark.django_db(transaction=True)
def test_a_confirmation_racing_a_lower_capacity_waits_and_then_finds_the_slot_full(
    admin_client, monkeypatch
):
    slot = SlotFactory(capacity=6, booked=5)

    updated = _post_while_a_worker_confirms(
        admin_client, monkeypatch, slot, slot_form(slot, capacity="5")
    )

    assert updated == 0
    slot.refresh_from_db()
    assert (slot.capacity, slot.booked) == (5, 5)


@pytest.mark.django_db(transaction=True)
def test_control_without_the_lock_the_racing_confirmation_is_lost(admin_client, monkeypatch):
    _without_the_protection(monkeypatch)
    slot = SlotFactory(capacity=6, booked=5)

    updated = _post_while_a_worker_confirms(
        admin_client, monkeypatch, slot, slot_form(slot, capacity="5")
    )

    assert updated == 1, "the worker gave the sixth place"
    slot.refresh_from_db()
    assert (slot.capacity, slot.booked) == (5, 5), "and the admin's save erased it"


SCHEDULE = ["clinic", "campaign", "date", "start_time"]


def _moved() -> dict:
    return {
        "clinic": ClinicFactory().pk,
        "campaign": CampaignFactory().pk,
        "date": "2031-01-02",
        "start_time": "15:30:00",
    }


def test_a_slot_without_bookings_can_be_moved(admin_client):
    slot = SlotFactory(capacity=6)
    moved = _moved()

    response = admin_client.post(slot_page(slot), slot_form(slot, **moved))

    assert response.status_code == 302
    slot.refresh_from_db()
    assert (slot.clinic_id, slot.campaign_id) == (moved["clinic"], moved["campaign"])
    assert (slot.date, slot.start_time) == (date(2031, 1, 2), time(15, 30))


@pytest.mark.parametrize("status", [Booking.Status.CONFIRMED, Booking.Status.CANCELLED])
def test_a_slot_with_bookings_cannot_be_moved_but_its_capacity_can_change(admin_client, status):
    slot = SlotFactory(capacity=6, date=date(2030, 5, 1), start_time=time(9, 0))
    BookingFactory(slot=slot, status=status, code="ABCD2345")
    before = (slot.clinic_id, slot.campaign_id, slot.date, slot.start_time)

    page = admin_client.get(slot_page(slot))
    response = admin_client.post(slot_page(slot), slot_form(slot, **_moved(), capacity="8"))

    assert set(SCHEDULE) <= set(page.context["adminform"].readonly_fields)
    html = page.content.decode()
    assert not any(f'name="{field}"' in html for field in SCHEDULE)
    assert response.status_code == 302
    slot.refresh_from_db()
    assert (slot.clinic_id, slot.campaign_id, slot.date, slot.start_time) == before
    assert slot.capacity == 8


def _book(slot: Slot) -> None:
    BookingFactory(slot=slot)


def _take_the_new_time(slot: Slot) -> None:
    SlotFactory(
        clinic=slot.clinic, campaign=slot.campaign, date=date(2031, 1, 2), start_time=time(9, 0)
    )


@pytest.mark.parametrize(
    ("meanwhile", "conflict"),
    [
        (_book, None),  # refused by the check: the slot now has a booking
        (_take_the_new_time, IntegrityError),  # refused by the unique constraint
    ],
)
def test_a_change_refused_at_save_time_says_so_and_changes_nothing(
    admin_client, monkeypatch, meanwhile, conflict
):
    slot = SlotFactory(capacity=6, date=date(2030, 5, 1), start_time=time(9, 0))
    change_slot = clinics_admin.change_slot
    refusals = []

    def change_slot_after_the_race(slot_id, *, changes, actor):
        # After the form was validated: the page still offered the date, the new time was free.
        meanwhile(slot)
        try:
            change_slot(slot_id, changes=changes, actor=actor)
        except ValueError as refused:
            refusals.append(refused)
            raise

    monkeypatch.setattr(clinics_admin, "change_slot", change_slot_after_the_race)

    response = admin_client.post(
        slot_page(slot), slot_form(slot, date="2031-01-02", capacity="8"), follow=True
    )

    assert response.redirect_chain == [(slot_page(slot), 302)]
    [refused] = refusals
    assert type(refused.__cause__) is (conflict or type(None))
    # only the refusal, as an error, with the service's reason; no "changed successfully"
    [(level, said)] = _messages(response)
    assert level == messages.ERROR and str(refused) in said
    slot.refresh_from_db()
    assert (slot.date, slot.capacity) == (date(2030, 5, 1), 6)
    assert not LogEntry.objects.exists()


def test_the_clinics_list_keeps_a_campaign_chosen_elsewhere_for_generate_slots(admin_client):
    """A link from a campaign (``?campaign=<pk>``) opens the clinics list; the "Generate
    slots" page then starts with that campaign chosen."""
    clinics = ClinicFactory.create_batch(2)
    CampaignFactory()
    chosen = CampaignFactory()
    listed = admin_client.get(CLINICS, {"campaign": chosen.pk})
    assert listed.status_code == 200, "not an unknown filter"
    assert len(listed.context["cl"].result_list) == 2

    response = admin_client.post(f"{CLINICS}?campaign={chosen.pk}", _ask(clinics))
    assert response.status_code == 200
    assert response.context["form"]["campaign"].value() == chosen.pk
    assert admin_client.post(CLINICS, _ask(clinics)).context["form"]["campaign"].value() is None
    # nonsense is ignored, not an error
    garbage = admin_client.post(f"{CLINICS}?campaign=x", _ask(clinics))
    assert garbage.status_code == 200 and garbage.context["form"]["campaign"].value() is None
