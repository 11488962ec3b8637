"""The plan's arithmetic (vaxbook.planner.plan): every digit in exactly one window, every
window's first-hour surge under the rate, the fewest windows that achieve it, and the warnings."""

import math
from collections import Counter
from datetime import date, datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaigns.models import Window
from vaxbook.dates import KST
from vaxbook.planner.plan import (
    DEFAULT_SURGE_FRACTION,
    birth_day_digit_weights,
    days_ending_in,
    group_digits,
    propose,
    split_digit,
    split_people,
)

COHORT_55_59 = (date(1962, 1, 1), date(1966, 12, 31))
OPENING = datetime(2026, 12, 1, 20, 0, tzinfo=KST)


def _digits_once(proposal) -> list[int]:
    return sorted(d for w in proposal.windows for d in w.digits)


def test_the_digits_of_a_month_are_counted_from_the_calendar():
    january = birth_day_digit_weights(date(2000, 1, 1), date(2000, 1, 31))
    assert january == {0: 3, 1: 4, 2: 3, 3: 3, 4: 3, 5: 3, 6: 3, 7: 3, 8: 3, 9: 3}
    february = birth_day_digit_weights(date(2001, 2, 1), date(2001, 2, 28))
    assert february[0] == 2 and february[9] == 2 and february[1] == 3
    five_years = birth_day_digit_weights(*COHORT_55_59)
    assert sum(five_years.values()) == (COHORT_55_59[1] - COHORT_55_59[0]).days + 1
    assert max(five_years, key=five_years.get) == 1


def test_a_cohort_of_3_5_million_at_10000_a_minute_needs_four_windows():
    proposal = propose(
        cohort=3_500_000,
        rate_per_minute=10_000,
        first_opening=OPENING,
        digit_weights=birth_day_digit_weights(*COHORT_55_59),
    )
    assert proposal.admission_rate_per_minute == 10_000
    assert _digits_once(proposal) == list(range(10))
    assert len(proposal.windows) == 4
    assert all(w.surge_per_minute <= 10_000 for w in proposal.windows)
    assert sum(w.people for w in proposal.windows) == 3_500_000
    # one a day at the first opening's time, 22 hours each: never two open at once
    assert [w.opens_at for w in proposal.windows] == [OPENING + timedelta(days=n) for n in range(4)]
    assert all(w.closes_at == w.opens_at + timedelta(hours=22) for w in proposal.windows)
    # three windows would not do: the fewest is chosen
    assert proposal.codes() == set()


def _covered_once(proposal, born_from: date, born_to: date) -> bool:
    """Every birth date of the cohort is in exactly one proposed window, judged by the rule
    the booking pages use (``campaigns.models.Window.covers``: the digit and the range)."""
    counts = dict.fromkeys(
        (born_from + timedelta(days=n) for n in range((born_to - born_from).days + 1)), 0
    )
    for w in proposal.windows:
        for digit in w.digits:
            rule = Window(w.opens_at, w.closes_at, digit, w.born_from, w.born_to)
            day = w.born_from or born_from
            while day <= (w.born_to or born_to):
                if rule.covers(day):
                    counts[day] += 1
                day += timedelta(days=1)
    return set(counts.values()) == {1}


@pytest.mark.parametrize("rate", [10_000, 804])
def test_a_cohort_of_3_5_million_keeps_every_window_under_the_rate(rate):
    """At 10,000 a minute, four windows of whole digits; at the small benchmark box's 804
    (13.4 confirmations a second), every digit is over the rate alone, so each is split by
    birth date into parts that keep under it, one window a day."""
    proposal = propose(
        cohort=3_500_000,
        rate_per_minute=rate,
        first_opening=OPENING,
        birth_range=COHORT_55_59,
    )
    assert all(
        w.people * DEFAULT_SURGE_FRACTION <= rate * 60 and w.surge_per_minute <= rate
        for w in proposal.windows
    )
    assert sum(w.people for w in proposal.windows) == 3_500_000
    assert _covered_once(proposal, *COHORT_55_59)
    assert [w.opens_at for w in proposal.windows] == [
        OPENING + timedelta(days=n) for n in range(len(proposal.windows))
    ]
    assert proposal.codes() == set()
    if rate == 804:
        # 3.5 million × 48.6 % / 48,240 a first hour: 36 windows at the very least; each
        # digit in four parts, digit 1 (with the 31sts) in five
        assert all(len(w.digits) == 1 and w.born_from for w in proposal.windows)
        parts = Counter(w.digits[0] for w in proposal.windows)
        assert parts == {1: 5} | {d: 4 for d in range(10) if d != 1}
    else:
        assert len(proposal.windows) == 4 and not any(w.born_from for w in proposal.windows)


