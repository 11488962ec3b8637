"""The capacity plan: from the cohort and the rate this installation sustains, the staggered
windows that keep every opening's surge under that rate. Pure functions: no database, no clock.

Assumptions, said once:

* **Births are spread evenly over the calendar days** of the cohort's birth range, so the share
  of the cohort whose day of birth ends in a digit is the share of the range's calendar days
  that end in it (``birth_day_digit_weights``): over whole years digit 1 has the most (1st,
  11th, 21st and 31st), 9 slightly fewer than 2–8 (no 29 February in most years).
* **The surge**: a fraction of a window's people try in its first hour (``surge_fraction``;
  1.7 of 3.52 million did on the 2021 night, the default). A window keeps under the rate when
  that hour's arrivals, spread over sixty minutes, are no more than the sustainable rate a
  minute: ``people × surge_fraction ≤ rate × 60``.
* **Windows group whole digits, in order** (0–2, 3–5, …): the fewest windows for which that
  holds, then the digits shared so that the largest window is as small as it can be.
* **A digit over the rate alone is split by birth date**: its calendar days in the cohort's
  range (in order) are cut into the fewest consecutive runs of near-equal length whose people
  keep under the rate, each run a window for that digit and the birth dates from its first day
  to its last (``split_digit``). Its people are shared by the count of its days in each run
  (the same even-births assumption). Only a single calendar day over the rate cannot be split
  further (``day_over_rate``).
* One window opens a day at the first opening's time (Korea's 2021 rotation), each open
  ``window_hours``, so a split digit adds days to the rotation.
"""

import functools
import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from fractions import Fraction

# 2021: 1.7 million of the 3.52 million of the 55–59 cohort came in the first hour.
DEFAULT_SURGE_FRACTION = Fraction(17, 35)
DIGITS = tuple(range(10))


@dataclass(frozen=True)
class PlanWarning:
    """Something the official should know, as data: ``code`` and its ``params``; the page
    makes the sentence."""

    code: str
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ProposedWindow:
    number: int  # 1, 2, … in opening order
    opens_at: datetime
    closes_at: datetime
    digits: tuple[int, ...]
    people: int  # expected people whose birth day ends in these digits (and born in the range)
    surge_per_minute: int  # expected arrivals a minute in the first hour
    # A part of one digit split by birth date: only people born from ``born_from`` to
    # ``born_to`` (both included) whose birth day ends in the window's one digit.
    born_from: date | None = None
    born_to: date | None = None

    @property
    def hours(self) -> float:
        return (self.closes_at - self.opens_at).total_seconds() / 3600


@dataclass(frozen=True)
class Proposal:
    cohort: int
    rate_per_minute: int  # the sustainable rate, and the admission rate to set
    surge_fraction: Fraction
    windows: tuple[ProposedWindow, ...]
    warnings: tuple[PlanWarning, ...]

    @property
    def admission_rate_per_minute(self) -> int:
        """The waiting room's rate: what the installation sustains, no more."""
        return self.rate_per_minute

    @property
    def surge_limit(self) -> int:
        """The most people one window may see in its first hour."""
        return self.rate_per_minute * 60

    def codes(self) -> set[str]:
        return {w.code for w in self.warnings}


def birth_day_digit_weights(born_from: date, born_to: date) -> dict[int, int]:
    """How many calendar days of ``born_from``–``born_to`` (both included) end in each digit."""
    if born_to < born_from:
        raise ValueError("The birth range is empty.")
    weights = dict.fromkeys(DIGITS, 0)
    day = born_from
    while day <= born_to:
        weights[day.day % 10] += 1
        day += timedelta(days=1)
    return weights


def split_people(cohort: int, weights: dict[int, int]) -> dict[int, int]:
    """The cohort shared out by digit in proportion to ``weights``, in whole people that add
    up to ``cohort`` (largest remainders)."""
    if sum(weights.values()) <= 0:
        raise ValueError("No digit has any weight.")
    shares = _largest_remainders(cohort, [weights.get(d, 0) for d in DIGITS])
    return dict(zip(DIGITS, shares, strict=True))


def _largest_remainders(total: int, weights: list[int]) -> list[int]:
    """``total`` shared in proportion to ``weights``, in whole numbers adding up to it; each
    share is its exact share rounded down or up."""
    whole = sum(weights)
    exact = [Fraction(total * w, whole) for w in weights]
    shares = [math.floor(e) for e in exact]
    left = total - sum(shares)
    for i in sorted(range(len(weights)), key=lambda i: (-(exact[i] - shares[i]), i))[:left]:
        shares[i] += 1
    return shares


def days_ending_in(digit: int, born_from: date, born_to: date) -> list[date]:
    """The calendar days of ``born_from``–``born_to`` (both included) whose day ends in
    ``digit``, in order."""
    days, day = [], born_from
    while day <= born_to:
        if day.day % 10 == digit:
            days.append(day)
        day += timedelta(days=1)
    return days


