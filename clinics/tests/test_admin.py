from datetime import date

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from campaigns.tests.factories import CampaignFactory
from clinics.models import Slot
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
    assert "24 slots created" in response.content.decode()

    response = admin_client.post(CLINICS, _apply(clinics, campaign), follow=True)

    assert Slot.objects.count() == 24
    assert "0 slots created" in response.content.decode()


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"interval_minutes": "0"}, "at least one minute"),
        ({"first_day": "2030-05-02", "last_day": "2030-05-01"}, "last day is before the first"),
        ({"capacity": "0"}, "capacity of at least one"),
        ({"day_ends": "08:00"}, "end after it starts"),
        ({"first_day": "not a date"}, "Enter a valid date."),
        ({"interval_minutes": ""}, "This field is required."),
    ],
)
def test_bad_input_shows_the_form_again_with_the_error(admin_client, overrides, error):
    clinic = ClinicFactory()

    response = admin_client.post(CLINICS, _apply([clinic], CampaignFactory(), **overrides))

    assert response.status_code == 200
    assert error in response.content.decode()
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
    assert "4 places are already booked" in response.content.decode()
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
