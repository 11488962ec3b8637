"""`make bench`: the opening surge on the real stack, on this machine only (127.0.0.1).

Starts the web server (or --web-nodes of them behind HAProxy) and Celery workers on PostgreSQL
and Redis, seeds a campaign, replays an opening with simulated citizens going through the
waiting room and the booking pages (meanwhile an official changes another campaign's admission
rate and every node is checked to see it within the configuration cache's bound), measures the
confirm pipeline alone and PostgreSQL's own ceiling (pgbench) for the confirm transaction,
checks the invariants and writes bench/results/<ts>.json and a PNG chart, with the peak memory
(RSS) of every web, balancer and worker process. Exit status 1 (`failures`, named in the
table) on a broken invariant, a 5xx, a dropped connection or timeout, a request re-sent after a
kept-alive connection closed under it, a citizen not served, or a node late with the change.

--find-rate instead repeats short openings (everything reset each time) over admission rates,
galloping up from --rate-low then bisecting, to find the highest rate a minute at which every
step's p99 after admission stays under a second with no error, no lost connection and no
broken invariant; it writes it as `sustainable_admission_per_minute` (read by the capacity planner).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import time as clock
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

from bench.cpu import TierMeter
from bench.invalidation import Probe, seed_probe_campaign
from bench.pagecost import print_page_cost
from bench.pipeline import confirm_pipeline, pgbench, wait_decided
from bench.servers import CORES, PY, ROOT, SERVERS, memory_summary, node_urls, servers

RESULTS = ROOT / "bench" / "results"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--citizens", type=int, default=500)
    p.add_argument("--clinics", type=int, default=200)
    p.add_argument("--days", type=int, default=14)
    p.add_argument("--slots-per-day", type=int, default=16)
    p.add_argument("--capacity", type=int, default=10)
    p.add_argument("--web-workers", type=int, default=CORES * 2 + 1)
    p.add_argument("--web-threads", type=int, default=4)
    p.add_argument(
        "--server",
        choices=SERVERS,
        # granian: measured against gunicorn's workers in the same runs, less web CPU per
        # request (the one-line view 0.5–0.8 ms against 1.3 ms) and as many bookings a second
        default="granian",
        help="the web server: granian (WSGI), or gunicorn's gthread or sync workers",
    )
    p.add_argument("--celery-concurrency", type=int, default=CORES)
    # Officials set the waiting room's rate to what their servers answer with p99 < 1 s, found
    # with runs like this one; the default is only a starting point (it suited a 2-core
    # machine): measure on yours. --admission-per-minute 60000 lets everyone in at once to find
    # the breaking point.
    p.add_argument("--admission-per-minute", type=int, default=900)
    p.add_argument(
        "--pow-cost",
        type=int,
        default=1,
        help="PBKDF2 iterations per try of the queue's proof of work (production: 5000); the "
        "simulated citizens solve it on this machine's cores",
    )
    p.add_argument("--spread", type=float, default=3.0, help="arrivals ± seconds around opening")
    p.add_argument(
        "--connections",
        type=int,
        default=1000,
        help="HTTP connections of the load (browsers: one each)",
    )
    p.add_argument("--load-processes", type=int, default=CORES, help="load generator processes")
    p.add_argument("--pipeline-bookings", type=int, default=5000)
    p.add_argument(
        "--queue-seconds",
        type=int,
        default=10,
        help="seconds of wrk on the waiting room's status poll after the surge (0: skip)",
    )
    p.add_argument(
        "--port",
        type=int,
        default=8200,
        help="the site's port (with --web-nodes > 1 the balancer's; the nodes take the next ones)",
    )
    p.add_argument(
        "--web-keepalive",
        type=int,
        default=10,
        help="--server gthread/sync: seconds a single web node keeps an idle client connection "
        "(gunicorn's default, 2 s, closes connections the simulated citizens are about to reuse "
        "on a busy machine: measured); behind the balancer 75 s. granian keeps them as long as "
        "the client does",
    )
    p.add_argument(
        "--web-nodes",
        type=int,
        default=1,
        help="web server processes, each with its own caches; more than one: behind HAProxy "
        "(round robin, no sticky sessions)",
    )
    p.add_argument(
        "--database",
        default="postgres://postgres@127.0.0.1:5432/vaxbook_bench",
        help="dropped and re-created",
    )
    p.add_argument("--redis", default="redis://127.0.0.1:6379/8", help="flushed")
    p.add_argument(
        "--find-rate",
        action="store_true",
        help="find the highest admission rate a minute at which every step after admission "
        "has p99 < 1 s (short openings of --probe-citizens each, over rates from --rate-low "
        "to --rate-high)",
    )
    p.add_argument(
        "--probe-citizens",
        type=int,
        default=300,
        help="citizens of each --find-rate opening (--citizens is the full run's)",
    )
    p.add_argument("--rate-low", type=int, default=300, help="--find-rate: first rate tried")
    p.add_argument("--rate-high", type=int, default=60000, help="--find-rate: highest rate tried")
    p.add_argument(
        "--rate-precision",
        type=float,
        default=0.1,
        help="--find-rate: stop when the failing rate is within this fraction of the passing",
    )
    p.add_argument("--max-probes", type=int, default=10, help="--find-rate: at most this many")
    return p.parse_args()


def environment(args) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "vaxbook.settings",
        "DATABASE_URL": args.database,
        "REDIS_URL": args.redis,
        "DJANGO_DEBUG": "0",
        "LOG_LEVEL": "WARNING",
        # Every simulated citizen comes from 127.0.0.1: the per-address limit would be the
        # bottleneck. The per-person limit stays as configured.
        "VAXBOOK_THROTTLE_PER_ADDRESS": str(10**9),
        # The proof of work is the citizen's device's, not the server's; here the simulated
        # citizens share this machine's cores with the server, so it is kept cheap (the server
        # checks it with one derivation of this many iterations, like in production).
        "VAXBOOK_QUEUE_POW_COST": str(getattr(args, "pow_cost", 1)),
    }


def reset_database(args, env) -> None:
    url = urlparse(args.database)
    name = url.path.lstrip("/")
    admin = ["psql", "-h", url.hostname or "127.0.0.1", "-U", url.username or "postgres", "-q"]
    subprocess.run([*admin, "-c", f"DROP DATABASE IF EXISTS {name}"], check=True, env=env)
    subprocess.run([*admin, "-c", f"CREATE DATABASE {name}"], check=True, env=env)
    subprocess.run([PY, "manage.py", "migrate", "-v0"], check=True, cwd=ROOT, env=env)
    subprocess.run(["redis-cli", "-u", args.redis, "flushdb"], check=True, capture_output=True)


def seed(args, opening):
    """The campaign that opens at `opening`, its clinics and their slots."""
    campaign = seed_campaign(args, opening)
    seed_slots(args, campaign, seed_clinics(args))
    return campaign


def seed_campaign(args, opening):
    from campaigns import services as campaign_services
    from campaigns.models import Campaign, Vaccine

    campaign = Campaign.objects.create(
        name="Bench cohort 55-59",
        slug="bench",
        # one dose: a booking is one appointment, as in the figures measured before doses
        # existed (a two-dose course takes two places in one confirmation)
        vaccine=Vaccine.objects.get_or_create(name="Janssen", defaults={"doses": 1})[0],
        born_from="1962-01-01",
        born_to="1966-12-31",
        opens_at=opening,
        closes_at=opening + timedelta(hours=6),
    )
    campaign_services.configure_waiting_room(
        campaign, enabled=True, per_minute=args.admission_per_minute
    )
    return campaign


def seed_clinics(args) -> list:
    from clinics.models import Clinic

    return Clinic.objects.bulk_create(
        Clinic(name=f"Clinic {n:03d}", code=f"clinic-{n:03d}", region=f"Region {n % 10:02d}")
        for n in range(args.clinics)
    )


SLOT_MINUTES = 30
DAY_STARTS = clock(9, 0)


def seed_slots(args, campaign, clinics) -> None:
    """--slots-per-day slots of SLOT_MINUTES from DAY_STARTS, --days days from tomorrow."""
    from django.utils import timezone

    from clinics.services import generate_slots

    first = timezone.localdate() + timedelta(days=1)
    day_minutes = DAY_STARTS.hour * 60 + DAY_STARTS.minute + args.slots_per_day * SLOT_MINUTES
    generate_slots(
        clinics=clinics,
        campaign=campaign,
        first_day=first,
        last_day=first + timedelta(days=args.days - 1),
        day_starts=DAY_STARTS,
        day_ends=clock(day_minutes // 60, day_minutes % 60),
        interval_minutes=SLOT_MINUTES,
        capacity=args.capacity,
    )


def rrn(n: int) -> str:
    year, month, day = 62 + n % 5, 1 + (n // 5) % 12, 1 + (n // 60) % 28
    return f"{year:02d}{month:02d}{day:02d}-{1 + n % 2}{n:06d}"


def nearest_rank(ordered: list[float], q: float) -> float:
    """The q-quantile of sorted values, without interpolation."""
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    return {
        "n": len(values),
        "p50_ms": round(nearest_rank(ordered, 0.50), 1),
        "p95_ms": round(nearest_rank(ordered, 0.95), 1),
        "p99_ms": round(nearest_rank(ordered, 0.99), 1),
    }


def invariants() -> dict:
    from django.db import connection

    checks = {
        "overbooked": "SELECT count(*) FROM clinics_slot WHERE booked > capacity",
        "booked_mismatch": """SELECT count(*) FROM clinics_slot s WHERE s.booked <> (SELECT
            count(*) FROM bookings_booking b WHERE b.slot_id = s.id AND b.status = 'confirmed')""",
        "two_active_per_person": """SELECT count(*) FROM (SELECT 1 FROM bookings_booking
            WHERE status IN ('pending','confirmed') GROUP BY campaign_id, rrn_hmac
            HAVING count(*) > 1) x""",
        "lost": "SELECT count(*) FROM bookings_booking WHERE status = 'pending'",
    }
    with connection.cursor() as cursor:
        found = {}
        for name, sql in checks.items():
            cursor.execute(sql)
            found[name] = cursor.fetchone()[0]
    from bookings.selectors import suspicious_bookings

    found["outside_window_or_without_pass"] = sum(1 for _ in suspicious_bookings())
    return found


# Requests a page makes by itself while the person waits (the queue's poll, the status page's
# reload, the decision read from the API): not in the chart's page latency.
BACKGROUND_STEPS = ("queue_poll", "status", "status_api")


def chart(outcomes, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    per_second = Counter(int(o.decided_at) for o in outcomes if o.result == "confirmed")
    latency = defaultdict(list)
    for o in outcomes:
        for t in o.timings:
            if t.step not in BACKGROUND_STEPS:
                latency[int(t.started)].append(t.ms)
    seconds = sorted(set(per_second) | set(latency))
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    top.bar(seconds, [per_second.get(s, 0) for s in seconds], color="#0b5cad")
    top.set_ylabel("confirmed / s")
    top.set_title("vaxbook opening surge (t = 0 is the opening)")
    p95 = [
        statistics.quantiles(latency[s], n=20)[-1]
        if len(latency[s]) > 1
        else (latency[s][0] if latency[s] else 0)
        for s in seconds
    ]
    bottom.plot(seconds, p95, color="#a12622")
    bottom.set_ylabel("p95 page latency (ms)")
    bottom.set_xlabel("seconds since the opening")
    fig.tight_layout()
    fig.savefig(path)


def main() -> int:
    args = parse_args()
    env = environment(args)
    tmp = Path(tempfile.mkdtemp(prefix="vaxbook-bench-"))
    if args.find_rate:
        return find_rate(args, env, tmp)
    prepare(args, env)
    opening = opening_time(args)
    campaign = seed(args, opening)
    memory, page_cost, invalidation, cpu = {}, {}, {}, {}
    outcomes = replay_opening(
        args, env, tmp, campaign, opening, memory, page_cost, invalidation=invalidation, cpu=cpu
    )
    print("Confirm pipeline alone…")
    pipeline = confirm_pipeline(args, tmp, env)
    memory.update(pipeline.pop("memory"))
    print("pgbench…")
    ceiling = pgbench(args, tmp)
    report = build_report(args, outcomes, pipeline, ceiling, invariants())
    report["peak_rss"] = memory_report(memory)
    report["page_cost"] = page_cost
    report["config_invalidation"] = invalidation
    report["cpu_by_tier"] = cpu
    if args.queue_seconds:
        print("Waiting room status polls…")
        report["queue_status"] = queue_status_phase(args, env, tmp, report)
    stamp = write_results(report, outcomes)
    print_table(report, stamp)
    return verdict(report)


def queue_status_phase(args, env, tmp: Path, report: dict) -> dict:
    """The status poll's requests a second (0 database reads asserted) and people waiting per
    web core, for a line at the sustainable rate: the newest measured one (--find-rate) if a
    result has it, else what this run confirmed a minute, else --admission-per-minute."""
    from bench.queue_status import measure
    from vaxbook.planner.benchmark import MEASURED, latest_rate

    measured = latest_rate(RESULTS)
    if measured is not None and measured.source == MEASURED:
        per_minute, source = measured.per_minute, f"measured ({measured.result_file})"
    elif report["confirmed_per_s"]:
        per_minute, source = int(report["confirmed_per_s"] * 60), "this run's confirmed/s × 60"
    else:
        per_minute, source = args.admission_per_minute, "--admission-per-minute"
    result = measure(args, env, tmp, per_minute=per_minute, seconds=args.queue_seconds)
    return {**result, "line_rate_source": source}


def memory_report(memory: dict) -> dict:
    """Per server (web: gunicorn; celery: the surge's workers and beat; celery_pipeline: the
    pipeline measurement's worker): a summary and each process's peak RSS."""
    return {
        server: {**memory_summary(processes), "processes": processes}
        for server, processes in memory.items()
    }


# A step is answered in time when its p99 is under this (the waiting room's promise).
P99_LIMIT_MS = 1000


def find_rate(args, env, tmp: Path) -> int:
    """The highest admission rate a minute that passes `probe`: --rate-low, then doubling
    until a rate fails (or --rate-high passes), then bisecting between the highest passing
    and the lowest failing rate until they are within --rate-precision (or --max-probes)."""
    probes = []

    def passes(rate: int) -> bool:
        print(f"\nProbe {len(probes) + 1}: {rate} people a minute…")
        result = probe(args, env, tmp, rate)
        probes.append(result)
        print(
            f"  {'pass' if result['passed'] else 'FAIL'}: worst p99 {result['max_p99_ms']} ms "
            f"({result['worst_step']}); {result['why'] or 'all steps under 1 s'}; "
            f"arrival p99 (not judged) {result['arrival_p99_ms']}"
        )
        return result["passed"]

    low, high = max(1, args.rate_low), max(args.rate_low, args.rate_high)
    passing, failing = None, None
    if passes(low):
        passing, rate = low, low
        while len(probes) < args.max_probes:
            rate = min(rate * 2, high)
            if passes(rate):
                passing = rate
                if rate == high:
                    break
            else:
                failing = rate
                break
        while (
            failing is not None
            and len(probes) < args.max_probes
            and failing - passing > max(1, passing * args.rate_precision)
        ):
            middle = (passing + failing) // 2
            if passes(middle):
                passing = middle
            else:
                failing = middle
    else:
        failing = low
    report = rate_report(args, probes, passing, failing)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    (RESULTS / f"{stamp}.json").write_text(json.dumps(report, indent=2))
    print_rate(report, stamp)
    return 0 if passing is not None else 1


# The steps of a person's arrival (before the waiting room admits them): they take the whole
# crowd at once whatever the admission rate, so --find-rate reports them without judging by them.
ARRIVAL_STEPS = ("arrive", "queue_page", "queue_join")


def probe(args, env, tmp: Path, rate: int) -> dict:
    """One short opening at `rate` people a minute, on a fresh database and Redis db."""
    from django.apps import apps
    from django.db import connections

    if apps.ready:  # a probe before: its connections would keep the database from being dropped
        connections.close_all()
    settings = argparse.Namespace(
        **{**vars(args), "admission_per_minute": rate, "citizens": args.probe_citizens}
    )
    prepare(settings, env)
    opening = opening_time(settings)
    campaign = seed(settings, opening)
    memory = {}
    outcomes = replay_opening(settings, env, tmp, campaign, opening, memory)
    every = {step: percentiles(values) for step, values in step_timings(outcomes).items()}
    # The rate governs what comes after admission; the crowd's arrival (the same whatever the
    # rate) is reported apart, or a crowd too big for its spread would fail every rate.
    steps = {s: p for s, p in every.items() if s not in ARRIVAL_STEPS}
    worst = max(steps, key=lambda step: steps[step]["p99_ms"], default=None)
    worst_p99 = steps[worst]["p99_ms"] if worst else None
    results = Counter(o.result for o in outcomes)
    errors = error_counts(outcomes)
    retries = sum(o.retries for o in outcomes)
    broken = {k: v for k, v in invariants().items() if v}
    why = []
    if worst is None:
        why.append("no step measured")
    slow = {s: p["p99_ms"] for s, p in steps.items() if p["p99_ms"] >= P99_LIMIT_MS}
    if slow:
        why.append(f"p99 ≥ 1 s: {slow}")
    if errors:
        why.append(f"errors: {dict(errors)}")
    if retries:
        why.append(f"connections lost: {retries}")
    if results["error"] or results["unfinished"]:
        why.append(f"citizens not served: {results['error'] + results['unfinished']}")
    if broken:
        why.append(f"invariants broken: {broken}")
    return {
        "admission_per_minute": rate,
        "passed": not why,
        "max_p99_ms": worst_p99,
        "worst_step": worst,
        "why": "; ".join(why),
        "citizens": settings.citizens,
        "results": dict(results),
        "errors": dict(errors),
        "connection_retries": retries,
        "invariants_broken": broken,
        "steps_p99_ms": {s: p["p99_ms"] for s, p in sorted(steps.items())},
        "arrival_p99_ms": {s: every[s]["p99_ms"] for s in ARRIVAL_STEPS if s in every},
        "peak_rss_total_mb": {
            server: memory_summary(processes)["total_mb"] for server, processes in memory.items()
        },
    }


def rate_report(args, probes: list[dict], passing: int | None, failing: int | None) -> dict:
    """What bench/results/<stamp>.json holds after --find-rate (the capacity planner reads
    `sustainable_admission_per_minute` from the newest result that has it)."""
    from django.utils import timezone

    report = {
        "when": timezone.now().isoformat(),
        "mode": "find-rate",
        "machine": {"cores": CORES, "python": sys.version.split()[0]},
        "settings": {k: v for k, v in vars(args).items() if k not in ("database", "redis")},
        "p99_limit_ms": P99_LIMIT_MS,
        "lowest_failing_admission_per_minute": failing,
        "all_probes_passed": passing is not None and failing is None,
        "probes": probes,
    }
    if passing is not None:  # no key at all when even --rate-low failed: nothing to plan on
        report["sustainable_admission_per_minute"] = passing
    return report


def print_rate(r: dict, stamp: str) -> None:
    print(f"\nvaxbook bench --find-rate — {r['machine']['cores']} cores")
    print(f"  {'people/min':>10}{'max p99 ms':>12}  {'step':<15}result")
    for p in sorted(r["probes"], key=lambda p: p["admission_per_minute"]):
        print(
            f"  {p['admission_per_minute']:>10}{p['max_p99_ms'] or '':>12}  "
            f"{p['worst_step'] or '':<15}{'pass' if p['passed'] else 'fail: ' + p['why']}"
        )
    rate = r.get("sustainable_admission_per_minute")
    if rate is None:
        print(
            f"  Even {r['lowest_failing_admission_per_minute']} people per minute failed: "
            "no rate found (try a lower --rate-low)."
        )
    else:
        ceiling = " (the highest tried: it may take more)" if r["all_probes_passed"] else ""
        print(
            f"  Set the waiting room's admission rate to at most {rate} people per minute{ceiling}."
        )
    print(f"  written: bench/results/{stamp}.json")


def prepare(args, env) -> None:
    """A fresh database and Redis db, and Django set up on them in this process."""
    os.environ.update(env)
    RESULTS.mkdir(parents=True, exist_ok=True)
    reset_database(args, env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def opening_time(args):
    """Far enough ahead to seed and start the servers before it (more citizens, more lead)."""
    from django.utils import timezone

    lead = 20 + args.citizens / 100
    return (timezone.now() + timedelta(seconds=lead)).replace(microsecond=0)


def replay_opening(
    args,
    env,
    tmp: Path,
    campaign,
    opening,
    memory: dict | None = None,
    page_cost: dict | None = None,
    *,
    invalidation: dict | None = None,
    cpu: dict | None = None,
) -> list:
    """The citizens through the opening on the live servers, until the last is decided;
    `memory` gets the servers' peak RSS, `page_cost` (when given) what a booking page costs
    the web processes against the one-line view, measured on the same servers after the surge;
    `invalidation` (when given) when each node saw an official's rate change made during the
    surge (bench.invalidation); `cpu` (when given) the CPU each tier spent from the first
    citizen's start to the last decision, and per confirmed booking (bench.cpu)."""
    from bench.citizens import run_citizens
    from bench.pagecost import PAGE_CITIZENS, measure_page_cost

    checking = None
    if invalidation is not None:
        probe_campaign = seed_probe_campaign(opening)
    with servers(args, env, tmp, memory) as base:
        print(f"Opening at {opening:%H:%M:%S}; {args.citizens} citizens arrive around it…")
        if invalidation is not None:  # once the crowd has arrived
            after = opening.timestamp() - time.time() + args.spread + 1
            checking = Probe(base, node_urls(args), probe_campaign, delay=after)
            checking.start()
        meter = TierMeter()
        meter.start()
        started = time.time()
        outcomes = run_citizens(
            base,
            campaign.slug,
            opening.timestamp(),
            [rrn(n) for n in range(args.citizens)],
            args.spread,
            args.connections,
            args.load_processes,
        )
        if checking is not None:
            checking.join()
            invalidation.update(checking.result)
        wait_decided(campaign, 120)  # the last confirmations before the servers stop
        meter.stop()
        if cpu is not None:
            confirmed = sum(1 for o in outcomes if o.result == "confirmed")
            cpu.update(meter.result(per=confirmed, seconds=time.time() - started))
        if page_cost is not None:
            print("Page cost…")
            more = range(args.citizens, args.citizens + PAGE_CITIZENS)  # not booked yet
            page_cost.update(measure_page_cost(base, campaign.slug, [rrn(n) for n in more]))
            wait_decided(campaign, 120)
    return outcomes


def build_report(args, outcomes, pipeline: dict, ceiling: dict, broken: dict) -> dict:
    """What bench/results/<stamp>.json holds."""
    from django.utils import timezone

    results = Counter(o.result for o in outcomes)
    errors = error_counts(outcomes)
    span = opening_to_last_decision(outcomes)
    return {
        "when": timezone.now().isoformat(),
        "machine": {"cores": CORES, "python": sys.version.split()[0]},
        "settings": {k: v for k, v in vars(args).items() if k not in ("database", "redis")},
        "citizens": args.citizens,
        "results": dict(results),
        "confirmed_per_s": round(results["confirmed"] / span, 1) if span else 0,
        "surge_seconds_from_opening_to_last_decision": round(span, 1),
        "confirm_pipeline_per_s": pipeline["confirm_pipeline_per_s"],
        "pipeline": pipeline,
        "database_ceiling": ceiling,
        "fraction_of_database_ceiling": round(
            pipeline["confirm_pipeline_per_s"] / ceiling["pgbench_confirm_tps"], 3
        ),
        "steps": {
            step: percentiles(values) for step, values in sorted(step_timings(outcomes).items())
        },
        "errors": dict(errors),
        "http_5xx": sum(n for kind, n in errors.items() if ":5" in kind),  # "<step>:<status>"
        **connection_failures(outcomes),
        "web_nodes": node_usage(outcomes, args.web_nodes),
        **queue_waits(outcomes),
        "poll_requests_per_s": poll_rate(outcomes),
        "overbooked": broken["overbooked"],
        "lost": broken["lost"],
        "invariants": broken,
    }


def step_timings(outcomes) -> dict[str, list[float]]:
    timings = defaultdict(list)
    for o in outcomes:
        for t in o.timings:
            timings[t.step].append(t.ms)
    return timings


def connection_failures(outcomes) -> dict:
    """Requests whose connection was lost or that timed out (each is an error page), and those
    re-sent on a new connection after a kept-alive one closed under them (a browser does that
    silently; the bench still fails on any: it means the server closed a connection a client
    was about to use)."""
    errors = error_counts(outcomes)
    return {
        "connections_dropped": sum(n for kind, n in errors.items() if kind.endswith(":dropped")),
        "timeouts": sum(n for kind, n in errors.items() if kind.endswith(":timeout")),
        "connection_retries": sum(o.retries for o in outcomes),
    }


def node_usage(outcomes, nodes: int) -> dict:
    """How the balancer spread the citizens' requests: per node, and how many citizens' steps
    were answered by more than one node (by the balancer's header; empty with one node)."""
    per_node = Counter()
    spread = Counter()
    for o in outcomes:
        per_node.update(o.nodes)
        spread[len(o.nodes)] += 1
    return {
        "nodes": nodes,
        "requests_per_node": dict(sorted(per_node.items())),
        "citizens_by_nodes_used": {str(k): v for k, v in sorted(spread.items())},
        "citizens_on_every_node": spread[nodes] if nodes > 1 else None,
    }


def error_counts(outcomes) -> Counter:
    errors = Counter()
    for o in outcomes:
        errors.update(o.errors)
    return errors


def opening_to_last_decision(outcomes) -> float:
    return max((o.decided_at for o in outcomes if o.decided_at is not None), default=0)


def queue_waits(outcomes) -> dict:
    waits = sorted(o.queue_wait_s for o in outcomes if o.queue_wait_s is not None)
    if not waits:  # no waiting room at this opening
        return {"queue_wait_p50_s": None, "queue_wait_p99_s": None}
    return {
        "queue_wait_p50_s": round(nearest_rank(waits, 0.50), 2),
        "queue_wait_p99_s": round(nearest_rank(waits, 0.99), 2),
    }


def poll_rate(outcomes) -> float:
    """Queue polls per second, over the time the citizens were polling."""
    started = [t.started for o in outcomes for t in o.timings if t.step == "queue_poll"]
    span = (max(started) - min(started) if started else 0) or 1
    return round(len(started) / span, 1)


def write_results(report: dict, outcomes) -> str:
    """bench/results/<stamp>.json and .png; returns the stamp."""
    stamp = time.strftime("%Y%m%dT%H%M%S")
    (RESULTS / f"{stamp}.json").write_text(json.dumps(report, indent=2))
    chart(outcomes, RESULTS / f"{stamp}.png")
    return stamp


def failures(report: dict) -> dict:
    """What makes a run fail, by name (empty: it passed)."""
    results = report["results"]
    found = {
        "invariants_broken": {k: v for k, v in report["invariants"].items() if v},
        "http_5xx": report["http_5xx"],
        "connections_dropped": report["connections_dropped"],
        "timeouts": report["timeouts"],
        "connection_retries": report["connection_retries"],
        "citizens_not_served": results.get("error", 0) + results.get("unfinished", 0),
        "config_change_not_seen_within_bound": report.get("config_invalidation", {}).get(
            "within_bound"
        )
        is False,
        "queue_status_database_reads": report.get("queue_status", {}).get(
            "database_table_reads", 0
        ),
        "queue_status_non_2xx": report.get("queue_status", {}).get("non_2xx", 0),
    }
    return {name: value for name, value in found.items() if value}


def verdict(report: dict) -> int:
    """The exit status: 1 when an invariant is broken, the site answered a 5xx, a connection
    was dropped (or re-sent after a kept-alive one closed), a request timed out or a citizen
    was not served to the end."""
    failed = failures(report)
    if failed:
        print(f"FAILED: {failed}", file=sys.stderr)
        return 1
    return 0


def print_table(r: dict, stamp: str) -> None:
    print(
        f"\nvaxbook bench — {r['machine']['cores']} cores, {r['citizens']} citizens: {r['results']}"
    )
    print(
        f"  end to end: {r['confirmed_per_s']} confirmed/s "
        f"(opening → last decision {r['surge_seconds_from_opening_to_last_decision']} s)"
    )
    print(
        f"  confirm pipeline: {r['confirm_pipeline_per_s']}/s; PostgreSQL ceiling (pgbench, "
        f"same transaction): {r['database_ceiling']['pgbench_confirm_tps']} tps → "
        f"{r['fraction_of_database_ceiling']:.0%}"
    )
    print(
        f"  queue: wait p50 {r['queue_wait_p50_s']} s, p99 {r['queue_wait_p99_s']} s; "
        f"polls {r['poll_requests_per_s']}/s"
    )
    print(f"  {'step':<15}{'n':>7}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}")
    for step, p in r["steps"].items():
        print(
            f"  {step:<15}{p['n']:>7}{p.get('p50_ms', ''):>10}{p.get('p95_ms', ''):>10}"
            f"{p.get('p99_ms', ''):>10}"
        )
    print(
        f"  errors: {r['errors'] or 'none'}; connections dropped {r['connections_dropped']}, "
        f"timeouts {r['timeouts']}, re-sent after a kept-alive connection closed "
        f"{r['connection_retries']}; overbooked {r['overbooked']}; lost {r['lost']}; "
        f"invariants {r['invariants']}"
    )
    nodes = r["web_nodes"]
    if nodes["nodes"] > 1:
        print(
            f"  web nodes: {nodes['nodes']} behind HAProxy; requests per node "
            f"{nodes['requests_per_node']}; citizens served by every node "
            f"{nodes['citizens_on_every_node']} of {r['citizens']}"
        )
    if change := r.get("config_invalidation"):
        late = (
            "" if change["within_bound"] else " — NOT WITHIN THE BOUND " + change.get("error", "")
        )
        print(
            f"  a rate changed by an official during the surge, asked of each node (bound "
            f"{change['bound_s']} s): old when sent at {change.get('still_old_when_sent_s')} s, "
            f"new when answered at {change.get('new_when_answered_s')} s{late}"
        )
    if q := r.get("queue_status"):
        print(
            f"  queue status poll: {q['requests_per_s']} req/s ({q['requests_per_s_per_core']} "
            f"per core, {q['server']}, wrk {q['wrk']}), p99 {q['p99_ms']} ms, database table "
            f"reads {q['database_table_reads']}; a poll every {q['mean_seconds_between_polls']} s "
            f"in a line of a million at {q['line_admission_per_minute']}/min "
            f"({q['line_rate_source']}) → {q['people_waiting_per_core']:,} people waiting per "
            f"web core, a million on {q['cores_for_a_million_waiting']} cores (target ≤ 8)"
        )
    if c := r.get("cpu_by_tier"):
        tiers = ", ".join(
            f"{tier} {t['ms_per_booking']} ms ({t['share']:.0%})"
            for tier, t in sorted(c["tiers"].items(), key=lambda item: -item[1]["cpu_s"])
            if t["share"] is not None
        )
        print(
            f"  CPU per confirmed booking ({c['machine_busy_cpu_s']} CPU-s busy from the "
            f"citizens' start, before the opening, to the last decision): {tiers}"
        )
    print(f"  verdict: {'FAIL ' + str(failures(r)) if failures(r) else 'pass'}")
    if r.get("page_cost"):
        print_page_cost(r["page_cost"])
    for server, m in r.get("peak_rss", {}).items():
        print(
            f"  peak RSS {server}: main {m['main_mb']} MB, {m['children']} children max "
            f"{m['child_max_mb']} MB (sum {m['child_sum_mb']}), total {m['total_mb']} MB"
        )
    print(f"  written: bench/results/{stamp}.json and .png")


if __name__ == "__main__":
    sys.exit(main())
