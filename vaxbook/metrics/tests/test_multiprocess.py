"""With PROMETHEUS_MULTIPROC_DIR set, as under gunicorn's several workers, a scrape answered by
one process reports the requests every process served: three separate Python processes here,
two serving a page each, the third answering the scrape."""

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection
from prometheus_client.parser import text_string_to_metric_families

from vaxbook.metrics.tests.scrape import TOKEN

pytestmark = pytest.mark.django_db

SERVE = """
import django, sys
django.setup()
from django.test import Client
response = Client().get(sys.argv[1], HTTP_AUTHORIZATION="Bearer " + sys.argv[2])
assert response.status_code == 200, response.status_code
sys.stdout.write(response.content.decode())
"""


def _in_process(path: str, env: dict) -> str:
    return subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", SERVE, path, TOKEN],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout


def test_a_scrape_adds_up_every_worker_process(tmp_path):
    base = settings.DATABASE_URL.rsplit("/", 1)[0]
    env = {
        **os.environ,
        "DATABASE_URL": f"{base}/{connection.settings_dict['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "VAXBOOK_METRICS_TOKEN": TOKEN,
        "DJANGO_SETTINGS_MODULE": "vaxbook.settings",
    }
    _in_process("/healthz", env)
    _in_process("/healthz", env)
    text = _in_process("/metrics", env)
    samples = {
        (s.name, s.labels.get("view"), s.labels.get("status")): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert samples[("vaxbook_http_requests_total", "metrics:healthz", "2xx")] == 2
    assert samples[("vaxbook_http_request_duration_seconds_count", "metrics:healthz", None)] == 2
    # The scraping process's own request is counted once it has been answered, not before.
    assert ("vaxbook_http_requests_total", "metrics:metrics", "2xx") not in samples
    up = [
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "vaxbook_up"
    ]
    assert up == [1, 1, 1]  # the figures computed at scrape time are there too
