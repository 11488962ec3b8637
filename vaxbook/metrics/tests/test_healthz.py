"""/healthz for load balancers: 200 when the database, Redis and the broker answer, 503 naming
the one that does not, each taken down for real (a TCP proxy in front of PostgreSQL stopped or
stalled, a redis-server of the test's own shut down), within the checks' short timeouts."""

import shutil
import time

import pytest
from django.urls import reverse
from prometheus_client.parser import text_string_to_metric_families

from vaxbook.metrics.tests.servers import PrivateRedis, TcpProxy

pytestmark = [
    pytest.mark.django_db,
    # The health check reads DATABASES at call time; pointing it elsewhere is the point here.
    pytest.mark.filterwarnings("ignore:Overriding setting DATABASES"),
]

ALL_OK = {"database": "ok", "redis": "ok", "broker": "ok"}


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
    status, body, elapsed = _health(client)
    assert status == 503
    assert body["checks"] == {**ALL_OK, "redis": "down"}
    assert elapsed < 3
    assert _up(client, settings) == {"database": 1, "redis": 0, "broker": 1}


def test_broker_down_is_503_naming_it(client, settings, private_redis):
    settings.CELERY_BROKER_URL = private_redis.url
    assert _health(client)[:2] == (200, {"status": "ok", "checks": ALL_OK})
    private_redis.stop()
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
