"""Two real web nodes (gunicorn processes, each with its own per-process caches) on the test
database, behind a real HAProxy doing round robin without sticky sessions (the bench's own
balancer configuration, bench/balancer.py): a person's requests hop between the nodes and the
booking still goes through, and an official's change of the waiting room's admission rate is
seen by every node within the configuration cache's bound.

HAProxy is a Debian package (.ci/run installs it); without it these tests fail, they never skip.
"""

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import closing
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from bench import balancer
from bench.invalidation import Browser, Reply, a_person_waiting, queue_state
from bench.pages import Page
from bookings.models import Booking
from campaigns import services as campaign_services
from campaigns.tests.factories import CampaignFactory
from clinics.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db(transaction=True)

NODES = ("node1", "node2")
# Waits for processes on a machine that may be busy; not speed checks.
START_S = 60
DECIDED_S = 60
# A request to a node, on a busy machine, on top of the configuration cache's bound.
MARGIN_S = 3.0


def _free_port() -> int:
    with closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Site:
    url: str  # through the balancer
    nodes: dict[str, str]  # each node directly


def _wait_answering(url: str, process: subprocess.Popen, log: Path) -> None:
    end = time.monotonic() + START_S
    while time.monotonic() < end:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            with urllib.request.urlopen(url + "/ping", timeout=2):  # noqa: S310 - our own node
                return
        except urllib.error.HTTPError:
            return  # it answers (whatever the status)
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"{url} did not start: {log.read_text()[-3000:]}")


@pytest.fixture
def site(transactional_db, tmp_path):
    """Two gunicorn nodes (one worker each: one process, one set of caches) on the test
    database and Redis, and HAProxy in front of them; stopped after the test."""
    base = settings.DATABASE_URL.rsplit("/", 1)[0]
    env = {
        **os.environ,
        "DATABASE_URL": f"{base}/{connection.settings_dict['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        # The proof of work is the person's device's; cheap here, checked all the same.
        "VAXBOOK_QUEUE_POW_COST": "1",
    }
    ports = {name: _free_port() for name in NODES}
    processes = []
    try:
        for name, port in ports.items():
            log = tmp_path / f"{name}.log"
            command = [sys.executable, "-m", "gunicorn", "vaxbook.wsgi", "-k", "gthread"]
            command += ["-w", "1", "--threads", "4", "-b", f"127.0.0.1:{port}"]
            command += ["--keep-alive", str(balancer.WEB_KEEPALIVE_BEHIND_BALANCER_S)]
            process = subprocess.Popen(  # noqa: S603 - our own server command
                command,
                cwd=settings.BASE_DIR,
                env=env,
                stdout=log.open("w"),
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            processes.append(process)
            _wait_answering(f"http://127.0.0.1:{port}", process, log)
        front = _free_port()
        processes.append(balancer.start(front, ports, tmp_path))
        _wait_answering(f"http://127.0.0.1:{front}", processes[-1], tmp_path / "haproxy.log")
        yield Site(
            url=f"http://127.0.0.1:{front}",
            nodes={name: f"http://127.0.0.1:{port}" for name, port in ports.items()},
        )
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def test_a_person_books_with_each_step_on_another_node(site, start_worker):
    slot = SlotFactory()
    slug = slot.campaign.slug
    person = Browser()
    served_by = []

    def step(reply: Reply, expected: int) -> Reply:
        assert reply.status == expected, (reply.status, reply.text[:2000])
        served_by.append(reply.node)
        return reply

    start = site.url + reverse("bookings:start", kwargs={"campaign": slug})
    step(person.get(start), 200)
    identified = step(
        person.post(
            start, {"name": "Kim Minsu", "rrn": "620714-1234567", "phone": "010-1234-5678"}
        ),
        302,
    )
    choose_url = identified.location()
    token = dict(p.split("=", 1) for p in urlsplit(choose_url).query.split("&"))["t"]
    chosen = step(
        person.post(
            choose_url,
            {
                "t": token,
                "clinic": slot.clinic.code,
                "date": slot.date.isoformat(),
                "slot": slot.pk,
            },
        ),
        302,
    )
    review_url = chosen.location()
    review = step(person.get(review_url), 200)
    form = Page(review_url, review.text).form_with("t")
    booked = step(person.post(form.action(review_url), form.data()), 302)
    booking_url = booked.location()
    step(person.get(booking_url), 200)

    # Round robin: one person's consecutive requests alternate between the two nodes.
    assert served_by == ["node1", "node2"] * 3 or served_by == ["node2", "node1"] * 3, served_by
    booking = Booking.objects.get(slot=slot)
    assert booking.status == Booking.Status.PENDING
    assert booking_url.rstrip("/").endswith(str(booking.public_id))

    worker = start_worker()
    api = site.url + f"/api/bookings/{booking.public_id}/"
    end = time.monotonic() + DECIDED_S
    seen = set()
    while time.monotonic() < end:
        answer = step(person.get(api), 200)
        seen.add(answer.node)
        if answer.json()["status"] != "pending":
            break
        assert worker.poll() is None, Path(worker.log_path).read_text()[-3000:]
        time.sleep(0.2)
    assert answer.json()["status"] == "confirmed"
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED
    slot.refresh_from_db()
    assert slot.booked == 1


def test_a_rate_changed_by_an_official_is_seen_by_every_node_within_the_bound(site):
    campaign = CampaignFactory(opens_at=timezone.now() - timedelta(seconds=1))
    SlotFactory(campaign=campaign)
    campaign_services.configure_waiting_room(campaign, enabled=True, per_minute=1)
    # One person a minute: the first people in the line are admitted, the next ones wait.
    person, status_path = a_person_waiting(site.url, campaign.slug)
    for node in site.nodes.values():  # both nodes have the old rate in their caches
        assert queue_state(person, node + status_path) == "waiting"

    # The official raises the rate (the service the admin's save calls): everyone waiting is
    # admitted from now on.
    changed_at = time.monotonic()
    campaign_services.configure_waiting_room(campaign, enabled=True, per_minute=60000)

    bound = settings.VAXBOOK_CONFIG_CACHE_SECONDS
    seen_after = {}
    while len(seen_after) < len(site.nodes) and time.monotonic() < changed_at + bound + MARGIN_S:
        for name, node in site.nodes.items():
            if name not in seen_after and queue_state(person, node + status_path) == "admitted":
                seen_after[name] = time.monotonic() - changed_at
        time.sleep(0.05)
    assert set(seen_after) == set(site.nodes), (seen_after, bound)
    assert max(seen_after.values()) <= bound + MARGIN_S
