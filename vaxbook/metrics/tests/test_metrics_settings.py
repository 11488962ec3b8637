"""The metrics' settings are checked at start-up, naming the variable; the probes on the
internal network are not redirected to HTTPS."""

import pytest
from django.urls import reverse

from vaxbook.tests.test_production_settings import _manage, _production_env


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("VAXBOOK_METRICS_TOKEN", "too-short"),
        ("VAXBOOK_HEALTH_TIMEOUT", "5"),
        ("VAXBOOK_HEALTH_TIMEOUT", "soon"),
        ("PROMETHEUS_MULTIPROC_DIR", "/nonexistent/vaxbook-metrics"),
    ],
)
def test_a_bad_metrics_setting_stops_the_start_naming_it(variable, value):
    result = _manage("check", env=_production_env(**{variable: value}))
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert variable in result.stderr


def test_production_starts_with_a_token_and_a_multiprocess_directory(tmp_path):
    env = _production_env(VAXBOOK_METRICS_TOKEN="t" * 40, PROMETHEUS_MULTIPROC_DIR=str(tmp_path))
    result = _manage("check", "--deploy", "--fail-level", "DEBUG", env=env)
    assert result.returncode == 0, result.stderr


@pytest.mark.django_db
def test_the_probes_are_not_redirected_to_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get(reverse("metrics:healthz")).status_code == 200
    assert client.get(reverse("metrics:metrics")).status_code in (200, 401)
    assert client.get(reverse("home")).status_code == 301
