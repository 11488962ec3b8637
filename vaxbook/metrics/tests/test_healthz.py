"""/healthz for load balancers: 200 when the database, Redis and the broker answer, 503 naming
the one that does not, each taken down for real (a TCP proxy in front of PostgreSQL stopped,
stalled or silent after connecting, a redis-server of the test's own shut down), within the
checks' short timeouts; what a flood of anonymous probes costs the database (a session a second
per process at most); and no check left running behind a probe."""

import shutil
import threading
import time

import pytest
from django.test import Client
from django.urls import reverse
from prometheus_client.parser import text_string_to_metric_families

from vaxbook.metrics.tests.servers import PrivateRedis, TcpProxy

pytestmark = [
    pytest.mark.django_db,
    # The health check reads DATABASES at call time; pointing it elsewhere is the point here.
    pytest.mark.filterwarnings("ignore:Overriding setting DATABASES"),
]

ALL_OK = {"database": "ok", "redis": "ok", "broker": "ok"}
# How long a result is reused in these tests (VAXBOOK_HEALTH_CACHE_SECONDS): a component down
# for longer than that shows.
LIFETIME = 0.2


@pytest.fixture(autouse=True)
def _short_lifetime(settings):
    settings.VAXBOOK_HEALTH_CACHE_SECONDS = LIFETIME


def _past_the_lifetime() -> None:
    time.sleep(LIFETIME * 1.5)


@pytest.fixture
def private_redis():
    if not shutil.which("redis-server"):
        pytest.skip("needs the redis-server binary")
    server = PrivateRedis().start()
    yield server
    server.stop()


@pytest.fixture
def database_proxy(settings):
    """PostgreSQL behind a proxy the test controls, and the health check pointed at it."""
    default = settings.DATABASES["default"]
    proxy = TcpProxy(default.get("HOST") or "127.0.0.1", int(default.get("PORT") or 5432)).start()
    settings.DATABASES = {
        **settings.DATABASES,
        "default": {**default, "HOST": "127.0.0.1", "PORT": str(proxy.port)},
    }
    yield proxy
    proxy.shutdown()


def _health(client) -> tuple[int, dict, float]:
    started = time.monotonic()
    response = client.get(reverse("metrics:healthz"))
    return response.status_code, response.json(), time.monotonic() - started


def _up(client, settings) -> dict[str, float]:
    settings.VAXBOOK_METRICS_TOKEN = ""  # development: open
    text = client.get(reverse("metrics:metrics")).content.decode()
    family = next(f for f in text_string_to_metric_families(text) if f.name == "vaxbook_up")
    return {s.labels["component"]: s.value for s in family.samples}


def test_all_reachable_is_200_ok(client):
    status, body, _ = _health(client)
    assert status == 200
    assert body == {"status": "ok", "checks": ALL_OK}


def test_it_needs_no_session_and_sets_no_cookie_and_is_not_cached(client):
    response = client.get(reverse("metrics:healthz"))
    assert response.status_code == 200
    assert not response.cookies
    assert "no-cache" in response["Cache-Control"]


def test_database_down_is_503_naming_it(client, settings, database_proxy):
    assert _health(client)[:2] == (200, {"status": "ok", "checks": ALL_OK})
    database_proxy.stop()
    _past_the_lifetime()
    status, body, elapsed = _health(client)
    assert status == 503
    assert body["checks"] == {**ALL_OK, "database": "down"}
    assert elapsed < 3
    assert _up(client, settings) == {"database": 0, "redis": 1, "broker": 1}


def test_a_hanging_database_is_down_within_the_timeout(client, settings, database_proxy):
    settings.VAXBOOK_HEALTH_TIMEOUT = 0.5
    database_proxy.stall()
    status, body, elapsed = _health(client)
    assert status == 503
    assert body["checks"]["database"] == "down"
    # The timeout and a half (0.75 s), not libpq's two seconds at least, nor forever.
    assert elapsed < 1.5


def test_redis_down_is_503_naming_it(client, settings, private_redis):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": private_redis.url,
        }
    }
    assert _health(client)[:2] == (200, {"status": "ok", "checks": ALL_OK})
    private_redis.stop()
    _past_the_lifetime()
    status, body, elapsed = _health(client)
    assert status == 503
    assert body["checks"] == {**ALL_OK, "redis": "down"}
    assert elapsed < 3
    assert _up(client, settings) == {"database": 1, "redis": 0, "broker": 1}


