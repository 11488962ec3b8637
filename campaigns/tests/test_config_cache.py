"""The waiting room's configuration, held by each web process for a short bound: an official's
change is seen at once where it was made, within the bound everywhere else, and never lost to
a poll that read the old rows while the change was being committed."""

import os
import subprocess
import sys
import threading
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from campaigns import services, waiting_room
from campaigns.tests.factories import CampaignFactory
from clinics.tests.factories import UserFactory

# Another web process: reads the configuration when told, and moves its own clock when told.
OTHER_PROCESS = """
import sys
from datetime import UTC, datetime

import django
import time_machine

django.setup()
from campaigns import waiting_room

clock = time_machine.travel(datetime.now(UTC), tick=True).start()
for line in sys.stdin:
    command, argument = line.split()
    if command == "age":
        clock.shift(float(argument))
        print("aged", flush=True)
    else:
        config = waiting_room.config_for(argument)
        print(config.current_rate, config.pass_minutes, flush=True)
"""


class OtherProcess:
    script = OTHER_PROCESS  # what the child runs (a subclass may run its own)

    def __init__(self) -> None:
        base = settings.DATABASE_URL.rsplit("/", 1)[0]
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "vaxbook.settings",
            "DATABASE_URL": f"{base}/{connection.settings_dict['NAME']}",
            "REDIS_URL": settings.REDIS_URL,
        }
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and script
            [sys.executable, "-c", self.script],
            cwd=settings.BASE_DIR,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def ask(self, line: str) -> str:
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline().strip()
        assert answer, "the other process stopped"
        return answer

    def config(self, slug: str) -> tuple[int, int]:
        rate, minutes = self.ask(f"read {slug}").split()
        return int(rate), int(minutes)

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)


@pytest.fixture
def other_process():
    process = OtherProcess()
    yield process
    process.close()


def _open_campaign(rate: int):
    now = timezone.now()
    campaign = CampaignFactory(opens_at=now - timedelta(hours=1), closes_at=now + timedelta(days=1))
    return services.configure_waiting_room(campaign, enabled=True, per_minute=rate)


@pytest.mark.django_db
def test_a_change_through_the_service_is_seen_at_once_in_the_process_that_made_it():
    campaign = _open_campaign(60)
    assert waiting_room.config_for(campaign.slug).current_rate == 60  # now held

    services.configure_waiting_room(campaign, enabled=True, per_minute=600)
    assert waiting_room.config_for(campaign.slug).current_rate == 600

    campaign.admission_pass_minutes = 25
    services.save_campaign(
        campaign, actor=UserFactory(is_staff=True), waiting_room_enabled=True, per_minute=600
    )
    assert waiting_room.config_for(campaign.slug).pass_minutes == 25


@pytest.mark.django_db(transaction=True)
def test_another_process_sees_a_change_within_the_bound(other_process):
    campaign = _open_campaign(60)
    assert other_process.config(campaign.slug) == (60, campaign.admission_pass_minutes)

    services.configure_waiting_room(campaign, enabled=True, per_minute=240)

    other_process.ask(f"age {settings.VAXBOOK_CONFIG_CACHE_SECONDS}")
    assert other_process.config(campaign.slug)[0] == 240


@pytest.mark.django_db(transaction=True)
def test_a_poll_reading_the_old_rows_while_a_change_commits_does_not_keep_them():
    """An official's save runs in a transaction (the admin's); a poll in another process that
    rebuilds the configuration before it commits reads the old rows. Once the change has
    committed, that stale copy must not be served (it was, for 30 s, before the generation)."""
    campaign = _open_campaign(60)
    official = UserFactory(is_staff=True)

    def poll_from_another_connection():
        try:
            waiting_room.forget_held_configs()  # as another process: nothing held
            assert waiting_room.config_for(campaign.slug).current_rate == 60  # the old rows
        finally:
            connection.close()

    with transaction.atomic():
        services.save_campaign(campaign, actor=official, waiting_room_enabled=True, per_minute=600)
        poll = threading.Thread(target=poll_from_another_connection)
        poll.start()
        poll.join()

    assert waiting_room.config_for(campaign.slug).current_rate == 600
