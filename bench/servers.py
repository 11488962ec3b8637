"""The servers a bench run starts on this machine (gunicorn, Celery) and what it reads off
their processes (peak memory), shared by `bench.run` and `bench.queue_status`."""

import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
CORES = os.cpu_count() or 1


def start(command, env, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def celery_worker(args, *extra: str) -> list[str]:
    return [
        PY,
        "-m",
        "celery",
        "-A",
        "vaxbook",
        "worker",
        *extra,
        f"--concurrency={args.celery_concurrency}",
        "--loglevel=WARNING",
        "--without-gossip",
        "--without-mingle",
    ]


def gunicorn(args) -> list[str]:
    return [
        PY,
        "-m",
        "gunicorn",
        "vaxbook.wsgi",
        "-w",
        str(args.web_workers),
        "-k",
        "gthread",
        "--threads",
        str(args.web_threads),
        "-b",
        f"127.0.0.1:{args.port}",
        "--log-level",
        "warning",
    ]


@contextmanager
def servers(args, env, tmp: Path, memory: dict | None = None) -> Iterator[str]:
    """Celery (workers and beat) and gunicorn, up until the block ends; yields the site's
    address once it answers. `memory` gets the peak RSS of their processes before they stop."""
    workers = start(
        celery_worker(args, "-B", f"--schedule={tmp / 'beat-schedule'}"),
        env,
        tmp / "worker.log",
    )
    web = start(gunicorn(args), env, tmp / "gunicorn.log")
    base = f"http://127.0.0.1:{args.port}"
    try:
        wait_http(base + "/")
        yield base
    finally:
        if memory is not None:
            memory["web"] = peak_rss(web.pid)
            memory["celery"] = peak_rss(workers.pid)
        stop(web)
        stop(workers)


def process_tree(root: int) -> list[int]:
    """`root` and its descendants (from /proc), root first."""
    children = defaultdict(list)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):  # gone meanwhile
            continue
        children[int(fields[1])].append(int(stat.parent.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop(0)
        tree.append(pid)
        todo.extend(sorted(children.get(pid, ())))
    return tree


def peak_rss(root: int) -> list[dict]:
    """The peak resident memory (VmHWM, MB) of each process of `root`'s tree, root first:
    the gunicorn master then its workers; the Celery main process then its pool (and beat)."""
    found = []
    for pid in process_tree(root):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if "VmHWM" not in fields:  # a zombie
            continue
        found.append(
            {
                "pid": pid,
                "role": "main" if pid == root else "child",
                "name": fields["Name"].strip(),
                "command": " ".join(part.decode(errors="replace") for part in cmdline[:4]),
                "peak_rss_mb": round(int(fields["VmHWM"].split()[0]) / 1024, 1),
            }
        )
    return found


def memory_summary(processes: list[dict]) -> dict:
    """The main process's peak and its children's (largest, sum), MB."""
    main = [p["peak_rss_mb"] for p in processes if p["role"] == "main"]
    children = [p["peak_rss_mb"] for p in processes if p["role"] == "child"]
    return {
        "main_mb": main[0] if main else None,
        "children": len(children),
        "child_max_mb": max(children, default=None),
        "child_sum_mb": round(sum(children), 1),
        "total_mb": round(sum(main) + sum(children), 1),
    }


def stop(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(process.pid, signal.SIGKILL)


def wait_http(url: str, seconds: float = 30) -> None:
    from urllib.request import urlopen

    end = time.time() + seconds
    while time.time() < end:
        try:
            with urlopen(url, timeout=2):  # noqa: S310 - our own server on 127.0.0.1
                return
        except OSError:  # not listening yet, still booting (a timeout), or an error page
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")