def test_broker_down_is_503_naming_it(client, settings, private_redis):
    settings.CELERY_BROKER_URL = private_redis.url
    assert _health(client)[:2] == (200, {"status": "ok", "checks": ALL_OK})
    private_redis.stop()
    _past_the_lifetime()
    status, body, elapsed = _health(client)
    assert status == 503
    assert body["checks"] == {**ALL_OK, "broker": "down"}
    assert elapsed < 3
    assert _up(client, settings) == {"database": 1, "redis": 1, "broker": 0}


def test_a_failing_check_is_not_logged_as_a_server_error_on_every_probe(
    client, settings, private_redis, caplog
):
    settings.CELERY_BROKER_URL = private_redis.url
    private_redis.stop()
    for _ in range(3):
        assert client.get(reverse("metrics:healthz")).status_code == 503
    assert not [r for r in caplog.records if r.name == "django.request"]
    assert len([r for r in caplog.records if r.name == "vaxbook.metrics.views"]) <= 1


def test_a_result_is_reused_for_its_lifetime_only(client, settings, database_proxy):
    settings.VAXBOOK_HEALTH_CACHE_SECONDS = 1
    assert _health(client)[0] == 200
    database_proxy.stop()
    # Within the lifetime, the result of the check a moment ago; after it, the database's state.
    assert _health(client)[0] == 200
    time.sleep(1.1)
    assert _health(client)[:2] == (
        503,
        {"status": "down", "checks": {**ALL_OK, "database": "down"}},
    )


def test_a_flood_of_anonymous_probes_opens_one_database_session_a_second(settings, database_proxy):
    settings.VAXBOOK_HEALTH_CACHE_SECONDS = 1
    anonymous = Client()
    started = time.monotonic()
    for _ in range(20):
        assert anonymous.get(reverse("metrics:healthz")).status_code == 200
    elapsed = time.monotonic() - started
    # Anyone may probe, without a token: each probe must not start a PostgreSQL backend.
    assert database_proxy.connections <= 1 + int(elapsed)


def test_concurrent_probes_share_the_check_in_flight(settings, database_proxy):
    settings.VAXBOOK_HEALTH_CACHE_SECONDS = 0  # no reuse after the check: sharing only
    settings.VAXBOOK_HEALTH_TIMEOUT = 1
    database_proxy.stall()  # each check of the database takes the whole timeout (1 s)
    probes = 10
    ready = threading.Barrier(probes)
    statuses = []

    def probe() -> None:
        anonymous = Client()
        ready.wait()
        statuses.append(anonymous.get(reverse("metrics:healthz")).status_code)

    threads = [threading.Thread(target=probe) for _ in range(probes)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert statuses == [503] * probes
    # One check, whose answer all ten share: not ten in a row (ten seconds), nor ten at once.
    assert database_proxy.connections == 1
    assert time.monotonic() - started < 2.5


def _health_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("vaxbook-health")}


def test_a_database_silent_after_connecting_leaves_no_check_behind(settings, database_proxy):
    settings.VAXBOOK_HEALTH_CACHE_SECONDS = 0
    settings.VAXBOOK_HEALTH_TIMEOUT = 0.5
    database_proxy.swallow_queries()
    client = Client()
    before = _health_threads()
    for _ in range(5):
        status, body, elapsed = _health(client)
        assert status == 503
        assert body["checks"]["database"] == "down"
        assert elapsed < 1.5
    # No check outlives its probe by more than the timeout: neither its thread nor its
    # connection (closed by the client, not left for the server to notice).
    time.sleep(0.5 + 0.2)
    assert _health_threads() <= before
    assert database_proxy.connections == 5
    assert database_proxy.open_connections == 0


def test_a_redis_that_never_answers_leaves_no_check_behind(settings, private_redis):
    proxy = TcpProxy("127.0.0.1", private_redis.port).start()
    try:
        proxy.stall()
        settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{proxy.port}/0"
        settings.VAXBOOK_HEALTH_CACHE_SECONDS = 0
        settings.VAXBOOK_HEALTH_TIMEOUT = 0.5
        client = Client()
        before = _health_threads()
        for _ in range(3):
            status, body, elapsed = _health(client)
            assert status == 503
            assert body["checks"] == {**ALL_OK, "broker": "down"}
            assert elapsed < 1.5
        time.sleep(0.5 + 0.2)
        assert _health_threads() <= before
        assert proxy.open_connections == 0
    finally:
        proxy.shutdown()
