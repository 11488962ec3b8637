"""Simulated citizens: each goes through the opening as a browser would (cookies, CSRF, the
forms' fields), with aiohttp against the live server. Every request is timed under its step.

The citizens are spread over several processes: one asyncio loop driving hundreds of clients
saturates a core by itself, and then it is the load generator's latency that gets measured.
"""

import asyncio
import json
import random
import re
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from html import unescape

import aiohttp
import altcha

JOIN_FORM = re.compile(r'<form[^>]*\bid="queue-join"[^>]*>')
LINK = {
    "region": re.compile(r'href="\?t=[^"&]+&region=([^"&]+)"'),
    "clinic": re.compile(r'href="\?t=[^"&]+&clinic=([^"&]+)"'),
    "date": re.compile(r'href="\?t=[^"&]+&clinic=[^"&]+&date=(\d{4}-\d{2}-\d{2})"'),
    "slot": re.compile(r'name="slot" value="(\d+)"'),
}


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
    result: str = "unfinished"  # confirmed | rejected | refused | error
    queue_wait_s: float | None = None
    decided_at: float | None = None
    polls: int = 0

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


@dataclass
class Answer:
    status_code: int
    headers: dict
    text: str

    def json(self):
        import json

        return json.loads(self.text)


class Citizen:
    def __init__(self, n: int, base: str, slug: str, opening: float, rrn: str):
        self.n, self.base, self.slug, self.opening, self.rrn = n, base, slug, opening, rrn
        self.out = Outcome()
        self.csrftoken = ""

    async def request(self, client, step, method, url, data=None, headers=None) -> Answer:
        start = time.time()
        async with client.request(
            method, self.base + url, data=data, headers=headers, allow_redirects=False
        ) as response:
            answer = Answer(response.status, dict(response.headers), await response.text())
            if "csrftoken" in response.cookies:
                self.csrftoken = response.cookies["csrftoken"].value
        self.out.timings.append(
            Timing(step, start - self.opening, (time.time() - start) * 1000, answer.status_code)
        )
        if answer.status_code >= 500:
            self.out.error(f"{step}:{answer.status_code}")
            raise RuntimeError(f"{step} answered {answer.status_code}")
        return answer

    def csrf(self, client) -> dict:
        return {"X-CSRFToken": self.csrftoken}

    async def run(self, client: aiohttp.ClientSession, arrive_at: float) -> Outcome:
        await asyncio.sleep(max(arrive_at - time.time(), 0))
        try:
            await self._book(client)
        except Exception as exc:  # a bench must finish and report every failure
            self.out.result = "error"
            self.out.error(type(exc).__name__)
        return self.out

    async def _join(self, client: aiohttp.ClientSession, page: str) -> None:
        """What the queue page's script does: solve the proof-of-work challenge (ALTCHA) and
        post the join form."""
        form = JOIN_FORM.search(page)
        if not form:
            raise RuntimeError("no join form on the queue page")
        attributes = dict(re.findall(r'([\w-]+)="([^"]*)"', form.group(0)))
        challenge = altcha.Challenge.from_dict(json.loads(unescape(attributes["data-challenge"])))
        solution = altcha.solve_challenge(challenge)
        payload = altcha.Payload(challenge, solution).to_base64()
        response = await self.request(
            client,
            "queue_join",
            "POST",
            unescape(attributes["action"]),
            data={"altcha": payload, "csrfmiddlewaretoken": self.csrftoken},
            headers=self.csrf(client),
        )
        if response.status_code != 303:
            raise RuntimeError(f"joining the queue answered {response.status_code}")

    async def _book(self, client: aiohttp.ClientSession) -> None:
        start_url = f"/book/{self.slug}/"
        response = await self.request(client, "arrive", "GET", start_url)
        if response.status_code == 302:  # the waiting room
            queued_at = time.time()
            queue_url = response.headers["Location"]
            page = await self.request(client, "queue_page", "GET", queue_url)
            await self._join(client, page.text)
            await self.request(client, "queue_page", "GET", queue_url)
            status_url = f"/queue/{self.slug}/status/"
            while True:
                state = (await self.request(client, "queue_poll", "GET", status_url)).json()
                self.out.polls += 1
                if state["state"] == "admitted":
                    break
                if state["state"] in ("closed", "no_ticket"):
                    raise RuntimeError(f"queue said {state['state']}")
                await asyncio.sleep(state.get("poll_after") or 1)
            self.out.queue_wait_s = time.time() - queued_at
            response = await self.request(client, "identify_form", "GET", start_url)
        if 'name="rrn"' not in response.text:
            raise RuntimeError("no identity form")
        response = await self.request(
            client,
            "identify",
            "POST",
            start_url,
            data={"name": f"Citizen {self.n}", "rrn": self.rrn, "phone": "010-1234-5678"},
            headers=self.csrf(client),
        )
        if response.status_code != 302:
            self.out.result = "refused"
            return
        choose = response.headers["Location"]
        token = choose.split("t=", 1)[1]
        for _attempt in range(5):
            page = (await self.request(client, "choose_region", "GET", choose)).text
            region = random.choice(LINK["region"].findall(page))
            page = (
                await self.request(client, "choose_clinic", "GET", f"{choose}&region={region}")
            ).text
            clinic = random.choice(LINK["clinic"].findall(page))
            page = (
                await self.request(client, "choose_day", "GET", f"{choose}&clinic={clinic}")
            ).text
            day = random.choice(LINK["date"].findall(page))
            page = (
                await self.request(
                    client, "choose_time", "GET", f"{choose}&clinic={clinic}&date={day}"
                )
            ).text
            slots = LINK["slot"].findall(page)
            if not slots:
                continue
            response = await self.request(
                client,
                "choose_submit",
                "POST",
                choose,
                data={"t": token, "clinic": clinic, "date": day, "slot": random.choice(slots)},
                headers=self.csrf(client),
            )
            if response.status_code == 302:
                break
        else:
            self.out.result = "refused"
            return
        review = response.headers["Location"]
        await self.request(client, "review", "GET", review)
        response = await self.request(
            client,
            "submit",
            "POST",
            review,
            data={"t": review.split("t=", 1)[1]},
            headers=self.csrf(client),
        )
        if response.status_code != 302:
            self.out.result = "refused"
            return
        status_url = response.headers["Location"]
        while True:  # the status page refreshes itself every 2 seconds
            page = (await self.request(client, "status", "GET", status_url)).text
            if "Booking confirmed" in page:
                self.out.result = "confirmed"
                break
            if "status-rejected" in page:
                self.out.result = "rejected"
                break
            await asyncio.sleep(2)
        self.out.decided_at = time.time() - self.opening


async def _run_share(
    base: str,
    slug: str,
    opening: float,
    share: list[tuple[int, str]],
    spread: float,
    connections: int,
) -> list[Outcome]:
    connector = aiohttp.TCPConnector(limit=connections)
    timeout = aiohttp.ClientTimeout(total=60)

    async def one(n: int, rrn: str) -> Outcome:
        # one cookie jar per citizen; one connection pool for the process
        async with aiohttp.ClientSession(
            connector=connector,
            connector_owner=False,
            timeout=timeout,
            cookie_jar=aiohttp.CookieJar(unsafe=True),
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
