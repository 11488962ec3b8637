"""The sustainable booking rate of this installation, read from the latest benchmark result
(``bench/run.py`` writes ``bench/results/<stamp>.json``).

* ``sustainable_admission_per_minute`` when the result has it: the highest admission rate at
  which every booking step's p99 stayed under a second (measured by the surge benchmark).
* Otherwise derived from ``confirmed_per_s``, the confirmations a second end to end during the
  benchmark's surge: × 60 for a minute, assuming one booking per admitted person. It is a lower
  bound — the benchmark's own admission rate and its small machine may have held it down.
* Otherwise none: the official enters the rate by hand.

A result the planner cannot use is passed over for the next newest, never an error on the page:
a file that cannot be read as JSON, a ``when`` that is not an ISO date and time, or figures
that are not finite numbers of at least one a minute (nor over ``MOST_PER_MINUTE``). A ``when``
without its offset is taken as UTC, as ``bench/run.py`` writes it; a result without ``when``
has no date.
"""

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.utils.dateparse import parse_datetime

MEASURED = "measured"
DERIVED = "derived"
BY_HAND = "by_hand"
# More than any installation serves (a billion bookings a minute): a figure above it is a
# broken result, not a measurement.
MOST_PER_MINUTE = 1_000_000_000


class UnusableResult(ValueError):
    """A result file the planner cannot use (passed over)."""


@dataclass(frozen=True)
class SustainableRate:
    per_minute: int
    source: str  # MEASURED | DERIVED | BY_HAND
    measured_at: datetime | None = None
    result_file: str = ""


def results_dir() -> Path:
    """Where the benchmark writes its results (the setting ``VAXBOOK_BENCH_RESULTS_DIR``)."""
    return Path(settings.VAXBOOK_BENCH_RESULTS_DIR)


def latest_rate(directory: Path | None = None) -> SustainableRate | None:
    """The rate from the newest result (by its stamp, the file name) that gives one; None when
    no result does."""
    directory = directory or results_dir()
    if not directory.is_dir():
        return None
    for path in sorted(directory.glob("*.json"), reverse=True):
        rate = rate_from_result(path)
        if rate is not None:
            return rate
    return None


def rate_from_result(path: Path) -> SustainableRate | None:
    """The rate a result gives, or None when it gives none or cannot be used."""
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(result, dict):
            return None
        measured_at = _when(result.get("when"))
    except (OSError, ValueError, RecursionError):  # UnusableResult is a ValueError
        return None
    measured = _per_minute(result.get("sustainable_admission_per_minute"))
    if measured is not None:
        return SustainableRate(measured, MEASURED, measured_at, path.name)
    confirmed = _number(result.get("confirmed_per_s"))
    derived = _per_minute(confirmed * 60) if confirmed is not None else None
    if derived is not None:
        return SustainableRate(derived, DERIVED, measured_at, path.name)
    return None


def _when(value) -> datetime | None:
    """The result's time: None when it has none; aware (UTC when written without an offset)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise UnusableResult("when")
    try:
        when = parse_datetime(value)
    except ValueError as invalid:  # well formed but no such date: 2026-13-45
        raise UnusableResult("when") from invalid
    if when is None:
        raise UnusableResult("when")
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


def _number(value) -> float | int | None:
    """A finite number (not a boolean, a string or a list), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _per_minute(value) -> int | None:
    """A rate a minute, whole: a finite number from one to ``MOST_PER_MINUTE``, else None."""
    value = _number(value)
    if value is None or not 1 <= value <= MOST_PER_MINUTE:
        return None
    return math.floor(value)
