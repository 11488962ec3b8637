"""Simulated citizens: each goes through the opening as a browser would (cookies, CSRF, the
forms' fields), with aiohttp against the live server. Every request is timed under its step.

They find their way by what a browser acts on (element ids, field names, the links' query
parameters: `bench.pages`), never by the pages' wording, and learn how their booking was
decided from the booking API, so the bench keeps working when the pages are translated.

The citizens are spread over several processes: one asyncio loop driving hundreds of clients
saturates a core by itself, and then it is the load generator's latency that gets measured.
"""

import asyncio
import json
import random
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import aiohttp

from bench.balancer import NODE_HEADER  # which node answered, behind the balancer
from bench.pages import Form, Page, solve_proof_of_work

CHOOSE_ATTEMPTS = 5  # a citizen goes round region → clinic → time this often at most
STATUS_POLL_S = 2.0  # how often a pending booking's page asks the API (status.js)
# The sweep decides a booking left pending within VAXBOOK_PENDING_SWEEP_AFTER plus its interval
# (3 minutes by default); a citizen still waiting after this long counts as an error.
DECISION_WAIT_S = 300.0
# An idle connection is reused for this long only, well under the server's keep-alive
# (gunicorn's 2 s; HAProxy's 30 s). A request sent on a kept-alive connection as the server
# closes it (a busy machine delays the client) is sent again once, as browsers do (the person
# sees nothing): counted as a resend, and the bench fails on any. A connection lost otherwise
# (a fresh one, or after the request was answered in part) is an error page: counted as dropped.
KEEPALIVE_S = 1.0
CONNECTION_LOST = (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)


async def _on_reused(session, context, params) -> None:
    context.trace_request_ctx.append("reused")


async def _on_new(session, context, params) -> None:
    context.trace_request_ctx.append("new")


# Tells each request which connections it went on, in order: "reused" (kept alive from an
# earlier request) or "new". More than one: aiohttp re-sent it by itself (it does so once for a
# GET whose connection was lost, kept-alive or not; a browser only for a kept-alive one).
CONNECTION_TRACE = aiohttp.TraceConfig()
CONNECTION_TRACE.on_connection_reuseconn.append(_on_reused)
CONNECTION_TRACE.on_connection_create_start.append(_on_new)


@dataclass
class Timing:
    step: str
    started: float  # seconds since the opening
    ms: float
    status: int


@dataclass
class Outcome:
    timings: list[Timing] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    # confirmed | rejected (the booking's status in the API) | refused (a page said no) | error
    result: str = "unfinished"
    queue_wait_s: float | None = None
    decided_at: float | None = None
    polls: int = 0
    # requests sent again after the kept-alive connection they went on was closed under them
    retries: int = 0
    nodes: dict[str, int] = field(default_factory=dict)  # requests answered by each node

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


@dataclass
class Answer:
    url: str
    status_code: int
    headers: Mapping[str, str]  # aiohttp's, names in any case (HAProxy sends them lower-case)
    text: str

    def json(self):
        return json.loads(self.text)

    def page(self) -> Page:
        return Page(self.url, self.text)

    def location(self) -> str:
        """Where a redirect sends the browser."""
        return urljoin(self.url, self.headers["Location"])


class Refused(Exception):
    """A page turned the citizen away (cohort, pass, already booked, nothing left): an outcome
    of the booking, not a failure of the bench."""


class Undecided(Exception):
    """The booking was still pending after DECISION_WAIT_S."""


class NoChoice(Exception):
    """A page of the choice offered nothing to choose (the places changed meanwhile)."""


