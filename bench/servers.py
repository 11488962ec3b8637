"""The servers a bench run starts on this machine (gunicorn, Celery, HAProxy in front of
several web nodes) and what it reads off their processes (peak memory), shared by `bench.run`
and `bench.queue_status`."""

import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench import balancer
from bench.balancer import WEB_KEEPALIVE_BEHIND_BALANCER_S

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


# The web servers the bench can run (--server), all on the same WSGI application
# (vaxbook.wsgi) with --web-workers processes: gunicorn's threaded workers (--web-threads
# each), its sync workers (one request at a time each, no keep-alive), or granian (a Rust HTTP
# server; --web-threads blocking threads run the Python application in each worker).
SERVERS = ("gthread", "sync", "granian")


def web_command(args, port: int, keepalive: int | None = None) -> list[str]:
    """One web server process on 127.0.0.1:`port`, of the kind --server names. `keepalive`:
    seconds an idle client connection is kept (behind the balancer: longer than it pools
    them); None leaves the server's default (granian keeps idle connections open as long as
    the client does, so it needs none)."""
    server = getattr(args, "server", "gthread")
    if server == "granian":
        return [
            PY,
            "-m",
            "granian",
            "--interface",
            "wsgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(args.web_workers),
            "--blocking-threads",
            str(args.web_threads),
            "--log-level",
            "warning",
            "--no-access-log",
            "vaxbook.wsgi:application",
        ]
    command = [PY, "-m", "gunicorn", "vaxbook.wsgi", "-w", str(args.web_workers)]
    if server == "gthread":
        command += ["-k", "gthread", "--threads", str(args.web_threads)]
    else:
        command += ["-k", "sync"]
    command += ["-b", f"127.0.0.1:{port}", "--log-level", "warning"]
    if keepalive is not None:
        command += ["--keep-alive", str(keepalive)]
    return command


def gunicorn(args) -> list[str]:
    return web_command(args, args.port)


def node_urls(args) -> dict[str, str]:
    """Each web node's own address (not the balancer's), by name."""
    return {name: f"http://127.0.0.1:{port}" for name, port in node_ports(args).items()}


def node_ports(args) -> dict[str, int]:
    """The web nodes' names and ports: with one node, --port itself; with several, the balancer
    takes --port and the nodes the ports after it (node1 on --port + 1, …)."""
    nodes = getattr(args, "web_nodes", 1)
    if nodes <= 1:
        return {"web": args.port}
    return {f"node{n}": args.port + n for n in range(1, nodes + 1)}


@contextmanager
def servers(args, env, tmp: Path, memory: dict | None = None) -> Iterator[str]:
    """Celery (workers and beat) and the web nodes (--web-nodes, behind HAProxy when more than
    one), up until the block ends; yields the site's address once it and every node answer.
    `memory` gets the peak RSS of their processes before they stop: "web" for a single node,
    else each node under its name ("node1", …) and "balancer"."""
    nodes = node_ports(args)
    started: dict[str, subprocess.Popen] = {
        "celery": start(
            celery_worker(args, "-B", f"--schedule={tmp / 'beat-schedule'}"),
            env,
            tmp / "worker.log",
        )
    }
    try:
        if len(nodes) == 1:
            command = web_command(args, args.port, keepalive=getattr(args, "web_keepalive", None))
            started["web"] = start(command, env, tmp / "gunicorn.log")
        else:
            for name, port in nodes.items():
                command = web_command(args, port, keepalive=WEB_KEEPALIVE_BEHIND_BALANCER_S)
                started[name] = start(command, env, tmp / f"{name}.log")
            started["balancer"] = balancer.start(args.port, nodes, tmp)
        for name, port in nodes.items():
            wait_http(f"http://127.0.0.1:{port}/", process=started[name])
        base = f"http://127.0.0.1:{args.port}"
        wait_http(base + "/", process=started.get("balancer"))
        yield base
    finally:
        if memory is not None:
            for name, process in started.items():
                memory[name] = peak_rss(process.pid)
        for process in reversed(started.values()):
            stop(process)


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


def wait_http(url: str, seconds: float = 30, process: subprocess.Popen | None = None) -> None:
    """Until `url` answers; an error at once if `process` (what serves it) has ended."""
    from urllib.request import urlopen

    end = time.time() + seconds
    while time.time() < end:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{url}: its server ended (exit status {process.returncode})")
        try:
            with urlopen(url, timeout=2):  # noqa: S310 - our own server on 127.0.0.1
                return
        except OSError:  # not listening yet, still booting (a timeout), or an error page
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")
