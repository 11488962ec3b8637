"""Reading the sustainable rate from the benchmark's results (vaxbook.planner.benchmark)."""

import json
from datetime import UTC, datetime

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
    settings.VAXBOOK_BENCH_RESULTS_DIR = tmp_path
    assert benchmark.results_dir() == tmp_path
    del settings.VAXBOOK_BENCH_RESULTS_DIR
    assert benchmark.results_dir().parts[-2:] == ("bench", "results")
