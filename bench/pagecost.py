"""What a booking page costs the web server, against a one-line view on the same server.

After the surge, on the servers that took it, the bench measures the web processes' CPU time
(utime + stime of every web server process, from /proc) over a fixed number of requests:
PING_REQUESTS to /ping (the one-line view: "ok", through every middleware) and the booking
pages of PAGE_CITIZENS more citizens, CONCURRENCY at a time, from the identity form to their
decided booking. The citizens are admitted first (the waiting room is not a booking page and
is not counted); then they go through the booking step by step, all of them one step before
the next, so each step's CPU is measured on its own as well.

CPU time, unlike latency, does not depend on what else the machine is doing (four helpers'
benchmarks, the load generator): a request costs the web processes about the same CPU however
long it waits for a core. The idle processes' own CPU (gunicorn's heartbeat, keep-alive
polling) is measured too, over IDLE_S without requests, and reported: it is small, and counted
in both figures alike.
"""

import argparse
import asyncio
import json
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp

from bench import citizens as simulated
from bench.citizens import KEEPALIVE_S, Citizen

PING_PATH = "/ping"
PING_REQUESTS = 2000
PAGE_CITIZENS = 40
CONCURRENCY = 8
IDLE_S = 2.0
TARGET_RATIO = 3.0  # issue 14: a booking page costs at most 3× the one-line view
# The web server's processes name the WSGI application on their command line; the Celery
# workers and the load generator do not.
WEB_MARKER = b"vaxbook.wsgi"
TICKS = os.sysconf("SC_CLK_TCK")


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):  # gone meanwhile
            continue
        children.setdefault(parent, []).append(int(stat.parent.name))
    return children


