"""The vaccines officials manage: a schedule that makes sense (1 to 3 doses; for more than one,
shortest ≤ recommended ≤ longest interval; none for one dose), held by the model's checks and
the database's; the campaign names one, picked from the list in its admin page, and every
place that showed the vaccine's text shows its name."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse

from bookings.services import confirm_booking
from bookings.tests.factories import BookingFactory
from campaigns.models import Campaign, Vaccine
from campaigns.tests.admin_forms import campaign_form, campaign_page
from campaigns.tests.factories import CampaignFactory, VaccineFactory
from clinics.tests.factories import SlotFactory
from vaxbook.notifications.services import render

pytestmark = pytest.mark.django_db

TWO_DOSES = {
    "doses": 2,
    "interval_min_days": 56,
    "interval_recommended_days": 77,
    "interval_max_days": 84,
}


def _errors(**values) -> set[str]:
    vaccine = Vaccine(name="AstraZeneca", **values)
    with pytest.raises(ValidationError) as refused:
        vaccine.full_clean()
    return set(refused.value.message_dict)


def test_a_two_dose_schedule_in_order_is_accepted():
    vaccine = Vaccine(name="AstraZeneca", manufacturer="AstraZeneca", **TWO_DOSES)
    vaccine.full_clean()
    vaccine.save()
    assert str(vaccine) == "AstraZeneca"


@pytest.mark.parametrize("doses", [0, 4])
def test_doses_are_1_to_3(doses):
    assert "doses" in _errors(**{**TWO_DOSES, "doses": doses})


@pytest.mark.parametrize(
    "missing", ["interval_min_days", "interval_recommended_days", "interval_max_days"]
)
def test_more_than_one_dose_needs_the_whole_interval(missing):
    assert _errors(**{**TWO_DOSES, missing: None}) == {missing}


@pytest.mark.parametrize(
    ("interval", "wrong"),
    [
        ((56, 50, 84), "interval_recommended_days"),
        ((56, 77, 70), "interval_max_days"),
        ((56, 56, 40), "interval_max_days"),
    ],
)
def test_the_interval_is_shortest_then_recommended_then_longest(interval, wrong):
    low, mid, high = interval
    values = {
        "doses": 2,
        "interval_min_days": low,
        "interval_recommended_days": mid,
        "interval_max_days": high,
    }
    assert wrong in _errors(**values)


def test_one_dose_ignores_an_interval_typed_in():
    vaccine = Vaccine(name="Janssen", **{**TWO_DOSES, "doses": 1})
    vaccine.full_clean()
    vaccine.save()
    vaccine.refresh_from_db()
    assert (vaccine.interval_min_days, vaccine.interval_max_days) == (None, None)


def test_the_ages_are_optional_and_in_order():
    Vaccine(name="Janssen", min_age=30).full_clean()
    assert _errors(**TWO_DOSES, min_age=60, max_age=18) == {"max_age"}


@pytest.mark.parametrize(
    "values",
    [
        {"doses": 4},
        {"doses": 2},
        {**TWO_DOSES, "interval_max_days": 60},
        {"doses": 1, "interval_min_days": 21},
        {"doses": 1, "min_age": 60, "max_age": 18},
    ],
)
def test_the_database_refuses_a_schedule_that_makes_no_sense(values):
    with pytest.raises(IntegrityError), transaction.atomic():
        Vaccine.objects.create(name="Broken", **values)


def test_the_name_is_unique():
    VaccineFactory(name="Moderna")
    with pytest.raises(IntegrityError), transaction.atomic():
        Vaccine.objects.create(name="Moderna")


def test_an_official_adds_a_vaccine_in_the_admin(official):
    response = official.post(
        reverse("admin:campaigns_vaccine_add"),
        {"name": "AstraZeneca", "manufacturer": "AstraZeneca", "min_age": "", "max_age": ""}
        | {k: str(v) for k, v in TWO_DOSES.items()},
    )
    assert response.status_code == 302
    vaccine = Vaccine.objects.get(name="AstraZeneca")
    assert (vaccine.doses, vaccine.interval_recommended_days) == (2, 77)


def test_the_admin_refuses_a_schedule_out_of_order(official):
    response = official.post(
        reverse("admin:campaigns_vaccine_add"),
        {"name": "AstraZeneca", **TWO_DOSES, "interval_max_days": "60"},
    )
    assert response.status_code == 200
    assert "interval_max_days" in response.context["adminform"].form.errors
    assert not Vaccine.objects.exists()


def test_the_vaccine_list_shows_the_schedule(official):
    VaccineFactory(name="AstraZeneca", **TWO_DOSES)
    VaccineFactory(name="Janssen", doses=1, **dict.fromkeys(TWO_DOSES.keys() - {"doses"}))
    response = official.get(reverse("admin:campaigns_vaccine_changelist"))
    assert response.status_code == 200
    changelist = response.context["cl"]
    assert {"doses", "interval", "ages"} <= set(changelist.list_display)
    assert [v.name for v in changelist.result_list] == ["AstraZeneca", "Janssen"]


def test_the_campaign_page_picks_the_vaccine_from_the_list(official):
    moderna, astrazeneca = VaccineFactory(name="Moderna"), VaccineFactory(name="AstraZeneca")
    campaign = CampaignFactory(vaccine=moderna)
    page = official.get(campaign_page(campaign))
    field = page.context["adminform"].form.fields["vaccine"]
    assert set(field.queryset) == {moderna, astrazeneca}
    response = official.post(
        campaign_page(campaign), campaign_form(campaign, vaccine=astrazeneca.pk)
    )
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.vaccine == astrazeneca


def test_the_campaign_list_filters_by_vaccine(official):
    moderna, janssen = VaccineFactory(name="Moderna"), VaccineFactory(name="Janssen", doses=1)
    CampaignFactory(vaccine=moderna)
    with_janssen = CampaignFactory(vaccine=janssen)
    response = official.get(
        reverse("admin:campaigns_campaign_changelist"), {"vaccine__id__exact": janssen.pk}
    )
    assert response.status_code == 200
    changelist = response.context["cl"]
    assert "vaccine" in [getattr(spec, "field_path", None) for spec in changelist.filter_specs]
    assert [c.pk for c in changelist.result_list] == [with_janssen.pk]


def test_a_vaccine_in_use_is_not_deleted_with_its_campaigns():
    campaign = CampaignFactory(vaccine__name="Moderna")
    with pytest.raises(Exception), transaction.atomic():  # noqa: B017 (ProtectedError)
        campaign.vaccine.delete()
    assert Campaign.objects.filter(pk=campaign.pk).exists()


def test_the_api_gives_the_vaccine_as_its_name():
    CampaignFactory(slug="with", vaccine__name="Pfizer-BioNTech")
    CampaignFactory(slug="without", vaccine=None)
    response = Client().get("/api/campaigns/")
    assert response.status_code == 200
    rows = response.json()
    rows = rows["results"] if isinstance(rows, dict) else rows
    assert {row["slug"]: row["vaccine"] for row in rows} == {
        "with": "Pfizer-BioNTech",
        "without": "",
    }


@pytest.mark.parametrize("language", ["ko", "en"])
@pytest.mark.parametrize("vaccine", ["Moderna", None])
def test_the_confirmation_text_names_the_vaccine_or_nothing(vaccine, language):
    campaign = CampaignFactory(vaccine=VaccineFactory(name=vaccine) if vaccine else None)
    booking = confirm_booking(BookingFactory(slot=SlotFactory(campaign=campaign)).pk)
    context = {
        "booking": booking,
        "campaign": campaign,
        "clinic": booking.slot.clinic,
        "slot": booking.slot,
        "link": "https://example.test/booking/",
    }
    text = render("confirmed", "sms", context, language=language)
    if vaccine:
        assert vaccine in text
    else:  # not the template engine's rendering of a missing vaccine
        assert "None" not in text
