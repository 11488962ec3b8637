"""Korean dates as a Korean public service writes them: 2026년 11월 27일 (금) 20:00 KST.

Django's format characters; the short weekday (``D``) comes from our catalogue (locale/, read
before Django's own, which gives the full name). Times are Korea time (``TIME_ZONE``) and a date
with a time says so (``T``: KST), on the pages (``vaxbook.dates``) and in the admin alike.
"""

DATE_FORMAT = "Y년 n월 j일 (D)"
TIME_FORMAT = "H:i"
DATETIME_FORMAT = "Y년 n월 j일 (D) H:i T"  # T: the zone, KST
SHORT_DATE_FORMAT = "Y. n. j."
SHORT_DATETIME_FORMAT = "Y. n. j. H:i T"
MONTH_DAY_FORMAT = "n월 j일 (D)"
YEAR_MONTH_FORMAT = "Y년 n월"
FIRST_DAY_OF_WEEK = 0  # Sunday, as Korean calendars print it