def command_line(pid: int) -> bytes:
    """A process's command line, empty if it has ended."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def web_processes(root: int | None = None) -> list[int]:
    """The web server processes started under `root` (this process by default): each process
    whose command line names the WSGI application, and everything it started (its workers,
    whatever their command line), however many web nodes there are."""
    children = _children()
    found, todo = [], [(root or os.getpid(), False)]
    while todo:
        pid, inside = todo.pop()
        inside = inside or WEB_MARKER in command_line(pid)
        if inside:
            found.append(pid)
        todo.extend((child, inside) for child in children.get(pid, ()))
    return sorted(found)


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """utime + stime of each process (all its threads), in seconds."""
    found = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended: its time is gone with it
            continue
        found[pid] = (int(fields[11]) + int(fields[12])) / TICKS
    return found


def cpu_spent(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(after[pid] - before.get(pid, after[pid]) for pid in after)


class Meter:
    """CPU of the web processes over a stretch of requests."""

    def __init__(self):
        self.pids = web_processes()
        if not self.pids:
            raise RuntimeError("no web server process found under the bench")

    async def measure(self, work: Awaitable) -> tuple[float, object]:
        before = cpu_seconds(self.pids)
        result = await work
        return cpu_spent(before, cpu_seconds(self.pids)), result


def figure(cpu_s: float, requests: int) -> dict:
    return {
        "requests": requests,
        "cpu_ms": round(cpu_s * 1000, 1),
        "cpu_ms_per_request": round(cpu_s * 1000 / requests, 3) if requests else None,
    }


async def _ping(base: str, connector) -> dict[str, int]:
    """PING_REQUESTS to the one-line view, CONCURRENCY at a time; how many got each answer
    ("ok", else the status)."""
    answers: dict[str, int] = {}
    async with aiohttp.ClientSession(connector=connector, connector_owner=False) as client:
        queue = iter(range(PING_REQUESTS))

        async def worker():
            for _ in queue:
                async with client.get(base + PING_PATH) as response:
                    text = await response.text()
                    answer = (
                        "ok" if response.status == 200 and text == "ok" else f"{response.status}"
                    )
                    answers[answer] = answers.get(answer, 0) + 1

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return answers


# The booking's steps as the citizens go through them (bench.citizens), each one for every
# citizen before the next: its name, and what a citizen does in it with what the step before
# gave (the identity form's address, then the page, the choice's address, the review's, the
# booking's).
STEPS: list[tuple[str, Callable]] = [
    ("identify_form", lambda c, client, url: c.page(client, "identify_form", url)),
    ("identify", lambda c, client, page: c._identify(client, page)),
    ("choose", lambda c, client, url: c._choose(client, url)),
    ("review_and_submit", lambda c, client, url: c._submit(client, url)),
    ("status", lambda c, client, url: c._follow(client, url)),
]


async def _admitted(citizen: Citizen, client) -> str:
    """Through the waiting room (not measured): the address of the identity form."""
    response = await citizen.request(client, "arrive", "GET", f"/book/{citizen.slug}/")
    if response.status_code != 302:
        return f"/book/{citizen.slug}/"
    return await citizen._wait_turn(client, response.location())


async def _booking_pages(base: str, slug: str, rrns: list[str], connector, meter: Meter) -> dict:
    limit = asyncio.Semaphore(CONCURRENCY)
    clients = [
        aiohttp.ClientSession(
            connector=connector,
            connector_owner=False,
            cookie_jar=aiohttp.CookieJar(unsafe=True),
            trace_configs=[simulated.REUSE_TRACE] if hasattr(simulated, "REUSE_TRACE") else None,
        )
        for _ in rrns
    ]
    people = [Citizen(n, base, slug, time.time(), rrn) for n, rrn in enumerate(rrns)]
    going: dict[int, object] = {}  # citizen → what its last step gave; dropped when it stops
    failed: dict[str, int] = {}

    async def one(n: int, action: Callable, given) -> None:
        async with limit:
            try:
                going[n] = await action(people[n], clients[n], given)
            except Exception as exc:  # a refusal or an error: this citizen stops here
                going.pop(n, None)
                failed[type(exc).__name__] = failed.get(type(exc).__name__, 0) + 1

    try:
        await asyncio.gather(
            *(one(n, lambda c, client, _: _admitted(c, client), None) for n in range(len(rrns)))
        )
        steps, total_cpu, total_requests = {}, 0.0, 0
        for name, action in STEPS:
            counted = sum(len(c.out.timings) for c in people)
            cpu, _ = await meter.measure(
                asyncio.gather(*(one(n, action, given) for n, given in list(going.items())))
            )
            requests = sum(len(c.out.timings) for c in people) - counted
            steps[name] = figure(cpu, requests)
            total_cpu, total_requests = total_cpu + cpu, total_requests + requests
    finally:
        for client in clients:
            await client.close()
    booked = len(going)  # through every step to a decided booking
    return {
        **figure(total_cpu, total_requests),
        "citizens": len(rrns),
        "booked": booked,
        "stopped": failed,
        "requests_per_booking": round(total_requests / booked, 1) if booked else None,
        "steps": steps,
    }


async def _page_cost(base: str, slug: str, rrns: list[str]) -> dict:
    meter = Meter()
    idle_cpu, _ = await meter.measure(asyncio.sleep(IDLE_S))
    connector = aiohttp.TCPConnector(limit=CONCURRENCY, keepalive_timeout=KEEPALIVE_S)
    try:
        ping_cpu, answered = await meter.measure(_ping(base, connector))
        pages = await _booking_pages(base, slug, rrns, connector, meter)
    finally:
        await connector.close()
    ping = {**figure(ping_cpu, PING_REQUESTS), "answers": answered}
    ratio = (
        pages["cpu_ms_per_request"] / ping["cpu_ms_per_request"]
        if pages["cpu_ms_per_request"] and ping["cpu_ms_per_request"]
        else None
    )
    return {
        "web_processes": len(meter.pids),
        "concurrency": CONCURRENCY,
        "idle_cpu_ms_per_s": round(idle_cpu * 1000 / IDLE_S, 2),
        "one_line_view": ping,
        "booking_pages": pages,
        "ratio": round(ratio, 2) if ratio else None,
        "target_ratio": TARGET_RATIO,
        "met": ratio is not None and ratio <= TARGET_RATIO,
    }


def measure_page_cost(base: str, slug: str, rrns: list[str]) -> dict:
    """Measure both on the running site at `base` (the campaign `slug` open, its waiting room
    admitting at once); `rrns` are people who have not booked yet."""
    return asyncio.run(_page_cost(base, slug, rrns))


def print_page_cost(cost: dict) -> None:
    ping, pages = cost["one_line_view"], cost["booking_pages"]
    print(
        f"  page cost (web CPU per request, {cost['web_processes']} web processes): one-line "
        f"view {ping['cpu_ms_per_request']} ms ({ping['requests']} requests), booking pages "
        f"{pages['cpu_ms_per_request']} ms ({pages['requests']} requests, "
        f"{pages['requests_per_booking']} a booking; {pages['booked']} of {pages['citizens']} "
        f"booked{', stopped: ' + str(pages['stopped']) if pages['stopped'] else ''}) "
        f"→ {cost['ratio']}× "
        f"(target ≤ {cost['target_ratio']:g}×: {'met' if cost['met'] else 'NOT met'})"
    )
    print(
        "    "
        + ", ".join(
            f"{name} {step['cpu_ms_per_request']} ms×{step['requests']}"
            for name, step in pages["steps"].items()
        )
    )


def main() -> None:
    """`python -m bench.pagecost` with bench.run's options: only this measurement, on a fresh
    database and small campaign (no surge), to see a change's effect quickly. The full bench
    measures it after the surge."""
    from bench import run
    from bench.servers import servers

    args = run.parse_args()
    args.admission_per_minute = 60000
    env = run.environment(args)
    run.prepare(args, env)
    opening = run.opening_time(argparse.Namespace(citizens=0))
    campaign = run.seed(args, opening)
    tmp = Path(tempfile.mkdtemp(prefix="vaxbook-pagecost-"))
    with servers(args, env, tmp) as base:
        time.sleep(max(opening.timestamp() - time.time(), 0) + 1)
        # Once to warm the fresh processes up (imports, the URLconf, templates compiled), as
        # the surge does before the bench measures this; then measured.
        measure_page_cost(base, campaign.slug, [run.rrn(n) for n in range(PAGE_CITIZENS)])
        people = [run.rrn(n) for n in range(PAGE_CITIZENS, 2 * PAGE_CITIZENS)]
        cost = measure_page_cost(base, campaign.slug, people)
    print(json.dumps(cost, indent=2))
    print_page_cost(cost)


if __name__ == "__main__":
    main()
