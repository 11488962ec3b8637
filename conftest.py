"""Test set-up: the real PostgreSQL and Redis, or a clear message saying how to start them."""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from urllib.parse import urlparse

import pytest


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=3
        ):
            return True
    except OSError:
        return False


def pytest_configure(config):
    database_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    problems = []
    if not database_url.startswith(("postgres://", "postgresql://")):
        problems.append(
            "DATABASE_URL must point at PostgreSQL (the concurrency tests need it); "
            "run the suite with `make test`."
        )
    elif not _reachable(database_url, 5432):
        problems.append(
            f"PostgreSQL is not reachable at {urlparse(database_url).netloc}. Start it with:\n"
            "    pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
        )
    if not redis_url.startswith("redis://"):
        problems.append("REDIS_URL must point at Redis; run the suite with `make test`.")
    elif not _reachable(redis_url, 6379):
        problems.append(
            f"Redis is not reachable at {urlparse(redis_url).netloc}. Start it with:\n"
            "    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save ''"
        )
    if problems:
        pytest.exit(
            "vaxbook tests need the real services:\n- " + "\n- ".join(problems), returncode=3
        )


@pytest.fixture(autouse=True)
def _fresh_cache():
    from django.core.cache import cache

    from campaigns import waiting_room

    cache.clear()
    waiting_room.forget_held_configs()
    yield


@pytest.fixture
def official(db):
    """A test client logged in as an official (the Officials group, staff; no superuser)."""
    from django.test import Client

    from clinics.tests.factories import UserFactory
    from vaxbook.roles import OFFICIALS, ensure_roles

    user = UserFactory(is_staff=True)
    user.groups.add(ensure_roles()[OFFICIALS])
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def broker():
    """The real Redis broker (a redis-py client on it), its queues emptied before and after
    the test."""
    import redis

    from vaxbook.celery import app

    app.control.purge()
    with redis.Redis.from_url(app.conf.broker_url) as connection:
        yield connection
    app.control.purge()


@pytest.fixture
def start_worker():
    """Starts real Celery worker processes on the test database and the real Redis broker;
    they are stopped after the test.

    ``start(**env)``: upper-case keywords are extra environment variables for the worker
    (``REDIS_URL=...`` points it at another broker). Lower-case keywords are options:
    ``pool`` (``"solo"``, or ``"prefork"`` with ``concurrency``) and ``beat=True`` to run
    Celery beat inside it (``-B``, the sweeps). Each worker leads its own process group
    (``os.killpg(worker.pid, ...)`` reaches its pool processes and beat too); its output goes
    to ``worker.log_path``.
    """
    from django.conf import settings
    from django.db import connection

    from vaxbook.celery import app

    app.control.purge()
    processes = []
    scratch = tempfile.mkdtemp(prefix="vaxbook-worker-")

    def start(
        *, pool: str = "solo", concurrency: int | None = None, beat: bool = False, **extra_env: str
    ) -> subprocess.Popen:
        base = settings.DATABASE_URL.rsplit("/", 1)[0]
        env = {
            **os.environ,
            "DATABASE_URL": f"{base}/{connection.settings_dict['NAME']}",
            "REDIS_URL": settings.REDIS_URL,
            **extra_env,
        }
        command = [sys.executable, "-m", "celery", "-A", "vaxbook", "worker", f"--pool={pool}"]
        command += ["--without-gossip", "--without-mingle", "--loglevel=INFO"]
        if concurrency is not None:
            command.append(f"--concurrency={concurrency}")
        if beat:
            # Its schedule file in a scratch folder, not in the working tree.
            command += ["--beat", f"--schedule={scratch}/beat-{len(processes)}"]
        # A file, not a pipe: an unread pipe fills up and stalls a chatty worker.
        log_fd, log_path = tempfile.mkstemp(prefix="vaxbook-worker-", suffix=".log")
        process = subprocess.Popen(  # noqa: S603 - our own worker command, no outside input
            command,
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log_fd,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        os.close(log_fd)
        process.log_path = log_path
        processes.append(process)
        return process

    yield start
    for process in processes:
        process.terminate()  # a warm shutdown: the worker stops its pool and beat itself
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        # Whatever of its group outlived it (a killed worker's pool processes, say).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture(autouse=True)
def _quick_proof_of_work(settings):
    """Joining the waiting room costs a real ALTCHA proof of work in every test, made cheap
    (one PBKDF2 iteration a try) so the suite solves hundreds of them; the browser test sets
    its own, higher cost."""
    settings.VAXBOOK_QUEUE_POW_COST = 1


@pytest.fixture
def away_from_midnight():
    """Today's noon in Korea, the clock running from there: for tests that set up today's
    bookings and then have the code judge "today", which across midnight KST is yesterday."""
    from bookings.tests.clock import midday_in_korea

    with midday_in_korea():
        yield


@pytest.fixture
def one_limits_window():
    """All of a test's attempts in one window of the abuse limits, which count per fixed
    window: attempts straddling a window's end would be counted in two and none refused."""
    from bookings.tests.clock import start_of_the_limits_windows

    with start_of_the_limits_windows():
        yield
