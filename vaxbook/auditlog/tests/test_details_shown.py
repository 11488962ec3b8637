"""The audit log's details read as facts and changes (before → after), escaped, not as the
stored JSON."""

import re
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from vaxbook.auditlog.models import AuditEvent
from vaxbook.auditlog.services import record

pytestmark = pytest.mark.django_db


def _page(admin_client, event: AuditEvent) -> str:
    response = admin_client.get(reverse("admin:auditlog_auditevent_change", args=[event.pk]))
    assert response.status_code == 200
    return response.content.decode()


def _details(page: str) -> dict[str, tuple[str, str]]:
    """key → (kind, the <dd>'s inner HTML) of each line of the details on the page."""
    return {
        key: (kind, dd)
        for key, kind, dd in re.findall(
            r'<div class="audit-detail" data-key="([^"]*)" data-kind="([^"]*)">'
            r"<dt>.*?</dt><dd>(.*?)</dd></div>",
            page,
            re.S,
        )
    }


def test_a_change_of_one_field_shows_before_and_after(admin_client):
    before = datetime(2030, 5, 1, 11, 0, tzinfo=UTC)
    after = datetime(2030, 5, 1, 9, 0, tzinfo=UTC)
    event = record(
        AuditEvent.Action.CAMPAIGN_WINDOW_CHANGED,
        actor="command-line",
        obj_type="campaigns.campaign",
        obj_id=1,
        details={"campaign": "cohort-55-59", "field": "opens_at", "old": before, "new": after},
    )
    page = _page(admin_client, event)
    shown = _details(page)
    assert shown["campaign"] == ("fact", "cohort-55-59")
    kind, change = shown["opens_at"]
    assert kind == "changed"
    assert re.fullmatch(
        r'<del class="audit-old">.*20:00.*</del> → <ins class="audit-new">.*18:00.*</ins>', change
    )
    assert '{"campaign"' not in page and "&quot;campaign&quot;" not in page  # no raw JSON


def test_a_row_added_or_deleted_shows_each_of_its_fields(admin_client):
    window = {"label": "Ending in 9", "birth_day_last_digit": 9, "born_from": None}
    added = record(
        AuditEvent.Action.BOOKING_WINDOW_ADDED,
        actor="command-line",
        obj_type="campaigns.campaign",
        obj_id=1,
        details={"campaign": "c", "window": 3, "new": window},
    )
    deleted = record(
        AuditEvent.Action.BOOKING_WINDOW_DELETED,
        actor="command-line",
        obj_type="campaigns.campaign",
        obj_id=1,
        details={"campaign": "c", "window": 3, "old": window},
    )
    shown = _details(_page(admin_client, added))
    assert {k for k, (kind, _) in shown.items() if kind == "added"} == set(window)
    assert shown["birth_day_last_digit"][1] == '<ins class="audit-new">9</ins>'
    shown = _details(_page(admin_client, deleted))
    assert {k for k, (kind, _) in shown.items() if kind == "removed"} == set(window)
    assert shown["label"][1] == '<del class="audit-old">Ending in 9</del>'


def test_details_are_escaped(admin_client):
    event = record(
        AuditEvent.Action.STAFF_MEMBERSHIP_ADDED,
        actor="command-line",
        obj_type="clinics.staffmembership",
        obj_id=1,
        details={"user": "<script>alert(1)</script>", "clinic": "jongno"},
    )
    page = _page(admin_client, event)
    assert "<script>alert(1)</script>" not in page
    assert _details(page)["user"] == ("fact", "&lt;script&gt;alert(1)&lt;/script&gt;")


def test_the_list_shows_them_readably_too(admin_client):
    record(
        AuditEvent.Action.SLOT_CAPACITY_CHANGED,
        actor="command-line",
        obj_type="clinics.slot",
        obj_id=5,
        details={"clinic": "jongno", "field": "capacity", "old": 6, "new": 8},
    )
    page = admin_client.get(reverse("admin:auditlog_auditevent_changelist")).content.decode()
    assert _details(page)["capacity"] == (
        "changed",
        '<del class="audit-old">6</del> → <ins class="audit-new">8</ins>',
    )
