"""The sustainable booking rate of this installation, read from the latest benchmark result
(``bench/run.py`` writes ``bench/results/<stamp>.json``).

* ``sustainable_admission_per_minute`` when the result has it: the highest admission rate at
  which every booking step's p99 stayed under a second (measured by the surge benchmark).
* Otherwise derived from ``confirmed_per_s``, the confirmations a second end to end during the
  benchmark's surge: × 60 for a minute, assuming one booking per admitted person. It is a lower
  bound — the benchmark's own admission rate and its small machine may have held it down.
* Otherwise none: the official enters the rate by hand.
"""

import json
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.utils.dateparse import parse_datetime

MEASURED = "measured"
DERIVED = "derived"
BY_HAND = "by_hand"


@dataclass(frozen=True)
class SustainableRate:
    per_minute: int
    source: str  # MEASURED | DERIVED | BY_HAND
    measured_at: datetime | None = None
    result_file: str = ""


def results_dir() -> Path:
    """Where the benchmark writes its results (``VAXBOOK_BENCH_RESULTS_DIR`` to point
    elsewhere)."""
    default = Path(settings.BASE_DIR) / "bench" / "results"
    return Path(getattr(settings, "VAXBOOK_BENCH_RESULTS_DIR", default))


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
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(result, dict):
        return None
    when = result.get("when")
    measured_at = parse_datetime(when) if isinstance(when, str) else None
    measured = _positive(result.get("sustainable_admission_per_minute"))
    if measured is not None:
        return SustainableRate(math.floor(measured), MEASURED, measured_at, path.name)
    confirmed = _positive(result.get("confirmed_per_s"))
    if confirmed is not None and math.floor(confirmed * 60) >= 1:
        return SustainableRate(math.floor(confirmed * 60), DERIVED, measured_at, path.name)
    return None


def _positive(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value if value >= 1 else None
