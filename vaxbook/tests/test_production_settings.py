"""DJANGO_ENV=production: `check --deploy` reports nothing, missing settings stop the start, and
every page carries the Content Security Policy."""

import os
import re
import secrets
import subprocess
import sys
from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from campaigns import services
from campaigns.tests.factories import CampaignFactory


def _production_env(**overrides: str | None) -> dict[str, str]:
    """The environment of a production process: nothing inherited that could configure
    vaxbook or Django, then every mandatory variable; ``None`` removes one."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "VAXBOOK_"))}
    env.update(
        DJANGO_ENV="production",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(48),
        VAXBOOK_PII_KEYS=Fernet.generate_key().decode(),
        VAXBOOK_RRN_HMAC_KEY=secrets.token_urlsafe(48),
        DJANGO_ALLOWED_HOSTS="booking.vaxbook.example,vaxbook.example",
        DATABASE_URL=os.environ["DATABASE_URL"],
        REDIS_URL=os.environ["REDIS_URL"],
        VAXBOOK_SMS_BACKEND="solapi",
        VAXBOOK_SITE_URL="https://booking.vaxbook.example",
        VAXBOOK_SOLAPI_API_KEY="NCSPRODUCTIONKEY",
        VAXBOOK_SOLAPI_API_SECRET=secrets.token_urlsafe(24),
        VAXBOOK_SOLAPI_SENDER="02-1234-5678",
        VAXBOOK_EMAIL_HOST="smtp.vaxbook.example",
    )
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_reports_nothing_in_production():
    result = _manage("check", "--deploy", "--fail-level", "DEBUG", env=_production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


@pytest.mark.parametrize(
    "variable",
    [
        "DJANGO_SECRET_KEY",
        "VAXBOOK_PII_KEYS",
        "VAXBOOK_RRN_HMAC_KEY",
        "DJANGO_ALLOWED_HOSTS",
        "DATABASE_URL",
        "REDIS_URL",
        "VAXBOOK_SITE_URL",
        "VAXBOOK_SOLAPI_API_KEY",
        "VAXBOOK_SOLAPI_API_SECRET",
        "VAXBOOK_SOLAPI_SENDER",
        "VAXBOOK_EMAIL_HOST",
    ],
)
def test_production_refuses_to_start_without_a_mandatory_variable(variable):
    result = _manage("check", env=_production_env(**{variable: None}))
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"{variable} must be set in the environment when DJANGO_ENV=production" in (
        result.stderr
    )


def test_production_refuses_the_console_text_channel():
    console = _manage("check", env=_production_env(VAXBOOK_SMS_BACKEND=None))
    assert console.returncode != 0 and "VAXBOOK_SMS_BACKEND=console" in console.stderr


def test_production_refuses_sqlite_and_debug():
    sqlite = _manage("check", env=_production_env(DATABASE_URL="sqlite:///db.sqlite3"))
    assert sqlite.returncode != 0 and "DATABASE_URL must point at PostgreSQL" in sqlite.stderr
    debug = _manage("check", env=_production_env(DJANGO_DEBUG="1"))
    assert debug.returncode != 0 and "DJANGO_DEBUG must be off" in debug.stderr


@pytest.mark.django_db
def test_pages_carry_the_content_security_policy(client):
    response = client.get(reverse("home"))
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy
    assert "default-src 'self'" in policy
    assert "form-action 'self'" in policy
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    # Our own files only: no inline script, no inline style.
    for directive in ("script-src", "style-src"):
        sources = next(d for d in policy.split(";") if d.strip().startswith(directive)).split()
        assert sources == [directive, "'self'"]


@pytest.mark.django_db
def test_no_page_carries_an_inline_style_the_policy_would_block(client, admin_client):
    from clinics.tests.factories import SlotFactory

    slot = SlotFactory()
    pages = [
        client.get(reverse("home")),
        client.get(reverse("bookings:start", kwargs={"campaign": slot.campaign.slug})),
        client.get(reverse("bookings:lookup")),
        admin_client.get(reverse("admin:campaigns_campaign_change", args=[slot.campaign.pk])),
        admin_client.get(reverse("admin:index")),
    ]
    for page in pages:
        assert page.status_code == 200
        html = page.content.decode()
        assert not re.search(r"\sstyle\s*=", html), re.search(r".{60}\sstyle\s*=.{60}", html)
        assert "<style" not in html


@pytest.mark.django_db
def test_the_queue_page_runs_only_our_own_script_files(client):
    opening = timezone.now() + timedelta(hours=2)
    campaign = CampaignFactory(opens_at=opening, closes_at=opening + timedelta(days=3))
    services.configure_waiting_room(campaign, enabled=True, per_minute=60)

    response = client.get(reverse("campaigns:queue", kwargs={"campaign": campaign.slug}))

    assert response.status_code == 200
    page = response.content.decode()
    scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", page, re.S)
    tags = re.findall(r"<script\b[^>]*>", page)
    assert scripts == [""], "no inline script: the page's code is a static file"
    assert re.fullmatch(r'<script type="module" src="/static/campaigns/queue.js">', tags[0])
    script_src = next(
        d
        for d in response["Content-Security-Policy"].split(";")
        if d.strip().startswith("script-src")
    )
    assert script_src.split()[:2] == ["script-src", "'self'"]
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("VAXBOOK_THROTTLE_PER_ADDRESS", "many"),
        ("VAXBOOK_QUEUE_POW_COST", "0"),
        ("VAXBOOK_SWEEP_INTERVAL_SECONDS", "nan"),
        ("VAXBOOK_PEOPLE_PER_PASS", "-1"),
        ("VAXBOOK_STEP_TOKEN_MAX_AGE", "30 minutes"),
        ("VAXBOOK_TRUSTED_PROXIES", "10.0.0.1,not-a-network"),
    ],
)
def test_a_bad_setting_stops_the_start_naming_its_variable(variable, value):
    result = _manage("check", env=_production_env(**{variable: value}))
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and variable in result.stderr
