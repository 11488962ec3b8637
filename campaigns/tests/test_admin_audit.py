"""The campaign admin's audit records: when booking opens and closes, the staggered windows,
the waiting room's settings and the publishing of its draws.

The rules are the services' (``save_campaign``, ``booking_window_changes_recorded``,
``publish_draws``, each with ``actor=``) and are tested on them; a few posts to the admin check
that its page and action call them with the official who made the change."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from campaigns import services, waiting_room
from campaigns.models import BookingWindow, Campaign, QueueDraw
from campaigns.tests.admin_forms import campaign_form, campaign_page, window_values
from campaigns.tests.factories import CampaignFactory, VaccineFactory
from clinics.tests.factories import UserFactory
from vaxbook.auditlog.models import AuditEvent

pytestmark = pytest.mark.django_db

OPENS = datetime(2030, 5, 1, 11, 0, tzinfo=UTC)  # 20:00 KST
CLOSES = datetime(2030, 5, 8, 11, 0, tzinfo=UTC)
CAMPAIGNS = reverse("admin:campaigns_campaign_changelist")


@pytest.fixture
def campaign():
    return CampaignFactory(slug="cohort-60-64", opens_at=OPENS, closes_at=CLOSES)


@pytest.fixture
def official():
    return UserFactory(username="official.kim", is_staff=True)


def _events(action: str | None = None) -> list[AuditEvent]:
    events = AuditEvent.objects.order_by("pk")
    return list(events if action is None else events.filter(action=action))


def _only_event(action: str) -> AuditEvent:
    (event,) = _events(action)
    return event


def _changes(action: str) -> dict:
    return {e.details["field"]: (e.details["old"], e.details["new"]) for e in _events(action)}


def _save(campaign: Campaign, *, actor, **changes) -> Campaign:
    """What an official's edit does: the new values on the object, then the service."""
    for name, value in changes.items():
        setattr(campaign, name, value)
    return services.save_campaign(
        campaign,
        actor=actor,
        waiting_room_enabled=campaign.waiting_room_enabled,
        per_minute=campaign.admission_rate_per_minute,
    )


def _window(campaign: Campaign, digit: int, day: int) -> BookingWindow:
    return BookingWindow.objects.create(
        campaign=campaign,
        label=f"Ending in {digit}",
        birth_day_last_digit=digit,
        opens_at=datetime(2030, 5, day, 11, 0, tzinfo=UTC),
        closes_at=datetime(2030, 5, day + 1, 11, 0, tzinfo=UTC),
    )


def _drawn(campaign: Campaign) -> QueueDraw:
    return QueueDraw.objects.create(
        campaign=campaign, opens_at=campaign.opens_at, seed="ab" * 16, drawn_at=campaign.opens_at
    )


# The rules: the services


def test_save_campaign_records_each_window_time_changed_with_its_old_and_new_value(
    campaign, official
):
    _save(campaign, actor=official, opens_at=OPENS - timedelta(hours=2), closes_at=CLOSES)

    event = _only_event("campaign_window_changed")
    assert (event.actor, event.actor_name) == (official, "official.kim")
    assert (event.object_type, event.object_id) == ("campaigns.campaign", str(campaign.pk))
    assert event.details == {
        "campaign": "cohort-60-64",
        "field": "opens_at",
        "old": "2030-05-01T20:00:00+09:00",
        "new": "2030-05-01T18:00:00+09:00",
    }
    assert _events("waiting_room_changed") == []


def test_save_campaign_unchanged_records_nothing(campaign, official):
    _save(campaign, actor=official)

    assert _events() == []


def test_save_campaign_records_a_new_campaigns_window_from_nothing(official):
    # A new campaign as the admin's form makes it: unsaved, naming a vaccine already there.
    campaign = CampaignFactory.build(
        slug="cohort-60-64", opens_at=OPENS, closes_at=CLOSES, vaccine=VaccineFactory()
    )

    _save(campaign, actor=official)

    assert campaign.pk is not None
    events = _events("campaign_window_changed")
    assert [(e.object_id, e.details["field"], e.details["old"]) for e in events] == [
        (str(campaign.pk), "opens_at", None),
        (str(campaign.pk), "closes_at", None),
    ]
    assert [e.details["new"] for e in events] == [
        "2030-05-01T20:00:00+09:00",
        "2030-05-08T20:00:00+09:00",
    ]
    assert _events("waiting_room_changed") == []  # the defaults, unchanged


def test_save_campaign_records_each_waiting_room_setting_changed(campaign, official):
    _save(
        campaign,
        actor=official,
        waiting_room_enabled=True,
        admission_rate_per_minute=120,
        admission_pass_minutes=30,
        draw_published=True,
    )

    assert _changes("waiting_room_changed") == {
        "waiting_room_enabled": (False, True),
        "admission_rate_per_minute": (600, 120),
        "admission_pass_minutes": (20, 30),
        "draw_published": (False, True),
    }
    assert {e.actor for e in _events()} == {official}
    assert _events("campaign_window_changed") == []


def test_save_campaign_records_the_value_it_replaces_not_the_one_first_read(campaign, official):
    # Another official's change commits after this edit read the campaign, before it saves.
    Campaign.objects.filter(pk=campaign.pk).update(opens_at=OPENS - timedelta(hours=1))

    _save(campaign, actor=official, opens_at=OPENS - timedelta(hours=2))

    details = _only_event("campaign_window_changed").details
    assert (details["old"], details["new"]) == (
        "2030-05-01T19:00:00+09:00",
        "2030-05-01T18:00:00+09:00",
    )


