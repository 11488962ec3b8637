"""How many polls of the waiting room's status endpoint this machine serves.

    python -m bench.queue_status [--seconds 15] [--connections 32] [--web-workers 2]

Re-creates the database ``vaxbook_bench`` and flushes Redis db 8 (like ``make bench``), seeds a
campaign whose waiting room is open and admits one person a minute, with ``--line`` people
already waiting, takes one place behind them the way a browser does (through the queue page,
proof of work included where the page asks for it), starts gunicorn and runs ``wrk`` (Debian's
``wrk``) against ``/queue/<slug>/status/`` with that ticket: the poll every waiting person's
page makes. Prints requests/s and latency as wrk reports them.
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
from urllib.parse import urlencode
from urllib.request import HTTPCookieProcessor, Request, build_opener

from bench.pages import Page, solve_proof_of_work
from bench.run import environment, reset_database
from bench.servers import ROOT, start, stop, wait_http


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--seconds", type=int, default=15)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--threads", type=int, default=2, help="wrk threads")
    p.add_argument("--web-workers", type=int, default=2, help="gunicorn sync workers")
    p.add_argument("--port", type=int, default=8123)
    p.add_argument("--line", type=int, default=2000, help="people already waiting ahead")
    p.add_argument("--database", default="postgres://postgres@127.0.0.1:5432/vaxbook_bench")
    p.add_argument("--redis", default="redis://127.0.0.1:6379/8")
    return p.parse_args()


def seed(line: int) -> str:
    from django.utils import timezone

    from campaigns import services
    from campaigns.models import Campaign

    now = timezone.now()
    campaign = Campaign.objects.create(
        name="Queue bench",
        slug="queue-bench",
        born_from="1962-01-01",
        born_to="1966-12-31",
        opens_at=now - timedelta(minutes=1),
        closes_at=now + timedelta(hours=6),
    )
    services.configure_waiting_room(campaign, enabled=True, per_minute=1)
    from campaigns import waiting_room

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


def main() -> None:
    args = parse_args()
    env = environment(args)
    os.environ.update(env)
    reset_database(args, env)
    import django

    django.setup()
    slug = seed(args.line)
    tmp = Path(tempfile.mkdtemp(prefix="vaxbook-queue-bench-"))
    base = f"http://127.0.0.1:{args.port}"
    web = start(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "vaxbook.wsgi",
            f"--workers={args.web_workers}",
            f"--bind=127.0.0.1:{args.port}",
        ],
        env,
        tmp / "gunicorn.log",
    )
    try:
        wait_http(f"{base}/")
        cookie = take_a_ticket(base, slug)
        time.sleep(1)
        out = subprocess.run(
            [
                "wrk",
                f"-t{args.threads}",
                f"-c{args.connections}",
                f"-d{args.seconds}s",
                "--latency",
                "-H",
                f"Cookie: {cookie}",
                f"{base}/queue/{slug}/status/",
            ],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout
    finally:
        stop(web)
    print(out)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    print(
        f"queue status: {rate.group(1) if rate else '?'} requests/s, "
        f"{non2xx.group(1) if non2xx else 0} non-2xx answers "
        f"(gunicorn {args.web_workers} sync workers, wrk -t{args.threads} "
        f"-c{args.connections} -d{args.seconds}s, same machine)"
    )


if __name__ == "__main__":
    main()
