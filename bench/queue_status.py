"""How many polls of the waiting room's status endpoint this machine serves, that they cost the
database nothing, and what that makes of people waiting per web core.

    python -m bench.queue_status [--seconds 10] [--connections 32] [--server gthread] ...

`make bench` runs it as its last phase (``measure``, on the run's database); alone, it
re-creates the database and flushes Redis like ``make bench``. It seeds a campaign whose waiting
room is open and admits one person a minute, with ``--line`` people already waiting, takes one
place behind them the way a browser does (the queue page, its proof of work), starts the web
server the bench uses (``bench.servers.web_command``) and runs ``wrk`` (Debian's) against
``/queue/<slug>/status/`` with that ticket: the poll every waiting person's page makes.

Database queries are counted by PostgreSQL itself: the reads of every table of the database
(``pg_stat_user_tables``) before the server starts and after it has stopped (its sessions
flush their statistics when they end), so nothing in the server is instrumented for it. The
configuration's shared copy is rebuilt just before (it lives ``CONFIG_TTL`` seconds; rebuilding
it is two queries per campaign every 30 s for the whole site, not per poll).

People waiting per web core = (polls a second per core) × (mean seconds between the polls of
a person in a line of a million at the sustainable admission rate, following the pages'
schedule, ``campaigns.waiting_room.poll_after``). wrk runs on the same cores as the server, so
the per-core figure is a lower bound.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from urllib.error import HTTPError
from urllib.parse import urlencode, urlparse
from urllib.request import HTTPCookieProcessor, Request, build_opener, urlopen

from bench.pages import Page, solve_proof_of_work
from bench.servers import CORES, ROOT, SERVERS, start, stop, web_command

SLUG = "queue-bench"
LINE_OF = 1_000_000  # the line the per-core figure is for
TARGET_PER_CORE = LINE_OF / 8  # the issue's target: a million people waiting on 8 web cores


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--threads", type=int, default=2, help="wrk threads")
    p.add_argument("--server", choices=SERVERS, default="granian", help="as make bench")
    p.add_argument("--web-workers", type=int, default=CORES * 2 + 1)
    p.add_argument("--web-threads", type=int, default=4)
    p.add_argument("--port", type=int, default=8123)
    p.add_argument("--line", type=int, default=2000, help="people already waiting ahead")
    p.add_argument(
        "--admission-per-minute",
        type=int,
        default=900,
        help="the line's rate for the people-per-core figure",
    )
    p.add_argument("--database", default="postgres://postgres@127.0.0.1:5432/vaxbook_bench")
    p.add_argument("--redis", default="redis://127.0.0.1:6379/8")
    return p.parse_args()


def seed(line: int) -> str:
    from django.utils import timezone

    from campaigns import services, waiting_room
    from campaigns.models import Campaign

    now = timezone.now()
    campaign = Campaign.objects.create(
        name="Queue bench",
        slug=SLUG,
        born_from="1962-01-01",
        born_to="1966-12-31",
        opens_at=now - timedelta(minutes=1),
        closes_at=now + timedelta(hours=6),
    )
    services.configure_waiting_room(campaign, enabled=True, per_minute=1)
    config = waiting_room.config_for(campaign.slug)
    for _ in range(line):  # people already waiting: the measured ticket stays "waiting"
        moment = timezone.now().timestamp()
        waiting_room.issue_ticket(config, arrived=moment, now=moment)
    return campaign.slug


def take_a_ticket(base: str, slug: str) -> str:
    """The Cookie header of a person in the line, obtained as a browser would."""
    from http.cookiejar import CookieJar

    jar = CookieJar()
    opener = build_opener(HTTPCookieProcessor(jar))
    queue_url = f"/queue/{slug}/"
    page = Page(queue_url, opener.open(base + queue_url).read().decode())
    join = page.form_by_id("queue-join")
    if join:  # the page asks for a proof of work before it gives a ticket
        body = urlencode(join.data(altcha=solve_proof_of_work(join))).encode()
        opener.open(Request(base + join.action(page.url), data=body))
    cookies = {c.name: c.value for c in jar}
    ticket = f"vb_ticket_{slug}"
    if ticket not in cookies:
        raise RuntimeError("the queue gave no ticket")
    return f"{ticket}={cookies[ticket]}"


def table_reads(database: str) -> int:
    """Scans of every table of the database so far (sequential and by index), as PostgreSQL
    counts them; only the statistics of ended sessions are sure to be in."""
    url = urlparse(database)
    out = subprocess.run(
        [
            "psql",
            "-h",
            url.hostname or "127.0.0.1",
            "-U",
            url.username or "postgres",
            "-d",
            url.path.lstrip("/"),
            "-tAc",
            "SELECT coalesce(sum(seq_scan + coalesce(idx_scan, 0)), 0) FROM pg_stat_user_tables",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return int(out.strip())


def wait_polled(url: str, cookie: str, seconds: float = 30) -> None:
    """Until the server answers the poll (a probe of any other page could query the
    database, and count)."""
    end = time.time() + seconds
    while time.time() < end:
        try:
            with urlopen(Request(url, headers={"Cookie": cookie}), timeout=2):  # noqa: S310
                return
        except HTTPError as error:
            raise RuntimeError(f"the poll answered {error.code}") from error
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


def wrk(args, url: str, cookie: str, seconds: int, connections: int, threads: int) -> dict:
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-H",
            f"Cookie: {cookie}",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    scale = {"us": 0.001, "ms": 1, "s": 1000}
    return {
        "requests_per_s": float(rate.group(1)) if rate else 0.0,
        "requests": int(total.group(1)) if total else 0,
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errors.group(1).strip() if errors else None,
        "p99_ms": round(float(p99.group(1)) * scale[p99.group(2)], 2) if p99 else None,
        "wrk": out,
    }


def mean_seconds_between_polls(longest: int, per_minute: int, line: int = LINE_OF) -> float:
    """Over a line of ``line`` people admitted at ``per_minute``: the seconds they wait, all
    together, over the polls their pages make meanwhile (``waiting_room.polls_until``; places
    sampled evenly, 10,000 of them)."""
    from campaigns import waiting_room

    samples = 10_000
    waited = polls = 0.0
    for i in range(samples):
        place = (i + 0.5) * line / samples
        wait = place * 60 / per_minute
        waited += wait
        polls += waiting_room.polls_until(wait, longest=longest)
    return waited / polls


def measure(
    args,
    env: dict[str, str],
    tmp: Path,
    *,
    per_minute: int,
    seconds: int = 10,
    connections: int = 32,
    threads: int = 2,
    line: int = 2000,
) -> dict:
    """The status-poll phase (Django set up in this process on the run's database): seed the
    queue, take a ticket, then wrk against a freshly started web server, its queries counted
    by PostgreSQL. ``per_minute``: the sustainable admission rate the per-core figure is for."""
    from django.db import connection

    from campaigns import waiting_room
    from campaigns.models import Campaign

    slug = seed(line)
    base = f"http://127.0.0.1:{args.port}"
    status_url = f"{base}/queue/{slug}/status/"
    log = tmp / "queue-status-web.log"
    web = start(web_command(args, args.port), env, log)
    try:
        wait_polled(f"{base}/queue/{slug}/", "")
        cookie = take_a_ticket(base, slug)
    finally:
        stop(web)  # its sessions end: their statistics are in before the count starts
    # A fresh shared copy of the configuration (it lives CONFIG_TTL seconds), built here.
    waiting_room.forget_config(Campaign.objects.get(slug=slug))
    config = waiting_room.config_for(slug)
    connection.close()
    time.sleep(1)
    before = table_reads(args.database)
    web = start(web_command(args, args.port), env, log)
    try:
        wait_polled(status_url, cookie)
        result = wrk(args, status_url, cookie, seconds, connections, threads)
    finally:
        stop(web)
    time.sleep(1)
    queries = table_reads(args.database) - before
    per_core = result["requests_per_s"] / CORES
    longest = waiting_room.longest_poll(config)
    interval = mean_seconds_between_polls(longest, per_minute)
    waiting_per_core = per_core * interval
    return {
        **{k: v for k, v in result.items() if k != "wrk"},
        "database_table_reads": queries,
        "server": getattr(args, "server", "granian"),
        "web_workers": args.web_workers,
        "wrk": f"-t{threads} -c{connections} -d{seconds}s, on the same {CORES} cores",
        "line_ahead": line,
        "requests_per_s_per_core": round(per_core, 1),
        "longest_poll_s": longest,
        "line_of": LINE_OF,
        "line_admission_per_minute": per_minute,
        "mean_seconds_between_polls": round(interval, 1),
        "people_waiting_per_core": int(waiting_per_core),
        "cores_for_a_million_waiting": round(LINE_OF / waiting_per_core, 1)
        if waiting_per_core
        else None,
        "target_people_waiting_per_core": int(TARGET_PER_CORE),
    }


def main() -> None:
    from bench.run import environment, reset_database

    args = parse_args()
    env = environment(args)
    os.environ.update(env)
    reset_database(args, env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    tmp = Path(tempfile.mkdtemp(prefix="vaxbook-queue-bench-"))
    r = measure(
        args,
        env,
        tmp,
        per_minute=args.admission_per_minute,
        seconds=args.seconds,
        connections=args.connections,
        threads=args.threads,
        line=args.line,
    )
    print(
        f"queue status: {r['requests_per_s']} requests/s ({r['requests_per_s_per_core']} per "
        f"core), p99 {r['p99_ms']} ms, {r['non_2xx']} non-2xx, socket errors "
        f"{r['socket_errors'] or 'none'}, {r['database_table_reads']} database table reads "
        f"({r['server']}, {r['web_workers']} workers; wrk {r['wrk']})"
    )
    print(
        f"people waiting per web core: {r['people_waiting_per_core']:,} (a poll every "
        f"{r['mean_seconds_between_polls']} s on average in a line of a million at "
        f"{r['line_admission_per_minute']}/min) → a million waiting on "
        f"{r['cores_for_a_million_waiting']} cores (target ≤ 8)"
    )


if __name__ == "__main__":
    main()
