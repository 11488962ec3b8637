"""The confirm pipeline alone (pending bookings decided by the workers as fast as they can)
and PostgreSQL's own ceiling for the confirm transaction (pgbench)."""

import subprocess
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

from bench.servers import CORES, celery_worker, peak_rss, start, stop


def wait_decided(campaign, seconds: float) -> float:
    from bookings.models import Booking

    end = time.time() + seconds
    while time.time() < end:
        if not Booking.objects.filter(campaign=campaign, status="pending").exists():
            return time.time()
        time.sleep(0.05)
    return time.time()


def confirm_pipeline(args, tmp: Path, env) -> dict:
    """N pending bookings, each announced to the workers the way the app does it once a
    booking is committed (``_enqueue_confirmation``: a task, unless one already queued will
    take it in its batch), as fast as possible; timed from the first until every one is
    decided."""
    from bookings.models import Booking
    from bookings.services import _enqueue_confirmation

    campaign, bookings = pending_bookings(args)
    worker = start(celery_worker(args), env, tmp / "pipeline-worker.log")
    time.sleep(4)  # the worker boots before the clock starts
    memory = {}
    began = time.time()
    for booking in bookings:
        _enqueue_confirmation(booking.pk)
    published = time.time()
    finished = wait_decided(campaign, 300)
    memory["celery_pipeline"] = peak_rss(worker.pid)
    stop(worker)
    decided = Booking.objects.filter(campaign=campaign).exclude(status="pending").count()
    return {
        "bookings": args.pipeline_bookings,
        "decided": decided,
        "publish_s": round(published - began, 2),
        "confirm_pipeline_per_s": round(decided / (finished - began), 1),
        "memory": memory,
    }


def pending_bookings(args) -> tuple:
    """An open campaign with --pipeline-bookings pending bookings over up to 200 clinics'
    slots (one each, tomorrow, room for --capacity × 4)."""
    from django.utils import timezone

    from bookings.identity import encrypt_rrn, parse_rrn, rrn_hmac
    from bookings.models import Booking
    from campaigns.models import Campaign
    from clinics.models import Clinic, Slot

    now = timezone.now()
    campaign = Campaign.objects.create(
        name="Pipeline",
        slug="pipeline",
        born_from="1962-01-01",
        born_to="1966-12-31",
        opens_at=now - timedelta(minutes=1),
        closes_at=now + timedelta(hours=2),
    )
    slots = Slot.objects.bulk_create(
        Slot(
            clinic=clinic,
            campaign=campaign,
            date=timezone.localdate() + timedelta(days=1),
            start_time="10:00",
            capacity=args.capacity * 4,
        )
        for clinic in Clinic.objects.all()[:200]
    )
    sample = parse_rrn("620101-1000000")  # bench.run.rrn(0): one person, many HMACs
    token = encrypt_rrn(sample)
    bookings = Booking.objects.bulk_create(
        Booking(
            campaign=campaign,
            slot=slots[n % len(slots)],
            name=f"P{n}",
            phone="010-0000-0000",
            birth_date=sample.birth_date,
            rrn_gender_digit="1",
            rrn_hmac=f"{rrn_hmac(sample)[:48]}{n:016d}",
            rrn_encrypted=token,
            requested_at=now,
        )
        for n in range(args.pipeline_bookings)
    )
    return campaign, bookings


PGBENCH_SCHEMA = """
DROP TABLE IF EXISTS bench_booking; DROP TABLE IF EXISTS bench_slot;
CREATE TABLE bench_slot (id int PRIMARY KEY, booked int NOT NULL, capacity int NOT NULL,
  CHECK (booked <= capacity));
CREATE TABLE bench_booking (id bigserial PRIMARY KEY, slot_id int NOT NULL REFERENCES bench_slot,
  status varchar(10) NOT NULL, code varchar(12) UNIQUE, requested_at timestamptz NOT NULL);
INSERT INTO bench_slot SELECT g, 0, 1000000000 FROM generate_series(1, 40000) g;
"""


PGBENCH_SCRIPT = """\\set id random(1, 40000)
BEGIN;
INSERT INTO bench_booking (slot_id, status, requested_at) VALUES (:id, 'pending', now());
UPDATE bench_slot SET booked = booked + 1 WHERE id = :id AND booked < capacity;
UPDATE bench_booking SET status = 'confirmed', code = substr(md5(random()::text), 1, 8)
  WHERE id = currval('bench_booking_id_seq');
END;
"""


def pgbench(args, tmp: Path) -> dict:
    """PostgreSQL's ceiling for the confirm transaction: insert the booking, take the place
    with the conditional update, mark it confirmed."""
    url = urlparse(args.database)
    conn = ["-h", url.hostname or "127.0.0.1", "-U", url.username or "postgres"]
    name = url.path.lstrip("/")
    subprocess.run(["psql", *conn, "-q", "-d", name, "-c", PGBENCH_SCHEMA], check=True)
    script = tmp / "confirm.sql"
    script.write_text(PGBENCH_SCRIPT)
    out = subprocess.run(
        [
            "pgbench",
            *conn,
            "-n",
            "-c",
            str(CORES * 4),
            "-j",
            str(CORES),
            "-T",
            "10",
            "-f",
            str(script),
            name,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    tps = next(float(line.split("=")[1].split()[0]) for line in out.splitlines() if "tps" in line)
    subprocess.run(
        ["psql", *conn, "-q", "-d", name, "-c", "DROP TABLE bench_booking; DROP TABLE bench_slot;"],
        check=True,
    )
    return {"pgbench_confirm_tps": round(tps, 1), "clients": CORES * 4}


def main() -> None:
    """The confirm pipeline and pgbench alone, without the opening (``python -m bench.pipeline``
    with bench.run's options): quicker to repeat while working on the workers."""
    import json
    import tempfile

    from bench.run import environment, parse_args, prepare, seed_clinics

    args = parse_args()
    env = environment(args)
    tmp = Path(tempfile.mkdtemp(prefix="vaxbook-pipeline-"))
    prepare(args, env)
    seed_clinics(args)
    result = confirm_pipeline(args, tmp, env)
    result.update(pgbench(args, tmp))
    result["ratio"] = round(result["confirm_pipeline_per_s"] / result["pgbench_confirm_tps"], 3)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
