"""The metrics' settings are checked at start-up, naming the variable; the probes on the
internal network are not redirected to HTTPS."""

import subprocess
import sys

import pytest
from django.conf import settings
from django.urls import reverse

from vaxbook.tests.test_production_settings import _manage, _production_env


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("VAXBOOK_METRICS_TOKEN", "too-short"),
        ("VAXBOOK_HEALTH_TIMEOUT", "5"),
        ("VAXBOOK_HEALTH_TIMEOUT", "soon"),
        ("VAXBOOK_HEALTH_CACHE_SECONDS", "-1"),
        ("VAXBOOK_HEALTH_CACHE_SECONDS", "11"),
        ("VAXBOOK_HEALTH_CACHE_SECONDS", "soon"),
        ("PROMETHEUS_MULTIPROC_DIR", "/nonexistent/vaxbook-metrics"),
        # Set but empty (`PROMETHEUS_MULTIPROC_DIR=${METRICS_DIR}` with it unset), or a file:
        # prometheus-client would write its files into the working directory, or fail later.
        ("PROMETHEUS_MULTIPROC_DIR", ""),
        ("PROMETHEUS_MULTIPROC_DIR", "manage.py"),
        # The lower-case spelling prometheus-client still reads.
        ("prometheus_multiproc_dir", ""),
        ("prometheus_multiproc_dir", "/nonexistent/vaxbook-metrics"),
    ],
)
def test_a_bad_metrics_setting_stops_the_start_naming_it(variable, value):
    result = _manage("check", env=_production_env(**{variable: value}))
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert variable in result.stderr


SERVE_A_PROBE = """
import django
django.setup()
from django.test import Client
Client().get("/healthz")
"""


@pytest.mark.parametrize("variable", ["PROMETHEUS_MULTIPROC_DIR", "prometheus_multiproc_dir"])
def test_an_empty_multiprocess_directory_is_refused_not_the_working_directory(variable, tmp_path):
    env = _production_env(**{variable: ""})
    env.update(DJANGO_SETTINGS_MODULE="vaxbook.settings", PYTHONPATH=str(settings.BASE_DIR))
    result = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", SERVE_A_PROBE],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert variable in result.stderr
    assert not list(tmp_path.iterdir())  # no counter_<pid>.db left where the process ran


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
