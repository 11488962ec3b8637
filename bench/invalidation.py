"""Is an official's change seen by every web node within the configuration cache's bound?

Each web process holds a campaign's waiting-room configuration for
VAXBOOK_CONFIG_CACHE_SECONDS (campaigns.waiting_room.config_for), then checks a generation in
Redis; a change drops it at once in the changing process and within that bound everywhere
else. Here, during the surge: a person waits in the line of a second campaign admitting one
person a minute; an official raises its rate (the service the admin's save calls) so that
everyone waiting is admitted from now on; then every node is asked directly, over and over,
where that person stands, until each answers "admitted".

A node's answer is made somewhere between the moment its request was sent and the moment it
came back: the node switched after the start of the last request it answered "waiting" to and
before the end of the first it answered "admitted". The bound is broken for certain only when
a request sent later than the bound after the change was still answered "waiting".

`Browser` and `join_the_line` are shared with vaxbook/tests/test_two_nodes.py.
"""

import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import timedelta
from http.cookiejar import CookieJar
from urllib.parse import urlencode, urljoin

from bench.balancer import NODE_HEADER
from bench.pages import Page, solve_proof_of_work

PROBE_SLUG = "bench-probe"
GIVE_UP_S = 60  # a node still "waiting" this long after the change: reported as never seen


@dataclass
class Reply:
    status: int
    headers: object  # email.message.Message: header names in any case
    text: str
    url: str

    @property
    def node(self) -> str | None:
        """The node that answered, named by the balancer (None when asked directly)."""
        return self.headers.get(NODE_HEADER)

    def location(self) -> str:
        return urljoin(self.url, self.headers["Location"])

    def json(self):
        return json.loads(self.text)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # redirects are answers to read, not to follow


class Browser:
    """One person's browser: its cookies (those of 127.0.0.1 go to every port, so to either
    node and the balancer alike) and the CSRF token sent back on posts. Blocking (urllib): one
    person, one request at a time."""

    def __init__(self):
        self.cookies = CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect()
        )

    def _open(self, request: urllib.request.Request) -> Reply:
        try:
            with self.opener.open(request, timeout=30) as response:
                text = response.read().decode()
                return Reply(response.status, response.headers, text, request.full_url)
        except urllib.error.HTTPError as answer:  # a redirect or an error status: an answer
            return Reply(answer.code, answer.headers, answer.read().decode(), request.full_url)

    def get(self, url: str) -> Reply:
        return self._open(urllib.request.Request(url))  # noqa: S310 - http to our own nodes

    def post(self, url: str, fields: dict) -> Reply:
        token = next((c.value for c in self.cookies if c.name == "csrftoken"), "")
        return self._open(
            urllib.request.Request(  # noqa: S310 - http to our own nodes
                url,
                data=urlencode(fields).encode(),
                headers={"X-CSRFToken": token, "Referer": url},
                method="POST",
            )
        )


def join_the_line(site: str, slug: str) -> tuple[Browser, str | None]:
    """A person arrives at the booking page, is sent to the waiting room, solves its proof of
    work and joins; returns the person and the path their queue page polls (None: admitted at
    once)."""
    person = Browser()
    arrived = person.get(f"{site}/book/{slug}/")
    if arrived.status != 302:
        raise RuntimeError(f"the booking page answered {arrived.status}, not the waiting room")
    queue_url = arrived.location()
    page = Page(queue_url, person.get(queue_url).text)
    form = page.form_by_id("queue-join")
    joined = person.post(form.action(queue_url), form.data(altcha=solve_proof_of_work(form)))
    if joined.status != 303:
        raise RuntimeError(f"joining the line answered {joined.status}")
    again = person.get(queue_url)
    if again.status == 302:
        return person, None
    return person, Page(queue_url, again.text).ids["queue"]["data-status-url"]


def queue_state(person: Browser, url: str) -> str:
    reply = person.get(url)
    if reply.status != 200:
        raise RuntimeError(f"the queue status answered {reply.status}")
    return reply.json()["state"]


def a_person_waiting(site: str, slug: str, tries: int = 5) -> tuple[Browser, str]:
    """People join the line until one is left waiting (at one person a minute, the first
    ones may be admitted at once)."""
    for _ in range(tries):
        person, status_path = join_the_line(site, slug)
        if status_path and queue_state(person, site + status_path) == "waiting":
            return person, status_path
    raise RuntimeError("nobody was left waiting at one person a minute")


def seed_probe_campaign(opening):
    """A second campaign, opened, its waiting room admitting one person a minute."""
    from campaigns import services as campaign_services
    from campaigns.models import Campaign, Vaccine

    campaign = Campaign.objects.create(
        name="Bench probe",
        slug=PROBE_SLUG,
        vaccine=Vaccine.objects.get_or_create(name="Janssen", defaults={"doses": 1})[0],
        born_from="1962-01-01",
        born_to="1966-12-31",
        opens_at=opening,
        closes_at=opening + timedelta(hours=6),
    )
    return campaign_services.configure_waiting_room(campaign, enabled=True, per_minute=1)


def probe(site: str, nodes: dict[str, str], campaign) -> dict:
    """The change made by an official, and when each node (asked directly) reflected it."""
    from django.conf import settings
    from django.db import connections

    from campaigns import services as campaign_services

    bound = settings.VAXBOOK_CONFIG_CACHE_SECONDS
    try:
        person, status_path = a_person_waiting(site, campaign.slug)
        stale = {name: queue_state(person, url + status_path) for name, url in nodes.items()}
        changed = time.monotonic()
        campaign_services.configure_waiting_room(campaign, enabled=True, per_minute=60000)
        last_waiting = {name: 0.0 for name in nodes}  # sent, seconds after the change
        first_admitted = {}  # answered, seconds after the change
        while len(first_admitted) < len(nodes) and time.monotonic() - changed < GIVE_UP_S:
            for name, url in nodes.items():
                if name in first_admitted:
                    continue
                sent = time.monotonic() - changed
                state = queue_state(person, url + status_path)
                if state == "admitted":
                    first_admitted[name] = round(time.monotonic() - changed, 3)
                else:
                    last_waiting[name] = round(sent, 3)
            time.sleep(0.05)
    except (OSError, RuntimeError, KeyError, ValueError) as exc:
        return {"bound_s": bound, "error": f"{type(exc).__name__}: {exc}", "within_bound": False}
    finally:
        connections.close_all()  # this thread's
    return {
        "bound_s": bound,
        "before_the_change": stale,
        # each node switched between these two moments (seconds after the official's change)
        "still_old_when_sent_s": last_waiting,
        "new_when_answered_s": first_admitted,
        "within_bound": len(first_admitted) == len(nodes)
        and all(sent <= bound for sent in last_waiting.values()),
    }


class Probe(threading.Thread):
    """`probe` in a thread, started `delay` seconds from now (during the surge)."""

    def __init__(self, site: str, nodes: dict[str, str], campaign, delay: float):
        super().__init__(daemon=True)
        self.args = (site, nodes, campaign)
        self.delay = delay
        self.result = None

    def run(self) -> None:
        time.sleep(max(self.delay, 0))
        self.result = probe(*self.args)
