"""The choose step on a phone: each link lands on the list it opens (a URL fragment), the
current choice is marked (aria-current), and the path taken can be stepped back."""

from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from django.core import signing
from django.test import Client

from bookings.steps import SALT
from bookings.tests.flow import identify, token_of
from bookings.tests.page import parse
from clinics.tests.factories import ClinicFactory, SlotFactory

pytestmark = pytest.mark.django_db

RRN = "620714-1234567"


def _query(href: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(href).query).items()}


def _fragment(href: str) -> str:
    return urlparse(href).fragment


def _opened_by(query: dict[str, str]) -> dict:
    """What a link's step token opens: its campaign, step, flow and person."""
    return signing.loads(query["t"], salt=SALT)


@pytest.fixture
def slot():
    return SlotFactory(clinic=ClinicFactory(region="Seoul"), capacity=3)


@pytest.fixture
def choose_url(client: Client, slot) -> str:
    SlotFactory(campaign=slot.campaign, clinic=ClinicFactory(region="Busan"), capacity=5)
    return identify(client, slot.campaign.slug, rrn=RRN)["Location"]


def test_each_link_lands_on_the_list_it_opens(client, slot, choose_url):
    token = token_of(choose_url)
    regions = parse(client.get(choose_url))
    region_links = regions.by_id("regions").find_all("a")
    assert {_query(a.attrs["href"])["region"] for a in region_links} == {"Busan", "Seoul"}
    assert {_fragment(a.attrs["href"]) for a in region_links} == {"clinics"}

    clinics = parse(client.get(choose_url, {"t": token, "region": "Seoul"}))
    clinic_links = clinics.by_id("clinics").find_all("a")
    assert [_query(a.attrs["href"])["clinic"] for a in clinic_links] == [slot.clinic.code]
    # a clinic opens on its first day's times (the days are listed above them)
    assert {_fragment(a.attrs["href"]) for a in clinic_links} == {"times"}

    days = parse(client.get(choose_url, {"t": token, "clinic": slot.clinic.code}))
    day_links = days.by_id("days").find_all("a")
    assert [_query(a.attrs["href"])["date"] for a in day_links] == [slot.date.isoformat()]
    assert {_fragment(a.attrs["href"]) for a in day_links} == {"times"}

    times = parse(
        client.get(choose_url, {"t": token, "clinic": slot.clinic.code, "date": slot.date})
    )
    assert times.by_id("times").find("input", name="slot", value=str(slot.pk)) is not None


def test_the_current_choice_is_marked_for_eyes_and_screen_readers(client, slot, choose_url):
    token = token_of(choose_url)
    page = parse(
        client.get(choose_url, {"t": token, "clinic": slot.clinic.code, "date": slot.date})
    )
    current = page.find_all("a", aria_current="true")
    queries = [_query(a.attrs["href"]) for a in current]
    chosen = sorted(q.get("date") or q.get("clinic") or q["region"] for q in queries)
    assert chosen == sorted(["Seoul", slot.clinic.code, slot.date.isoformat()])
    assert all("current" in a.attrs.get("class", "").split() for a in current)
    # one current choice per list
    for list_id in ("regions", "clinics", "days"):
        assert len(page.by_id(list_id).find_all("a", aria_current="true")) == 1


def test_the_path_taken_can_be_stepped_back(client, slot, choose_url):
    token = token_of(choose_url)
    page = parse(
        client.get(choose_url, {"t": token, "clinic": slot.clinic.code, "date": slot.date})
    )
    path = page.by_id("choice-path")
    links = [(_query(a.attrs["href"]), _fragment(a.attrs["href"])) for a in path.find_all("a")]
    # each link carries a token for the same flow and step (signed afresh with the page, so
    # its timestamp may be a second later than the one the test holds)
    assert [(_opened_by(q), {k: v for k, v in q.items() if k != "t"}, f) for q, f in links] == [
        (_opened_by({"t": token}), {}, "regions"),
        (_opened_by({"t": token}), {"region": "Seoul"}, "clinics"),
        (_opened_by({"t": token}), {"clinic": slot.clinic.code}, "days"),
        (
            _opened_by({"t": token}),
            {"clinic": slot.clinic.code, "date": slot.date.isoformat()},
            "times",
        ),
    ]
    # each step back opens that level again
    for query, _fragment_id in links:
        assert client.get(choose_url.split("?")[0], query).status_code == 200


def test_a_clinic_opens_on_its_first_day_with_places_and_that_days_times(client, slot, choose_url):
    """One request fewer per booking: choosing a clinic shows its days and, at once, the times
    of the first day that has places (a full earlier day is passed over); another day is one
    link away, and the times can be chosen and submitted from that page as they are."""
    full_day = SlotFactory(
        campaign=slot.campaign, clinic=slot.clinic, date=slot.date, start_time="08:00"
    )
    full_day.date = slot.date - timedelta(days=1)
    full_day.booked = full_day.capacity
    full_day.save()
    later = SlotFactory(
        campaign=slot.campaign, clinic=slot.clinic, date=slot.date + timedelta(days=1)
    )
    token = token_of(choose_url)
    clinics = parse(client.get(choose_url, {"t": token, "region": "Seoul"}))
    (link,) = clinics.by_id("clinics").find_all("a")
    assert _fragment(link.attrs["href"]) == "times"

    page = parse(client.get(choose_url, {"t": token, "clinic": slot.clinic.code}))
    times = page.by_id("times")
    assert [i.attrs["value"] for i in times.find_all("input", name="slot")] == [str(slot.pk)]
    assert times.find("input", name="date").attrs["value"] == slot.date.isoformat()
    (current_day,) = page.by_id("days").find_all("a", aria_current="true")
    assert _query(current_day.attrs["href"])["date"] == slot.date.isoformat()
    other_days = [_query(a.attrs["href"])["date"] for a in page.by_id("days").find_all("a")]
    assert other_days == [slot.date.isoformat(), later.date.isoformat()]

    response = client.post(
        choose_url.split("?")[0],
        {"t": token, "clinic": slot.clinic.code, "date": slot.date.isoformat(), "slot": slot.pk},
    )
    assert response.status_code == 302
    assert "/review/" in response["Location"]
