"""Are the components vaxbook needs reachable? The checks behind /healthz and ``vaxbook_up``.

Each check opens a connection of its own, built from the settings *at call time*
(``DATABASES["default"]``, the Redis cache's ``CACHES`` location, ``CELERY_BROKER_URL``), with
``VAXBOOK_HEALTH_TIMEOUT`` (at most 2 s), and closes it. Not Django's own database connection
nor the cache's client: those have no timeout of their own (a check must never hang a load
balancer's probe), and a fresh connection also proves the database still accepts new sessions
(a full ``max_connections`` is a real way to be down). The cost is a connection per check, a
few milliseconds of a PostgreSQL backend's start, every few seconds per load balancer.

The three run at once, each in a thread, and the caller waits at most the timeout and a half:
a check still running then (a connection that hangs after it opened) counts as down.
"""

import contextlib
import logging
import math
import sqlite3
from concurrent.futures import ThreadPoolExecutor, wait

import psycopg2
import redis
from django.conf import settings

logger = logging.getLogger(__name__)

OK = "ok"
EMBEDDED = "embedded"  # in-process in the embedded default (make run): nothing to reach
DOWN = "down"
COMPONENTS = ("database", "redis", "broker")


def _timeout() -> float:
    return float(settings.VAXBOOK_HEALTH_TIMEOUT)


def check_database() -> str:
    params = settings.DATABASES["default"]
    if params["ENGINE"] == "django.db.backends.sqlite3":
        # Read-only: a check must not create the database file where there is none.
        uri = f"file:{params['NAME']}?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=_timeout())) as db:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return OK
    timeout = _timeout()
    connection = psycopg2.connect(
        host=params.get("HOST") or None,
        port=params.get("PORT") or None,
        dbname=params["NAME"],
        user=params.get("USER") or None,
        password=params.get("PASSWORD") or None,
        # libpq counts whole seconds, two at least.
        connect_timeout=max(2, math.ceil(timeout)),
        options=f"-c statement_timeout={int(timeout * 1000)}",
        application_name="vaxbook-health",
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        connection.close()
    return OK


def _ping_redis(url: str) -> str:
    client = redis.Redis.from_url(
        url, socket_timeout=_timeout(), socket_connect_timeout=_timeout(), retry_on_timeout=False
    )
    try:
        client.ping()
    finally:
        client.close()
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


def check_all() -> dict[str, str]:
    """``{"database": "ok"|"embedded"|"down", "redis": ..., "broker": ...}`` within about
    ``VAXBOOK_HEALTH_TIMEOUT`` × 1.5 seconds, whatever the components do."""
    pool = ThreadPoolExecutor(max_workers=len(CHECKS), thread_name_prefix="vaxbook-health")
    futures = {name: pool.submit(_run, check) for name, check in CHECKS.items()}
    wait(futures.values(), timeout=_timeout() * 1.5)
    # A hung check's thread ends by its own socket timeout; nobody waits for it.
    pool.shutdown(wait=False, cancel_futures=True)
    return {name: future.result() if future.done() else DOWN for name, future in futures.items()}


def is_up(state: str) -> bool:
    return state in (OK, EMBEDDED)
