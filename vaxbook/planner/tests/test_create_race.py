"""Officials clicking "create these windows" at once, each on its own database connection:
the campaign's row lock makes the overlap check and the writes one step, so exactly one plan
is created and every other click is refused with nothing written."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from django.db import connection

from campaigns.models import BookingWindow
from campaigns.tests.factories import CampaignFactory
from clinics.tests.factories import UserFactory
from vaxbook.auditlog.models import AuditEvent
from vaxbook.dates import KST
from vaxbook.planner.plan import birth_day_digit_weights, propose
from vaxbook.planner.services import PlanRefused, create_planned_windows

pytestmark = pytest.mark.django_db(transaction=True)

RACERS = 6


def test_racing_creations_make_one_plan():
    opens = datetime(2027, 1, 4, 20, 0, tzinfo=KST)
    campaign = CampaignFactory(opens_at=opens, closes_at=opens + timedelta(days=30))
    proposal = propose(
        cohort=3_500_000,
        rate_per_minute=10_000,
        first_opening=opens,
        digit_weights=birth_day_digit_weights(campaign.born_from, campaign.born_to),
    )
    officials = [UserFactory(is_staff=True) for _ in range(RACERS)]
    barrier = threading.Barrier(RACERS)

    def click(official):
        try:
            barrier.wait()
            create_planned_windows(
                campaign, proposal.windows, actor=official, admission_rate_per_minute=10_000
            )
            return "created"
        except PlanRefused as refused:
            return refused.code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=RACERS) as pool:
        outcomes = list(pool.map(click, officials))
    assert sorted(outcomes) == ["created"] + ["overlapping_windows"] * (RACERS - 1)
    assert BookingWindow.objects.filter(campaign=campaign).count() == 10
    assert AuditEvent.objects.filter(action=AuditEvent.Action.BOOKING_WINDOW_ADDED).count() == 10