@dataclass(frozen=True)
class DigitPart:
    """A run of one digit's days: people born ``born_from``–``born_to`` whose birth day ends
    in ``digit`` (``days`` such calendar days)."""

    digit: int
    born_from: date
    born_to: date
    days: int
    people: int


def split_digit(
    digit: int,
    people: int,
    days: list[date],
    *,
    limit: Fraction,
    surge_fraction: Fraction,
) -> list[DigitPart]:
    """``days`` (one digit's calendar days, in order; ``people`` born on them, evenly) cut into
    the fewest consecutive runs whose first-hour surge is at most ``limit``, the runs' lengths
    differing by one day at most. One day over the limit alone makes one-day runs (the caller
    warns). The parts' people add up to ``people``; together they hold each day once."""
    n = len(days)
    if n == 0:
        raise ValueError("The digit has no day in the range.")

    def most_people(run: int) -> int:  # a run of ``run`` days holds at most this many
        return math.ceil(Fraction(people * run, n))

    # the longest run that fits, from the exact share, then down for the rounding up
    longest = min(n, math.floor(limit / surge_fraction * n / people)) if people else n
    while longest > 1 and surge(most_people(longest), surge_fraction) > limit:
        longest -= 1
    longest = max(longest, 1)
    count = math.ceil(n / longest)
    lengths = [n // count + (1 if i < n % count else 0) for i in range(count)]
    shares = _largest_remainders(people, lengths)
    parts, start = [], 0
    for length, share in zip(lengths, shares, strict=True):
        run = days[start : start + length]
        parts.append(DigitPart(digit, run[0], run[-1], length, share))
        start += length
    return parts


def surge(people: int, surge_fraction: Fraction) -> Fraction:
    """Expected arrivals in a window's first hour."""
    return people * Fraction(surge_fraction)


def group_digits(
    people: dict[int, int], *, limit: Fraction, surge_fraction: Fraction
) -> list[tuple[int, ...]]:
    """Consecutive digits 0–9 in the fewest groups whose first-hour surge is at most ``limit``,
    then balanced so the largest group's is as small as possible. A digit alone over the limit
    makes a group of its own (the caller warns)."""
    counts = [people[d] for d in DIGITS]

    def fits(a: int, b: int) -> bool:  # digits a..b-1; a single digit always makes a group
        return b - a == 1 or surge(sum(counts[a:b]), surge_fraction) <= limit

    cuts = [0, *_balanced_cuts(counts, _fewest_groups(len(counts), fits), fits), len(counts)]
    return [tuple(DIGITS[a:b]) for a, b in zip(cuts, cuts[1:], strict=False)]


def _fewest_groups(n: int, fits) -> int:
    """Greedy from the left: optimal for consecutive groups (``fits`` is monotonic)."""
    fewest, start = 0, 0
    while start < n:
        end = start + 1
        while end < n and fits(start, end + 1):
            end += 1
        fewest += 1
        start = end
    return fewest


def _balanced_cuts(counts: list[int], groups: int, fits) -> list[int]:
    """The inner cut points of ``counts`` into exactly ``groups`` runs that each fit, with the
    smallest possible largest run (dynamic programming over the ten digits)."""
    n = len(counts)

    @functools.cache
    def split(i: int, k: int) -> tuple[int, tuple[int, ...]] | None:
        """Digits i.. in exactly k runs: (largest run, cut points), or None."""
        if k == 1:
            return (sum(counts[i:]), ()) if fits(i, n) else None
        found = None
        for j in range(i + 1, n - k + 2):
            if not fits(i, j):
                break
            rest = split(j, k - 1)
            if rest is not None:
                largest = max(sum(counts[i:j]), rest[0])
                if found is None or largest < found[0]:
                    found = (largest, (j, *rest[1]))
        return found

    best = split(0, groups)
    assert best is not None  # the greedy grouping is one such split
    return list(best[1])


def _planned(
    people: dict[int, int],
    birth_range: tuple[date, date] | None,
    *,
    limit: Fraction,
    surge_fraction: Fraction,
) -> list[tuple[tuple[int, ...], int, date | None, date | None]]:
    """(digits, people, born_from, born_to) of each window, in opening order: the digits
    grouped, and each digit over the limit alone split by birth date (when the range is
    known)."""
    planned = []
    for digits in group_digits(people, limit=limit, surge_fraction=surge_fraction):
        in_group = sum(people[d] for d in digits)
        if surge(in_group, surge_fraction) <= limit or birth_range is None:
            planned.append((digits, in_group, None, None))
            continue
        (digit,) = digits  # only a digit alone can be over the limit
        parts = split_digit(
            digit,
            in_group,
            days_ending_in(digit, *birth_range),
            limit=limit,
            surge_fraction=surge_fraction,
        )
        planned.extend(((digit,), p.people, p.born_from, p.born_to) for p in parts)
    return planned


def _check(cohort: int, rate_per_minute: int, surge_fraction, window_hours: int) -> None:
    if cohort < 1 or rate_per_minute < 1:
        raise ValueError("The cohort and the rate must be positive.")
    if not 0 < surge_fraction <= 1:
        raise ValueError("The surge fraction must be in (0, 1].")
    if not 1 <= window_hours <= 24:
        raise ValueError("A window is open 1 to 24 hours.")


def _window_warnings(
    window: ProposedWindow, rate_per_minute: int, window_hours: int
) -> list[PlanWarning]:
    """Over the rate in its first hour (a digit that could not be split, or one day of
    births), or too short to admit its people at the rate."""
    warnings = []
    if window.surge_per_minute > rate_per_minute:
        over = {
            "window": window.number,
            "digit": window.digits[0],
            "per_minute": window.surge_per_minute,
        }
        if window.born_from is None:
            warnings.append(PlanWarning("digit_over_rate", over))
        else:
            warnings.append(PlanWarning("day_over_rate", {**over, "born": window.born_from}))
    if window.people > rate_per_minute * 60 * window_hours:
        hours = math.ceil(window.people / (rate_per_minute * 60))
        warnings.append(PlanWarning("window_too_short", {"window": window.number, "hours": hours}))
    return warnings


def propose(
    *,
    cohort: int,
    rate_per_minute: int,
    first_opening: datetime,
    digit_weights: dict[int, int] | None = None,
    birth_range: tuple[date, date] | None = None,
    surge_fraction: Fraction = DEFAULT_SURGE_FRACTION,
    window_hours: int = 22,
    places_free: int | None = None,
    doses: int = 1,
    second_dose_days_short: int = 0,
    second_dose_missing: int = 0,
    campaign_closes_at: datetime | None = None,
) -> Proposal:
    """The windows for ``cohort`` people at ``rate_per_minute`` sustained admissions.

    ``birth_range`` (the cohort's first and last birth dates) gives the digits' weights from
    the calendar and lets a digit over the rate be split by birth date; ``digit_weights``
    alone cannot split (that digit keeps one window, warned ``digit_over_rate``).

    Guarantees: every person of the cohort is in exactly one window (each digit in one window,
    or a split digit's days each in one of its parts); every window's expected first-hour surge
    is at most ``rate_per_minute × 60``, unless one calendar day's people alone exceed it
    (``day_over_rate``). Windows open a day apart from ``first_opening`` and stay open
    ``window_hours`` (1–24, so they never overlap). Warnings also when the places free
    (``places_free``, for ``doses`` each) are fewer than the cohort needs, when second-dose
    places fall short (from ``campaigns.selectors.second_dose_shortfall``), when a window is
    too short to admit its people at the rate, and when the windows need more days than the
    campaign allows (``after_campaign_closes``: the proposal is still made whole).
    """
    _check(cohort, rate_per_minute, surge_fraction, window_hours)
    if birth_range is not None:
        digit_weights = birth_day_digit_weights(*birth_range)
    elif digit_weights is None:
        raise ValueError("Give the cohort's birth range or the digits' weights.")
    surge_fraction = Fraction(surge_fraction)
    limit = Fraction(rate_per_minute * 60)
    people = split_people(cohort, digit_weights)
    planned = _planned(people, birth_range, limit=limit, surge_fraction=surge_fraction)
    warnings: list[PlanWarning] = []
    windows = []
    for number, (digits, in_window, born_from, born_to) in enumerate(planned, start=1):
        opens_at = first_opening + timedelta(days=number - 1)
        first_hour = surge(in_window, surge_fraction)
        windows.append(
            ProposedWindow(
                number=number,
                opens_at=opens_at,
                closes_at=opens_at + timedelta(hours=window_hours),
                digits=digits,
                people=in_window,
                surge_per_minute=math.ceil(first_hour / 60),
                born_from=born_from,
                born_to=born_to,
            )
        )
        warnings.extend(_window_warnings(windows[-1], rate_per_minute, window_hours))
    needed = cohort * doses
    if places_free is not None and places_free < needed:
        warnings.append(
            PlanWarning(
                "places_short",
                {"free": places_free, "needed": needed, "missing": needed - places_free},
            )
        )
    if doses > 1 and second_dose_days_short:
        warnings.append(
            PlanWarning(
                "second_doses_short",
                {"days": second_dose_days_short, "missing": second_dose_missing},
            )
        )
    late = [w for w in windows if campaign_closes_at and w.closes_at > campaign_closes_at]
    if late:
        warnings.append(
            PlanWarning(
                "after_campaign_closes",
                {
                    "window": late[0].number,  # the first that closes after the campaign
                    "days": len(windows),  # days of windows the proposal needs
                    "fit": late[0].number - 1,  # windows that close in time
                },
            )
        )
    return Proposal(
        cohort=cohort,
        rate_per_minute=rate_per_minute,
        surge_fraction=surge_fraction,
        windows=tuple(windows),
        warnings=tuple(warnings),
    )
