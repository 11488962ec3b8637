"""Reading the sustainable rate from the benchmark's results (vaxbook.planner.benchmark)."""

import json
from datetime import UTC, datetime

import pytest

from vaxbook.planner import benchmark


def _write(directory, name: str, content) -> None:
    (directory / name).write_text(content if isinstance(content, str) else json.dumps(content))


def test_the_newest_result_that_gives_a_rate_is_read(tmp_path):
    _write(tmp_path, "20261101T000000.json", {"sustainable_admission_per_minute": 5_000})
    _write(
        tmp_path,
        "20261120T000000.json",
        {"when": "2026-11-20T00:00:00+00:00", "sustainable_admission_per_minute": 7_000.9},
    )
    _write(tmp_path, "20261125T000000.json", "{ not json")  # a broken file is passed over
    _write(tmp_path, "20261126T000000.json", {"confirmed_per_s": 0.001})  # under one a minute
    rate = benchmark.latest_rate(tmp_path)
    assert rate == benchmark.SustainableRate(
        7_000, benchmark.MEASURED, datetime(2026, 11, 20, tzinfo=UTC), "20261120T000000.json"
    )


def test_without_the_measured_key_the_rate_is_the_confirmations_a_minute(tmp_path):
    _write(tmp_path, "20261126T102404.json", {"confirmed_per_s": 13.4, "sustainable": "x"})
    rate = benchmark.latest_rate(tmp_path)
    assert (rate.per_minute, rate.source, rate.measured_at) == (804, benchmark.DERIVED, None)


def test_no_results_no_rate(tmp_path):
    assert benchmark.latest_rate(tmp_path) is None
    assert benchmark.latest_rate(tmp_path / "missing") is None
    _write(tmp_path, "20261126T102404.json", {"confirmed_per_s": True})
    assert benchmark.latest_rate(tmp_path) is None


def test_the_directory_is_a_setting(tmp_path, settings):
    # by default where `make bench` writes
    assert benchmark.results_dir() == settings.BASE_DIR / "bench" / "results"
    settings.VAXBOOK_BENCH_RESULTS_DIR = tmp_path
    assert benchmark.results_dir() == tmp_path


BAD_RESULTS = [
    '{"when": "2026-13-45T00:00:00+00:00", "sustainable_admission_per_minute": 900}',
    '{"when": "yesterday", "sustainable_admission_per_minute": 900}',
    '{"when": 20261126, "sustainable_admission_per_minute": 900}',
    '{"when": "2026-11-26T01:24:04+00:00", "sustainable_admission_per_minute": Infinity}',
    '{"when": "2026-11-26T01:24:04+00:00", "sustainable_admission_per_minute": NaN}',
    '{"when": "2026-11-26T01:24:04+00:00", "sustainable_admission_per_minute": -Infinity}',
    '{"when": "2026-11-26T01:24:04+00:00", "sustainable_admission_per_minute": -900}',
    '{"when": "2026-11-26T01:24:04+00:00", "sustainable_admission_per_minute": "900"}',
    '{"when": "2026-11-26T01:24:04+00:00", "sustainable_admission_per_minute": [900]}',
    '{"when": "2026-11-26T01:24:04+00:00", "sustainable_admission_per_minute": 1e400}',
    '{"when": "2026-11-26T01:24:04+00:00", "sustainable_admission_per_minute": 1' + "0" * 400 + "}",
    '{"when": "2026-11-26T01:24:04+00:00", "confirmed_per_s": Infinity}',
    '{"when": "2026-11-26T01:24:04+00:00", "confirmed_per_s": 1e307}',
    "[" * 100_000 + "]" * 100_000,
    "\udcff",
]


@pytest.mark.parametrize("content", BAD_RESULTS, ids=range(len(BAD_RESULTS)))
def test_a_bad_result_is_skipped_for_the_next_newest(tmp_path, content):
    _write(
        tmp_path,
        "20261120T000000.json",
        {"when": "2026-11-20T00:00:00+00:00", "sustainable_admission_per_minute": 700},
    )
    (tmp_path / "20261126T000000.json").write_text(content, errors="surrogateescape")
    rate = benchmark.latest_rate(tmp_path)
    assert (rate.per_minute, rate.result_file) == (700, "20261120T000000.json")
    (tmp_path / "20261120T000000.json").unlink()
    assert benchmark.latest_rate(tmp_path) is None  # then the rate is entered by hand


def test_a_time_without_its_offset_is_taken_as_utc(tmp_path):
    """``bench/run.py`` writes UTC (``timezone.now().isoformat()``)."""
    _write(
        tmp_path,
        "20261126T012404.json",
        {"when": "2026-11-26T01:24:04", "sustainable_admission_per_minute": 900},
    )
    rate = benchmark.latest_rate(tmp_path)
    assert rate.measured_at == datetime(2026, 11, 26, 1, 24, 4, tzinfo=UTC)
