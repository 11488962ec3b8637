"""English dates, one format everywhere: Fri 27 Nov 2026, 20:00 KST (always Korea time)."""

DATE_FORMAT = "D j M Y"
TIME_FORMAT = "H:i"
DATETIME_FORMAT = "D j M Y, H:i T"  # T: the zone, KST
SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i T"
MONTH_DAY_FORMAT = "D j M"
YEAR_MONTH_FORMAT = "F Y"
FIRST_DAY_OF_WEEK = 0
