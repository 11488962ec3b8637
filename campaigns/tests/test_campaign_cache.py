"""The booking pages' guard serves the campaign (its row, vaccine and windows) that each web
process holds under the waiting room's configuration generation: an official's change to the
campaign, its windows or its vaccine is seen at once in the process that made it and within
``VAXBOOK_CONFIG_CACHE_SECONDS`` in every other; a deleted campaign is a 404."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from campaigns import services, waiting_room
from campaigns.models import Campaign, Vaccine
from campaigns.tests.admin_forms import campaign_form, campaign_page, window_values
from campaigns.tests.factories import CampaignFactory, VaccineFactory
from campaigns.tests.test_config_cache import OtherProcess
from clinics.tests.factories import UserFactory
from vaxbook.dates import KST

# Another web process: runs the guard on a request for a campaign's booking page and prints
# the status, and the vaccine's doses the view was given (or "-").
GUARD_PROCESS = """
import sys
from datetime import UTC, datetime

import django
import time_machine

django.setup()
from django.http import Http404, HttpResponse
from django.test import RequestFactory

from campaigns.windows import booking_window_required

clock = time_machine.travel(datetime.now(UTC), tick=True).start()


@booking_window_required
def page(request, campaign):
    return HttpResponse(str(request.campaign.vaccine.doses))


for line in sys.stdin:
    command, argument = line.split()
    if command == "age":
        clock.shift(float(argument))
        print("aged", flush=True)
        continue
    try:
        response = page(RequestFactory().get("/"), campaign=argument)
    except Http404:
        print(404, "-", flush=True)
        continue
    body = response.content.decode() if response.status_code == 200 else "-"
    print(response.status_code, body, flush=True)