def test_a_digit_is_shared_by_its_calendar_days_in_each_part():
    # 1, 11, 21 and 31 January; 1, 11 and 21 February
    days = days_ending_in(1, date(2001, 1, 1), date(2001, 2, 28))
    assert len(days) == 7
    # 100 people a day; 300 may come in a first hour: runs of at most three days
    parts = split_digit(1, 700, days, limit=Fraction(300), surge_fraction=Fraction(1))
    assert [(p.born_from, p.born_to, p.days, p.people) for p in parts] == [
        (date(2001, 1, 1), date(2001, 1, 21), 3, 300),
        (date(2001, 1, 31), date(2001, 2, 1), 2, 200),
        (date(2001, 2, 11), date(2001, 2, 21), 2, 200),
    ]


def test_a_single_day_over_the_rate_is_warned_of_and_still_proposed():
    proposal = propose(
        cohort=1_000_000,
        rate_per_minute=1,  # 60 a first hour; a day of births holds ~548 people
        first_opening=OPENING,
        birth_range=COHORT_55_59,
    )
    assert "day_over_rate" in proposal.codes()
    assert all(w.born_from == w.born_to for w in proposal.windows)
    assert sum(w.people for w in proposal.windows) == 1_000_000


def test_the_digits_weights_alone_cannot_split_and_warn():
    proposal = propose(
        cohort=3_500_000,
        rate_per_minute=804,
        first_opening=OPENING,
        digit_weights=birth_day_digit_weights(*COHORT_55_59),
    )
    assert [w.digits for w in proposal.windows] == [(d,) for d in range(10)]
    assert "digit_over_rate" in proposal.codes()


def test_more_windows_than_the_campaign_has_days_are_warned_of_and_still_proposed():
    proposal = propose(
        cohort=3_500_000,
        rate_per_minute=804,
        first_opening=OPENING,
        birth_range=COHORT_55_59,
        campaign_closes_at=OPENING + timedelta(days=30),
    )
    late = next(w for w in proposal.warnings if w.code == "after_campaign_closes")
    assert late.params == {"window": 31, "days": len(proposal.windows), "fit": 30}
    assert len(proposal.windows) > 30


def test_places_second_doses_short_windows_and_a_late_window_are_warned_of():
    proposal = propose(
        cohort=1_000_000,
        rate_per_minute=100,
        first_opening=OPENING,
        digit_weights=birth_day_digit_weights(*COHORT_55_59),
        window_hours=2,
        places_free=1_500_000,
        doses=2,
        second_dose_days_short=3,
        second_dose_missing=40,
        campaign_closes_at=OPENING + timedelta(days=2),
    )
    assert {
        "places_short",
        "second_doses_short",
        "window_too_short",
        "after_campaign_closes",
    } <= proposal.codes()
    short = next(w for w in proposal.warnings if w.code == "places_short")
    assert short.params == {"free": 1_500_000, "needed": 2_000_000, "missing": 500_000}


def test_enough_places_and_second_doses_warn_of_nothing():
    proposal = propose(
        cohort=1_000,
        rate_per_minute=1_000,
        first_opening=OPENING,
        digit_weights=birth_day_digit_weights(*COHORT_55_59),
        places_free=2_000,
        doses=2,
        campaign_closes_at=OPENING + timedelta(days=30),
    )
    assert proposal.codes() == set()
    assert len(proposal.windows) == 1 and proposal.windows[0].digits == tuple(range(10))


@given(
    cohort=st.integers(min_value=1, max_value=60_000_000),
    rate=st.integers(min_value=1, max_value=100_000),
    surge_percent=st.integers(min_value=1, max_value=100),
    start=st.dates(min_value=date(1900, 1, 1), max_value=date(2020, 12, 31)),
    span=st.integers(min_value=0, max_value=3_000),
    hours=st.integers(min_value=1, max_value=24),
)
def test_every_digit_once_every_window_under_the_rate_and_no_fewer_windows_would_do(
    cohort, rate, surge_percent, start, span, hours
):
    weights = birth_day_digit_weights(start, start + timedelta(days=span))
    fraction = Fraction(surge_percent, 100)
    proposal = propose(
        cohort=cohort,
        rate_per_minute=rate,
        first_opening=OPENING,
        digit_weights=weights,
        surge_fraction=fraction,
        window_hours=hours,
    )
    assert _digits_once(proposal) == list(range(10))
    assert sum(w.people for w in proposal.windows) == cohort
    people = split_people(cohort, weights)
    for w in proposal.windows:
        if len(w.digits) > 1 or "digit_over_rate" not in proposal.codes():
            assert w.people * fraction <= rate * 60
        assert list(w.digits) == list(range(w.digits[0], w.digits[-1] + 1))
    # the windows never overlap
    for a, b in zip(proposal.windows, proposal.windows[1:], strict=False):
        assert a.closes_at <= b.opens_at
    # fewest: no grouping of consecutive digits into one window less keeps under the rate
    n = len(proposal.windows)
    if n > 1 and "digit_over_rate" not in proposal.codes():
        limit = Fraction(rate * 60)
        assert not _fits_in(n - 1, [people[d] for d in range(10)], fraction, limit)


