"""A web process loads the whole site when it starts, not on its first request: Django imports
the URLconf (and with it every view, form and library they use, openpyxl for the rosters among
them) lazily, on the first request a process serves, which at an opening is when the crowd
arrives, every worker of every node at once (`make bench` measures the arrival steps)."""

import json
import os
import subprocess
import sys

from django.conf import settings

# Modules only the URLconf imports: the views of each app and the libraries behind them.
LOADED_BY_THE_URLCONF = (
    "vaxbook.urls",
    "bookings.views",
    "campaigns.views",
    "clinics.views",
    "clinics.rosters",
    "openpyxl",
    "vaxbook.planner.views",
    "vaxbook.dashboard.views",
)

STARTED = """
import json, sys
import vaxbook.wsgi  # what the web server imports in each worker before it serves anything
print(json.dumps({name: name in sys.modules for name in sys.argv[1:]}))
"""


def test_a_web_process_has_every_page_loaded_before_its_first_request():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "vaxbook.settings"}
    result = subprocess.run(
        [sys.executable, "-c", STARTED, *LOADED_BY_THE_URLCONF],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded == dict.fromkeys(LOADED_BY_THE_URLCONF, True)