"""


class GuardProcess(OtherProcess):
    script = GUARD_PROCESS

    def guard(self, slug: str) -> tuple[int, str]:
        status, doses = self.ask(f"guard {slug}").split()
        return int(status), doses


@pytest.fixture
def other_process():
    process = GuardProcess()
    yield process
    process.close()


def _start(campaign: Campaign) -> str:
    return reverse("bookings:start", kwargs={"campaign": campaign.slug})


def _kst(moment) -> tuple[str, str]:
    local = moment.astimezone(KST)
    return local.date().isoformat(), local.time().replace(microsecond=0).isoformat()


def _open_now(**kwargs) -> Campaign:
    """Open since an hour ago, for a week (whole seconds: the admin's fields have no more)."""
    now = timezone.now().replace(microsecond=0)
    return CampaignFactory(
        opens_at=now - timedelta(hours=1), closes_at=now + timedelta(days=7), **kwargs
    )


def _admin_form(campaign: Campaign, windows=(), **overrides) -> dict:
    opens, closes = _kst(campaign.opens_at), _kst(campaign.closes_at)
    as_it_is = {
        "born_from": campaign.born_from.isoformat(),
        "born_to": campaign.born_to.isoformat(),
        "opens_at_0": opens[0],
        "opens_at_1": opens[1],
        "closes_at_0": closes[0],
        "closes_at_1": closes[1],
    }
    return campaign_form(campaign, windows, **(as_it_is | overrides))


@pytest.mark.django_db
def test_closing_the_window_in_the_admin_is_refused_at_once_in_the_same_process(admin_client):
    campaign = _open_now()
    client = Client()
    assert client.get(_start(campaign)).status_code == 200  # the guard now holds it

    closed = _kst(timezone.now() - timedelta(minutes=1))
    response = admin_client.post(
        campaign_page(campaign),
        _admin_form(campaign, closes_at_0=closed[0], closes_at_1=closed[1]),
    )
    assert response.status_code == 302

    assert client.get(_start(campaign)).status_code == 403


@pytest.mark.django_db
def test_a_staggered_window_added_in_the_admin_is_seen_at_once_in_the_same_process(
    admin_client,
):
    campaign = _open_now()
    client = Client()
    assert client.get(_start(campaign)).status_code == 200

    tomorrow = timezone.now() + timedelta(days=1)
    opens, closes = _kst(tomorrow), _kst(tomorrow + timedelta(days=1))
    later = window_values(
        opens_at_0=opens[0], opens_at_1=opens[1], closes_at_0=closes[0], closes_at_1=closes[1]
    )
    response = admin_client.post(campaign_page(campaign), _admin_form(campaign, [(None, later)]))
    assert response.status_code == 302

    # its only window now opens tomorrow
    assert client.get(_start(campaign)).status_code == 403


@pytest.mark.django_db
def test_a_vaccine_changed_in_the_admin_is_seen_at_once_in_the_same_process(official):
    vaccine = VaccineFactory(name="Janssen", manufacturer="Janssen", doses=1)
    campaign = _open_now(vaccine=vaccine)
    client = Client()
    assert client.get(_start(campaign)).context["campaign"].vaccine.doses == 1

    response = official.post(
        reverse("admin:campaigns_vaccine_change", args=[vaccine.pk]),
        {
            "name": "Janssen",
            "manufacturer": "Janssen",
            "doses": "2",
            "interval_min_days": "56",
            "interval_recommended_days": "56",
            "interval_max_days": "84",
            "min_age": "",
            "max_age": "",
        },
    )
    assert response.status_code == 302
    assert Vaccine.objects.get(pk=vaccine.pk).doses == 2

    page = client.get(_start(campaign))
    assert page.status_code == 200
    assert page.context["campaign"].vaccine.doses == 2
    assert page.context["campaign"].vaccine.interval_recommended_days == 56


@pytest.mark.django_db
def test_a_campaign_deleted_in_the_admin_is_a_404_at_once(admin_client):
    campaign = _open_now()
    client = Client()
    assert client.get(_start(campaign)).status_code == 200

    response = admin_client.post(
        reverse("admin:campaigns_campaign_delete", args=[campaign.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not Campaign.objects.filter(pk=campaign.pk).exists()

    assert client.get(_start(campaign)).status_code == 404


@pytest.mark.django_db
def test_a_changed_slug_no_longer_serves_the_old_one(admin_client):
    campaign = _open_now()
    client = Client()
    old = _start(campaign)
    assert client.get(old).status_code == 200

    response = admin_client.post(campaign_page(campaign), _admin_form(campaign, slug="renamed"))
    assert response.status_code == 302

    assert client.get(old).status_code == 404
    assert client.get(reverse("bookings:start", kwargs={"campaign": "renamed"})).status_code == 200


@pytest.mark.django_db
def test_each_request_gets_its_own_copy():
    campaign = _open_now()
    first = waiting_room.campaign_for(campaign.slug)
    first.name = "changed by one request"
    first.vaccine = VaccineFactory(name="Moderna")

    second = waiting_room.campaign_for(campaign.slug)
    assert second is not first
    assert second.name == campaign.name
    assert second.vaccine.name == "Janssen"
    assert [w.opens_at for w in second.booking_windows()] == [campaign.opens_at]


@pytest.mark.django_db(transaction=True)
def test_another_process_sees_a_window_change_through_the_service_within_the_bound(
    other_process,
):
    campaign = _open_now()
    assert other_process.guard(campaign.slug) == (200, "1")

    campaign.closes_at = timezone.now() - timedelta(minutes=1)
    services.save_campaign(
        campaign,
        actor=UserFactory(is_staff=True),
        waiting_room_enabled=False,
        per_minute=campaign.admission_rate_per_minute,
    )

    other_process.ask(f"age {settings.VAXBOOK_CONFIG_CACHE_SECONDS}")
    assert other_process.guard(campaign.slug)[0] == 403


@pytest.mark.django_db(transaction=True)
def test_another_process_sees_a_vaccine_change_through_the_service_within_the_bound(
    other_process,
):
    campaign = _open_now()
    assert other_process.guard(campaign.slug) == (200, "1")

    vaccine = campaign.vaccine
    vaccine.doses = 2
    vaccine.interval_min_days = vaccine.interval_recommended_days = 56
    vaccine.interval_max_days = 84
    services.save_vaccine(vaccine)

    other_process.ask(f"age {settings.VAXBOOK_CONFIG_CACHE_SECONDS}")
    assert other_process.guard(campaign.slug) == (200, "2")


@pytest.mark.django_db(transaction=True)
def test_another_process_answers_404_for_a_deleted_campaign_within_the_bound(other_process):
    campaign = _open_now()
    assert other_process.guard(campaign.slug) == (200, "1")

    services.delete_campaigns([campaign])

    other_process.ask(f"age {settings.VAXBOOK_CONFIG_CACHE_SECONDS}")
    assert other_process.guard(campaign.slug) == (404, "-")
