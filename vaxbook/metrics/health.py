"""Are the components vaxbook needs reachable? The checks behind /healthz and ``vaxbook_up``.

Each check opens a connection of its own, built from the settings *at call time*
(``DATABASES["default"]``, the Redis cache's ``CACHES`` location, ``CELERY_BROKER_URL``), and
closes it; each, as a whole, gives up after ``VAXBOOK_HEALTH_TIMEOUT`` (at most 2 s), on the
client side: connecting, the query and the answer, however the other end behaves (refusing,
hanging before or after the connection is made). Not Django's own database connection nor the
cache's client: those have no timeout of their own (a check must never hang a load balancer's
probe), and a fresh connection also proves the database still accepts new sessions (a full
``max_connections`` is a real way to be down).

The three run at once, each in a thread, and the caller waits at most the timeout and a half
(a check still running then counts as down); a check's thread ends within the timeout, so none
is left behind a probe.

/healthz needs no token, so anyone can call it: the result is reused, per process, for
``VAXBOOK_HEALTH_CACHE_SECONDS`` (1 s), and a request that comes while a check is running waits
for it and shares its result (one check at a time per process). A flood of probes thus costs
the database at most one session per process per second; a component down for longer than that
shows as down.
"""

import asyncio
import contextlib
import logging
import select
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass

import psycopg2
import redis.asyncio
from django.conf import settings
from psycopg2.extensions import POLL_OK, POLL_WRITE
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

logger = logging.getLogger(__name__)

OK = "ok"
EMBEDDED = "embedded"  # in-process in the embedded default (make run): nothing to reach
DOWN = "down"
COMPONENTS = ("database", "redis", "broker")


def _timeout() -> float:
    return float(settings.VAXBOOK_HEALTH_TIMEOUT)


def _wait_for(connection, deadline: float) -> None:
    """Drive an asynchronous psycopg2 connection until its current step is done, giving up at
    ``deadline`` (``time.monotonic()``): libpq's own ``connect_timeout`` covers connecting only,
    and ``statement_timeout`` needs a server that hears the query."""
    while (state := connection.poll()) != POLL_OK:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the database did not answer within the health check's timeout")
        # poll(), not select(): a busy server process may have descriptors above FD_SETSIZE.
        waiting = select.poll()
        waiting.register(
            connection.fileno(), select.POLLOUT if state == POLL_WRITE else select.POLLIN
        )
        waiting.poll(max(1, int(remaining * 1000)))


def check_database() -> str:
    params = settings.DATABASES["default"]
    timeout = _timeout()
    if params["ENGINE"] == "django.db.backends.sqlite3":
        # Read-only: a check must not create the database file where there is none.
        uri = f"file:{params['NAME']}?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=timeout)) as db:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return OK
    deadline = time.monotonic() + timeout
    connection = psycopg2.connect(
        host=params.get("HOST") or None,
        port=params.get("PORT") or None,
        dbname=params["NAME"],
        user=params.get("USER") or None,
        password=params.get("PASSWORD") or None,
        options=f"-c statement_timeout={int(timeout * 1000)}",
        application_name="vaxbook-health",
        async_=True,  # every step polled against the deadline, in this thread
    )
    try:
        _wait_for(connection, deadline)
        cursor = connection.cursor()
        cursor.execute("SELECT 1")
        _wait_for(connection, deadline)
        cursor.fetchone()
    finally:
        connection.close()
    return OK


def _ping_redis(url: str) -> str:
    timeout = _timeout()

    async def ping() -> None:
        client = redis.asyncio.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            driver_info=None,  # no CLIENT SETINFO: a command less
        )
        try:
            # The whole check, however many round trips it takes, within the timeout.
            await asyncio.wait_for(client.ping(), timeout)
        finally:
            await client.aclose()

    asyncio.run(ping())
    return OK


def cache_redis_url() -> str | None:
    """The Redis the cache (and the sessions, the waiting room) uses; None without one."""
    cache = settings.CACHES["default"]
    if "redis" not in cache["BACKEND"].lower():
        return None
    location = cache["LOCATION"]
    return location[0] if isinstance(location, list | tuple) else location


def check_redis() -> str:
    url = cache_redis_url()
    return _ping_redis(url) if url else EMBEDDED


def check_broker() -> str:
    url = settings.CELERY_BROKER_URL
    if url.startswith("memory://"):
        return EMBEDDED
    return _ping_redis(url)


CHECKS = {"database": check_database, "redis": check_redis, "broker": check_broker}


def _run(check) -> str:
    try:
        return check()
    except Exception as error:  # noqa: BLE001 - any failure to reach it means down
        logger.debug("health check %s failed: %s", check.__name__, error)
        return DOWN


def _check_all_now() -> dict[str, str]:
    pool = ThreadPoolExecutor(max_workers=len(CHECKS), thread_name_prefix="vaxbook-health")
    futures = {name: pool.submit(_run, check) for name, check in CHECKS.items()}
    wait(futures.values(), timeout=_timeout() * 1.5)
    # Each check ends by its own deadline (the timeout); nobody waits for a late one.
    pool.shutdown(wait=False, cancel_futures=True)
    return {name: future.result() if future.done() else DOWN for name, future in futures.items()}


@dataclass(frozen=True)
class _Result:
    targets: tuple  # what was checked: another configuration (a test's) is checked anew
    finished: float  # time.monotonic()
    checks: dict[str, str]


_latest: _Result | None = None
_one_at_a_time = threading.Lock()


def _targets() -> tuple:
    database = settings.DATABASES["default"]
    return (
        database["ENGINE"],
        database.get("HOST"),
        str(database.get("PORT")),
        database["NAME"],
        database.get("USER"),
        cache_redis_url(),
        settings.CELERY_BROKER_URL,
        _timeout(),
    )


def check_all() -> dict[str, str]:
    """``{"database": "ok"|"embedded"|"down", "redis": ..., "broker": ...}`` within about
    ``VAXBOOK_HEALTH_TIMEOUT`` × 1.5 seconds, whatever the components do.

    The result of a check finished less than ``VAXBOOK_HEALTH_CACHE_SECONDS`` ago, or of the
    one running when the call came (it waits for it), is reused: one check at a time per
    process."""
    global _latest
    arrived = time.monotonic()
    targets = _targets()
    lifetime = float(settings.VAXBOOK_HEALTH_CACHE_SECONDS)
    with _one_at_a_time:
        latest = _latest
        if (
            latest is not None
            and latest.targets == targets
            and (latest.finished >= arrived or time.monotonic() - latest.finished < lifetime)
        ):
            return dict(latest.checks)
        checks = _check_all_now()
        _latest = _Result(targets, time.monotonic(), checks)
        return dict(checks)


def forget_latest() -> None:
    """Check anew at the next call (the tests, between two configurations)."""
    global _latest
    with _one_at_a_time:
        _latest = None


def is_up(state: str) -> bool:
    return state in (OK, EMBEDDED)