def _fits_in(groups: int, counts: list[int], fraction: Fraction, limit: Fraction) -> bool:
    """Brute force: can ``counts`` be cut into at most ``groups`` consecutive runs under the
    limit?"""
    from itertools import combinations

    for k in range(1, groups + 1):
        for cuts in combinations(range(1, len(counts)), k - 1):
            edges = [0, *cuts, len(counts)]
            if all(
                sum(counts[a:b]) * fraction <= limit for a, b in zip(edges, edges[1:], strict=False)
            ):
                return True
    return False


def test_the_default_surge_is_the_2021_night():
    assert Fraction(1_700_000, 3_500_000) == DEFAULT_SURGE_FRACTION


def test_split_people_adds_up_and_follows_the_weights():
    people = split_people(10, {d: 1 for d in range(10)})
    assert people == {d: 1 for d in range(10)}
    with pytest.raises(ValueError):
        split_people(10, {d: 0 for d in range(10)})


def test_grouping_balances_the_largest_window():
    counts = dict.fromkeys(range(10), 100)
    groups = group_digits(counts, limit=Fraction(500), surge_fraction=Fraction(1))
    assert groups == [(0, 1, 2, 3, 4), (5, 6, 7, 8, 9)]
    groups = group_digits(counts, limit=Fraction(400), surge_fraction=Fraction(1))
    assert len(groups) == 3 and max(len(g) for g in groups) == 4


@settings(max_examples=60, deadline=None)
@given(
    cohort=st.integers(min_value=1, max_value=60_000_000),
    rate=st.integers(min_value=1, max_value=20_000),
    surge_percent=st.integers(min_value=1, max_value=100),
    start=st.dates(min_value=date(1900, 1, 1), max_value=date(2020, 12, 31)),
    span=st.integers(min_value=0, max_value=3_000),
)
def test_every_person_of_the_cohort_once_and_every_window_under_the_rate(
    cohort, rate, surge_percent, start, span
):
    born_to = start + timedelta(days=span)
    fraction = Fraction(surge_percent, 100)
    proposal = propose(
        cohort=cohort,
        rate_per_minute=rate,
        first_opening=OPENING,
        birth_range=(start, born_to),
        surge_fraction=fraction,
    )
    assert _covered_once(proposal, start, born_to)
    assert sum(w.people for w in proposal.windows) == cohort
    assert "digit_over_rate" not in proposal.codes()
    for w in proposal.windows:
        if w.people * fraction > rate * 60:  # only one day of births alone may be over
            assert "day_over_rate" in proposal.codes() and w.born_from == w.born_to
        if w.born_from is not None:
            assert len(w.digits) == 1 and start <= w.born_from <= w.born_to <= born_to
    for a, b in zip(proposal.windows, proposal.windows[1:], strict=False):
        assert b.opens_at - a.opens_at == timedelta(days=1)
    # a split digit is split into the fewest parts: one part fewer has a part over the rate
    for digit in range(10):
        parts = [w for w in proposal.windows if w.digits == (digit,) and w.born_from]
        if len(parts) > 1 and "day_over_rate" not in proposal.codes():
            n = sum(1 for _ in days_ending_in(digit, start, born_to))
            people = sum(w.people for w in parts)
            # with one part fewer, some part has this many days; its people (the exact share
            # rounded up, as split_digit bounds it) would be over the rate
            longest = math.ceil(Fraction(n, len(parts) - 1))
            assert math.ceil(Fraction(people * longest, n)) * fraction > rate * 60


def test_a_part_rounded_up_to_a_whole_person_still_keeps_under_the_rate():
    """6,000 people over 14 days, 7 % in the first hour, 60 a first hour (1 a minute): seven
    two-day parts would hold 857 1/7 people each exactly (60 a first hour), but whole people make
    one of them 858 (60.06): one-day parts instead."""
    days = [date(2000, 1, 1) + timedelta(days=n) for n in range(14)]
    parts = split_digit(1, 6_000, days, limit=Fraction(60), surge_fraction=Fraction(7, 100))
    assert all(p.people * Fraction(7, 100) <= 60 for p in parts)
    assert sum(p.people for p in parts) == 6_000 and len(parts) == 14
