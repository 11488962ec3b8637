"""Turning the campaigns' free-text vaccine into ``Vaccine`` rows loses nothing: every campaign
with a text points at the vaccine of that name (one per distinct name, the known four with
their real schedule, any other with one dose), a campaign without one has none, and going back
gives each campaign its text again."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from campaigns.models import Campaign, Vaccine

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("campaigns", "0006_window_signup")]
AFTER = [("campaigns", "0009_remove_campaign_vaccine_label")]

TEXTS = {
    "moderna-1": "Moderna",
    "moderna-2": "Moderna",
    "az": "AstraZeneca",
    "janssen": "Janssen",
    "spaced": "  Pfizer-BioNTech ",
    "other": "Comirnaty JN.1",
    "none": "",
}


def _old_apps(executor: MigrationExecutor):
    executor.loader.build_graph()
    return executor._create_project_state(with_applied_migrations=True).apps


def _campaign(old_apps, slug: str, vaccine: str) -> None:
    old_apps.get_model("campaigns", "Campaign").objects.create(
        name=f"Cohort {slug}",
        slug=slug,
        vaccine=vaccine,
        born_from="1962-01-01",
        born_to="1966-12-31",
        opens_at="2030-05-01T11:00:00Z",
        closes_at="2030-05-08T11:00:00Z",
    )


def _migrate(targets) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor


@pytest.fixture
def old_campaigns():
    executor = _migrate(BEFORE)
    old = _old_apps(executor)
    for slug, text in TEXTS.items():
        _campaign(old, slug, text)
    yield
    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


def test_every_campaign_points_at_the_vaccine_its_text_named(old_campaigns):
    _migrate(AFTER)

    named = dict(Campaign.objects.values_list("slug", "vaccine__name"))
    assert named == {
        "moderna-1": "Moderna",
        "moderna-2": "Moderna",
        "az": "AstraZeneca",
        "janssen": "Janssen",
        "spaced": "Pfizer-BioNTech",
        "other": "Comirnaty JN.1",
        "none": None,
    }
    assert Vaccine.objects.count() == 5
    schedules = {
        v.name: (v.doses, v.interval_min_days, v.interval_recommended_days, v.interval_max_days)
        for v in Vaccine.objects.all()
    }
    assert schedules == {
        "Moderna": (2, 28, 28, 42),
        "AstraZeneca": (2, 56, 77, 84),
        "Janssen": (1, None, None, None),
        "Pfizer-BioNTech": (2, 21, 21, 42),
        "Comirnaty JN.1": (1, None, None, None),
    }


def test_going_back_gives_each_campaign_its_vaccine_as_text(old_campaigns):
    _migrate(AFTER)
    executor = _migrate(BEFORE)

    old = _old_apps(executor)
    texts = dict(old.get_model("campaigns", "Campaign").objects.values_list("slug", "vaccine"))
    assert texts == {slug: text.strip() for slug, text in TEXTS.items()}
