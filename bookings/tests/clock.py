"""Clocks for tests whose outcome would otherwise depend on when they run.

A clock away from midnight in Korea, for tests that read "today" and then ask the code about
today: a test started at 23:59:59 KST would otherwise set up today's slots and see the code
judge them after midnight, as yesterday's.

A clock at the start of the abuse limits' windows, for tests that make a limit's worth of
attempts and expect the next one refused: the limits count per fixed window (``bookings.
throttle``: the window's number is the time divided by its length), so attempts that straddle
a window's end are counted in two windows and none of them is refused."""

from datetime import datetime, time

import time_machine
from django.utils import timezone

from vaxbook.dates import KST


def midday_in_korea() -> time_machine.travel:
    """Today's noon, Korea time, with the clock running from there (``with`` it)."""
    noon = datetime.combine(timezone.localdate(timezone.now(), KST), time(12, 0), tzinfo=KST)
    return time_machine.travel(noon, tick=True)


def start_of_the_limits_windows() -> time_machine.travel:
    """The first instant of a window of every abuse limit, with the clock running from there
    (``with`` it): noon in Korea is 03:00:00 UTC, where the windows of ten minutes and of an
    hour start and the day's (from 00:00 UTC) has nine hours to go."""
    return midday_in_korea()