def test_booking_window_changes_are_recorded_each_added_changed_and_deleted(campaign, official):
    kept, dropped = _window(campaign, 9, 2), _window(campaign, 0, 3)
    dropped_pk = dropped.pk

    with services.booking_window_changes_recorded(campaign, actor=official):
        kept.closes_at += timedelta(hours=2)
        kept.save()
        dropped.delete()
        added = _window(campaign, 1, 4)

    assert _only_event("booking_window_changed").details == {
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
            "opens_at": "2030-05-04T20:00:00+09:00",
            "closes_at": "2030-05-05T20:00:00+09:00",
            "birth_day_last_digit": 1,
            "born_from": None,
            "born_to": None,
        },
    }
    deleted = _only_event("booking_window_deleted")
    assert deleted.details["window"] == dropped_pk
    assert deleted.details["old"]["label"] == "Ending in 0"
    assert {(e.actor, e.object_id) for e in _events()} == {(official, str(campaign.pk))}


def test_booking_window_changes_reach_the_waiting_room_at_once(campaign, official):
    before = waiting_room.config_for(campaign.slug)  # now cached

    with services.booking_window_changes_recorded(campaign, actor=official):
        added = _window(campaign, 1, 4)

    after = waiting_room.config_for(campaign.slug)
    assert before.openings == (OPENS.timestamp(),)
    assert after.openings == (added.opens_at.timestamp(),)


def test_publish_draws_records_each_newly_published_draw_once(official):
    drawn, already_public, not_drawn = CampaignFactory.create_batch(3)
    _drawn(drawn)
    _drawn(already_public)
    Campaign.objects.filter(pk=already_public.pk).update(draw_published=True)
    selected = [drawn.pk, already_public.pk, not_drawn.pk]

    assert services.publish_draws(selected, actor=official) == (2, 1)
    assert services.publish_draws(selected, actor=official) == (2, 1)  # nothing new

    event = _only_event("waiting_room_changed")
    assert (event.actor, event.object_id) == (official, str(drawn.pk))
    assert event.details == {
        "campaign": drawn.slug,
        "field": "draw_published",
        "old": False,
        "new": True,
    }
    published = dict(Campaign.objects.values_list("pk", "draw_published"))
    assert published == {drawn.pk: True, already_public.pk: True, not_drawn.pk: False}


# The wiring: the admin's page and action call them with the official


def test_changing_when_a_campaign_opens_and_closes_in_the_admin_is_recorded(
    admin_client, admin_user, campaign
):
    form = campaign_form(campaign, opens_at_1="18:00:00", closes_at_0="2030-05-09")

    response = admin_client.post(campaign_page(campaign), form)

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


def test_saving_a_campaign_unchanged_in_the_admin_records_nothing(admin_client, campaign):
    response = admin_client.post(campaign_page(campaign), campaign_form(campaign))

    assert response.status_code == 302
    assert _events() == []


def test_a_new_campaign_in_the_admin_records_its_window(admin_client, admin_user):
    response = admin_client.post(reverse("admin:campaigns_campaign_add"), campaign_form())

    assert response.status_code == 302
    campaign = Campaign.objects.get(slug="cohort-60-64")
    events = _events("campaign_window_changed")
    assert [(e.actor, e.object_id, e.details["field"], e.details["old"]) for e in events] == [
        (admin_user, str(campaign.pk), "opens_at", None),
        (admin_user, str(campaign.pk), "closes_at", None),
    ]
    assert _events("waiting_room_changed") == []  # the defaults, unchanged


def test_staggered_windows_added_changed_and_deleted_in_the_admin_are_recorded(
    admin_client, admin_user, campaign
):
    kept, dropped = _window(campaign, 9, 2), _window(campaign, 0, 3)
    windows = [
        (kept, window_values(closes_at_1="22:00:00")),
        (dropped, window_values(label="Ending in 0", birth_day_last_digit="0", DELETE="on")),
        (None, window_values(label="Ending in 1", birth_day_last_digit="1")),
    ]

    response = admin_client.post(campaign_page(campaign), campaign_form(campaign, windows))

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
    assert {(e.actor, e.object_id) for e in _events()} == {(admin_user, str(campaign.pk))}


def test_changing_the_waiting_room_in_the_admin_is_recorded(admin_client, admin_user, campaign):
    form = campaign_form(
        campaign, waiting_room_enabled="on", admission_rate_per_minute="120", draw_published="on"
    )

    response = admin_client.post(campaign_page(campaign), form)

    assert response.status_code == 302
    assert _changes("waiting_room_changed") == {
        "waiting_room_enabled": (False, True),
        "admission_rate_per_minute": (600, 120),
        "draw_published": (False, True),
    }
    assert {e.actor for e in _events()} == {admin_user}
    assert _events("campaign_window_changed") == []


def test_publishing_the_draw_in_the_admin_is_recorded_once(admin_client, admin_user, campaign):
    _drawn(campaign)
    action = {"action": "publish_draw", "_selected_action": [campaign.pk]}

    admin_client.post(CAMPAIGNS, action)
    admin_client.post(CAMPAIGNS, action)  # already public

    event = _only_event("waiting_room_changed")
    assert event.actor == admin_user
    assert event.details == {
        "campaign": "cohort-60-64",
        "field": "draw_published",
        "old": False,
        "new": True,
    }