class Citizen:
    def __init__(self, n: int, base: str, slug: str, opening: float, rrn: str):
        self.n, self.base, self.slug, self.opening, self.rrn = n, base, slug, opening, rrn
        self.out = Outcome()
        self.csrftoken = ""

    async def request(self, client, step, method, url, data=None) -> Answer:
        """One timed request under its step. A 5xx, a timeout or a dropped connection is
        counted under the step ("<step>:503", "<step>:timeout", "<step>:dropped") and ends the
        citizen's run."""
        start = time.time()
        connections = []
        try:
            try:
                answer = await self._send(client, method, url, data, connections)
            except CONNECTION_LOST:
                if connections != ["reused"]:
                    raise
                # As a browser does when a kept-alive connection turns out to be closed: once
                # more (aiohttp does it by itself for a GET, not for a POST)
                connections.append("resent")
                answer = await self._send(client, method, url, data, [])
        except CONNECTION_LOST:
            self.out.error(f"{step}:dropped")
            raise
        except TimeoutError:
            self.out.error(f"{step}:timeout")
            raise
        if len(connections) > 1:  # lost once, answered when sent again
            if connections[0] == "reused":
                self.out.retries += 1
            else:  # a browser would not have re-sent it: the person saw an error page
                self.out.error(f"{step}:dropped")
        self.out.timings.append(
            Timing(step, start - self.opening, (time.time() - start) * 1000, answer.status_code)
        )
        if node := answer.headers.get(NODE_HEADER):
            self.out.nodes[node] = self.out.nodes.get(node, 0) + 1
        if answer.status_code >= 500:
            self.out.error(f"{step}:{answer.status_code}")
            raise RuntimeError(f"{step} answered {answer.status_code}")
        return answer

    async def _send(self, client, method, url, data, connections: list) -> Answer:
        """`connections` gets the connections the request went on (CONNECTION_TRACE)."""
        async with client.request(
            method,
            url if urlsplit(url).scheme else self.base + url,
            data=data,
            headers={"X-CSRFToken": self.csrftoken} if method == "POST" else None,
            allow_redirects=False,
            trace_request_ctx=connections,
        ) as response:
            answer = Answer(url, response.status, response.headers.copy(), await response.text())
            if "csrftoken" in response.cookies:
                self.csrftoken = response.cookies["csrftoken"].value
        return answer

    async def page(self, client, step: str, url: str) -> Page:
        return (await self.request(client, step, "GET", url)).page()

    async def follow(self, client, step: str, links: list[str]) -> Page:
        """Click one of the links, at random."""
        if not links:
            raise NoChoice(step)
        return await self.page(client, step, random.choice(links))

    async def post(self, client, step: str, page: Page, form: Form, **filled: str) -> Answer:
        """Submit a form of the page with the person's input."""
        return await self.request(client, step, "POST", form.action(page.url), form.data(**filled))

    async def run(self, client: aiohttp.ClientSession, arrive_at: float) -> Outcome:
        await asyncio.sleep(max(arrive_at - time.time(), 0))
        try:
            await self._book(client)
        except Refused:
            self.out.result = "refused"
        except Exception as exc:  # a bench must finish and report every failure
            self.out.result = "error"
            self.out.error(type(exc).__name__)
        return self.out

    async def _book(self, client: aiohttp.ClientSession) -> None:
        """The whole visit: arrive (and wait in line), identify, choose, submit, follow."""
        identify = await self._arrive(client)
        choose_url = await self._identify(client, identify)
        review_url = await self._choose(client, choose_url)
        booking_url = await self._submit(client, review_url)
        self.out.result = await self._follow(client, booking_url)
        self.out.decided_at = time.time() - self.opening

    async def _arrive(self, client: aiohttp.ClientSession) -> Page:
        """The booking form, after the waiting room when the site sends the citizen there."""
        response = await self.request(client, "arrive", "GET", f"/book/{self.slug}/")
        if response.status_code != 302:
            return response.page()
        queued_at = time.time()
        booking_url = await self._wait_turn(client, response.location())
        self.out.queue_wait_s = time.time() - queued_at
        return await self.page(client, "identify_form", booking_url)

    async def _wait_turn(self, client: aiohttp.ClientSession, queue_url: str) -> str:
        """What the queue page and its script do: join, then poll the status until admitted.
        Returns where the turn sends the citizen."""
        page = await self.page(client, "queue_page", queue_url)
        await self._join(client, page)
        response = await self.request(client, "queue_page", "GET", queue_url)
        if response.status_code == 302:  # the turn came at once: on to the booking form
            return response.location()
        box = response.page().ids.get("queue", {})
        status_url = box.get("data-status-url")
        if not status_url:
            raise RuntimeError("no status to poll on the queue page")
        # The script's first poll waits what the page says (when the turn or the draw can
        # come at the earliest), then each one what the answer says (poll_after).
        await asyncio.sleep(float(box.get("data-poll") or 1))
        while True:
            state = (await self.request(client, "queue_poll", "GET", status_url)).json()
            self.out.polls += 1
            if state["state"] == "admitted":
                return state.get("next") or f"/book/{self.slug}/"
            if state["state"] in ("closed", "no_ticket"):
                raise RuntimeError(f"queue said {state['state']}")
            await asyncio.sleep(state.get("poll_after") or 1)

    async def _join(self, client: aiohttp.ClientSession, page: Page) -> None:
        """Solve the join form's proof of work (ALTCHA) and post the form."""
        form = page.form_by_id("queue-join")
        if form is None:
            raise RuntimeError("no join form on the queue page")
        response = await self.post(
            client, "queue_join", page, form, altcha=solve_proof_of_work(form)
        )
        if response.status_code != 303:
            raise RuntimeError(f"joining the queue answered {response.status_code}")

    async def _identify(self, client: aiohttp.ClientSession, page: Page) -> str:
        """Fill in the person; returns the address of the choice."""
        form = page.form_with("rrn")
        if form is None:
            raise RuntimeError("no identity form")
        response = await self.post(
            client,
            "identify",
            page,
            form,
            name=f"Citizen {self.n}",
            rrn=self.rrn,
            phone="010-1234-5678",
        )
        if response.status_code != 302:
            raise Refused("identify")
        return response.location()

    async def _choose(self, client: aiohttp.ClientSession, choose_url: str) -> str:
        """Region → clinic (it opens on its first day's times) → time, again when a time was
        taken meanwhile; returns the address of the review."""
        for _attempt in range(CHOOSE_ATTEMPTS):
            try:
                page, slots = await self._pick_time(client, choose_url)
            except NoChoice:
                continue
            response = await self.post(
                client, "choose_submit", page, page.form_with("slot"), slot=random.choice(slots)
            )
            if response.status_code == 302:
                return response.location()
        raise Refused("choose")

    async def _pick_time(self, client: aiohttp.ClientSession, choose_url: str):
        """The choice page's links down to a day's times: the regions, a region's clinics, then
        a clinic, which shows its first day's times; only when none of them is free, another of
        its days. Returns the page with the times and the free ones."""
        page = await self.page(client, "choose_region", choose_url)
        page = await self.follow(client, "choose_clinic", page.links_here("region"))
        clinics = page.links_here("clinic", without=("date",))
        page = await self.follow(client, "choose_time", clinics)
        if not (slots := free_times(page)):
            page = await self.follow(client, "choose_day", page.links_here("clinic", "date"))
            slots = free_times(page)
        if not slots:
            raise NoChoice("choose_day")
        return page, slots

    async def _submit(self, client: aiohttp.ClientSession, review_url: str) -> str:
        """Review and book; returns the address of the booking's page."""
        page = await self.page(client, "review", review_url)
        form = page.form_with("t")
        if form is None:
            raise RuntimeError("no booking form on the review page")
        response = await self.post(client, "submit", page, form)
        if response.status_code != 302:
            raise Refused("submit")
        return response.location()

    async def _follow(self, client: aiohttp.ClientSession, booking_url: str) -> str:
        """As the booking's page does (static/bookings/status.js): load it once, then, while
        it is pending, ask the booking API it names (``data-poll-url``) every two seconds;
        once decided, load the page again to show the outcome."""
        page = await self.page(client, "status", booking_url)
        api_url = page.ids.get("booking", {}).get("data-poll-url")
        if api_url is None:  # decided already
            api_url = f"/api/bookings/{public_id(booking_url)}/"
            return (await self.request(client, "status_api", "GET", api_url)).json()["status"]
        give_up = time.time() + DECISION_WAIT_S
        while time.time() < give_up:
            await asyncio.sleep(STATUS_POLL_S)
            decision = (await self.request(client, "status_api", "GET", api_url)).json()
            if decision["status"] != "pending":
                await self.page(client, "status", booking_url)
                return decision["status"]
        raise Undecided(booking_url)


