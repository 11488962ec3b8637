"""The booking forms for screen readers: help texts have the ids that aria-describedby points
at, and errors are summarised at the top, where focus goes, each linked to its field."""

import pytest
from django.urls import reverse

from bookings.tests.flow import identify
from bookings.tests.page import parse
from clinics.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db


def _described_by(page, field_id: str) -> list[str]:
    field = page.by_id(field_id)
    ids = field.attrs.get("aria-describedby", "").split()
    for described in ids:
        page.by_id(described)  # exists, once
    return ids


def test_help_texts_are_what_the_fields_are_described_by(client):
    slot = SlotFactory()
    page = parse(client.get(reverse("bookings:start", kwargs={"campaign": slot.campaign.slug})))
    assert page.find(id="error-summary") is None, "no summary without errors"
    for field in ("id_name", "id_rrn", "id_phone"):
        assert _described_by(page, field) == [f"{field}_helptext"]


def test_errors_are_summarised_at_the_top_each_linked_to_its_field(client):
    slot = SlotFactory()
    response = identify(client, slot.campaign.slug, rrn="12345", name="", phone="12")
    assert response.status_code == 200
    page = parse(response)
    summary = page.by_id("error-summary")
    assert summary.attrs["role"] == "alert"
    assert summary.attrs["tabindex"] == "-1"
    assert "autofocus" in summary.attrs
    links = [a.attrs["href"] for a in summary.find_all("a")]
    assert links == ["#id_name", "#id_rrn", "#id_phone"]
    # the summary comes before the form
    order = [e.attrs.get("id") for e in page.find_all() if e.attrs.get("id")]
    assert order.index("error-summary") < order.index("id_name")
    for field in ("id_name", "id_rrn", "id_phone"):
        assert page.by_id(field).attrs["aria-invalid"] == "true"
        assert f"{field}_error" in _described_by(page, field)


def test_a_form_wide_error_is_in_the_summary_too(client):
    response = client.post(reverse("bookings:lookup"), {"code": "K7M2QX9P", "rrn": "", "phone": ""})
    page = parse(response)
    summary = page.by_id("error-summary")
    assert len(summary.find_all("li")) == 1
    assert summary.find("a") is None or summary.find("a").attrs["href"].startswith("#")
