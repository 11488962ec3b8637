"""Settings read from the environment, in one place.

Production (``DJANGO_ENV=production``) refuses to start without its secrets. Development
generates throwaway secrets once and keeps them in ``var/dev-secrets.json`` (git-ignored), so
that a restarted ``make run`` can still decrypt the registration numbers it stored.
"""

import base64
import json
import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
DEV_SECRETS_FILE = BASE_DIR / "var" / "dev-secrets.json"


def environment() -> str:
    return os.environ.get("DJANGO_ENV", "development").strip().lower()


def is_production() -> bool:
    return environment() == "production"


def get_setting(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def get_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _generate(kind: str) -> str:
    if kind == "fernet":
        return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    return secrets.token_urlsafe(48)


def _dev_secrets() -> dict[str, str]:
    try:
        return json.loads(DEV_SECRETS_FILE.read_text())
    except (FileNotFoundError, ValueError):
        return {}


def get_mandatory_secret(name: str, *, kind: str = "token") -> str:
    """The secret from the environment; in development a generated one kept on disk.

    In production a missing secret is a configuration error, raised at start-up with the name
    of the variable, never a silently generated key.
    """
    value = get_setting(name)
    if value:
        return value
    if is_production():
        raise ImproperlyConfigured(
            f"{name} must be set in the environment when DJANGO_ENV=production."
        )
    stored = _dev_secrets()
    if name not in stored:
        stored[name] = _generate(kind)
        DEV_SECRETS_FILE.parent.mkdir(parents=True, exist_ok=True)
        DEV_SECRETS_FILE.write_text(json.dumps(stored, indent=2))
        DEV_SECRETS_FILE.chmod(0o600)
    return stored[name]


def get_production_setting(name: str, *, development_default: str, why: str) -> str:
    """The setting from the environment; in development ``development_default`` when unset.

    For settings whose development default (SQLite, eager Celery, local host names) is wrong
    in production: there an unset variable is a configuration error raised at start-up, with
    the name of the variable and ``why`` it matters.
    """
    value = get_setting(name)
    if value:
        return value
    if is_production():
        raise ImproperlyConfigured(
            f"{name} must be set in the environment when DJANGO_ENV=production: {why}"
        )
    return development_default


def get_int(name: str, default: int, *, minimum: int | None = None) -> int:
    """An integer setting; a value that is not one (or is below ``minimum``) is a
    configuration error naming the variable, not a ValueError at some later request."""
    return _number(name, default, int, "a whole number", minimum)


def get_float(name: str, default: float, *, minimum: float | None = None) -> float:
    """A number setting (seconds, say), checked like ``get_int``."""
    return _number(name, default, float, "a number", minimum)


def _number(name, default, parse, what, minimum):
    raw = get_setting(name, str(default))
    try:
        value = parse(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be {what}, not {raw!r}.") from None
    if value != value or value in (float("inf"), float("-inf")):  # NaN, infinities
        raise ImproperlyConfigured(f"{name} must be {what}, not {raw!r}.")
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {raw}.")
    return value


def get_list(name: str, *, validate=None) -> list[str]:
    """A comma-separated setting; each item checked by ``validate`` (which raises ValueError
    for a bad one), a bad item being a configuration error naming the variable."""
    items = [item.strip() for item in get_setting(name).split(",") if item.strip()]
    for item in items:
        if validate is None:
            continue
        try:
            validate(item)
        except ValueError as error:
            raise ImproperlyConfigured(f"{name}: {item!r} is not valid ({error}).") from None
    return items
