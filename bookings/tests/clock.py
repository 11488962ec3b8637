"""A clock away from midnight in Korea, for tests that read "today" and then ask the code
about today: a test started at 23:59:59 KST would otherwise set up today's slots and see the
code judge them after midnight, as yesterday's."""

from datetime import datetime, time

import time_machine
from django.utils import timezone

from vaxbook.dates import KST


def midday_in_korea() -> time_machine.travel:
    """Today's noon, Korea time, with the clock running from there (``with`` it)."""
    noon = datetime.combine(timezone.localdate(timezone.now(), KST), time(12, 0), tzinfo=KST)
    return time_machine.travel(noon, tick=True)
