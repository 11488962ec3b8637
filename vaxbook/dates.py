"""Dates and times as a person reads them, in the active language, always in Korea time.

Pages and messages use these (or the ``kst`` template filters in ``vaxbook_tags``), never
``strftime``: the format follows the language (``vaxbook/formats``), the zone is always KST
and says so.
"""

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from django.utils import formats, timezone
from django.utils.translation import gettext_noop

KST = ZoneInfo("Asia/Seoul")

# The short weekday names Django's "D" prints. Django's own Korean catalogue gives the full
# name ("금요일") for them; ours, read first, gives the one syllable Korean dates use: (금).
# Translators: a weekday shortened as Korean dates print it, in brackets after the date.
WEEKDAYS_SHORT = [
    gettext_noop("Mon"),
    gettext_noop("Tue"),
    gettext_noop("Wed"),
    gettext_noop("Thu"),
    gettext_noop("Fri"),
    gettext_noop("Sat"),
    gettext_noop("Sun"),
]


def format_kst(moment: datetime) -> str:
    """ "2026년 11월 27일 (금) 20:00 KST" / "Fri 27 Nov 2026, 20:00 KST"."""
    # DATETIME_FORMAT ends with the zone's name ("T"): KST, here as in the admin.
    return formats.date_format(timezone.localtime(moment, KST), "DATETIME_FORMAT")


def format_day(day: date) -> str:
    """ "2026년 11월 27일 (금)" / "Fri 27 Nov 2026"."""
    return formats.date_format(day, "DATE_FORMAT")


def format_time(at: time) -> str:
    """ "20:00"."""
    return formats.time_format(at, "TIME_FORMAT")


def format_slot(day: date, at: time) -> str:
    """A slot's day and time, in Korea time: "2026년 11월 27일 (금) 09:30 KST"."""
    return format_kst(datetime.combine(day, at, tzinfo=KST))