def free_times(page: Page) -> list[str]:
    """The times of the page's time form that can be chosen (a full one has no radio button)."""
    form = page.form_with("slot")
    return form.choices.get("slot", []) if form else []


def public_id(booking_url: str) -> uuid.UUID:
    """The booking's public id: the address's last segment that is a UUID."""
    for segment in reversed(urlsplit(booking_url).path.split("/")):
        try:
            return uuid.UUID(segment)
        except ValueError:
            continue
    raise RuntimeError(f"submitting led to {booking_url}, not to a booking")


async def _run_share(
    base: str,
    slug: str,
    opening: float,
    share: list[tuple[int, str]],
    spread: float,
    connections: int,
) -> list[Outcome]:
    connector = aiohttp.TCPConnector(limit=connections, keepalive_timeout=KEEPALIVE_S)
    timeout = aiohttp.ClientTimeout(total=60)

    async def one(n: int, rrn: str) -> Outcome:
        # one cookie jar per citizen; one connection pool for the process
        async with aiohttp.ClientSession(
            connector=connector,
            connector_owner=False,
            timeout=timeout,
            cookie_jar=aiohttp.CookieJar(unsafe=True),
            trace_configs=[CONNECTION_TRACE],
        ) as client:
            arrive = opening + random.uniform(-spread, spread)
            return await Citizen(n, base, slug, opening, rrn).run(client, arrive)

    try:
        return await asyncio.gather(*(one(n, rrn) for n, rrn in share))
    finally:
        await connector.close()


def _share_in_process(args) -> list[Outcome]:
    return asyncio.run(_run_share(*args))


def run_citizens(
    base: str,
    slug: str,
    opening: float,
    rrns: list[str],
    spread: float,
    connections: int,
    processes: int,
) -> list[Outcome]:
    numbered = list(enumerate(rrns))
    shares = [numbered[i::processes] for i in range(processes)]
    per_process = max(connections // processes, 1)
    with ProcessPoolExecutor(max_workers=processes) as pool:
        results = pool.map(
            _share_in_process,
            [(base, slug, opening, share, spread, per_process) for share in shares],
        )
        return [outcome for share in results for outcome in share]
