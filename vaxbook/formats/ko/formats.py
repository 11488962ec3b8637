"""Korean dates as a Korean public service writes them: 2026년 11월 27일 (금) 20:00.

Django's format characters; the weekday (``D``) comes from Django's own Korean catalogue.
Times are Korea time (``TIME_ZONE``); pages add "KST" where they show one (``vaxbook.dates``).
"""

DATE_FORMAT = "Y년 n월 j일 (D)"
TIME_FORMAT = "H:i"
DATETIME_FORMAT = "Y년 n월 j일 (D) H:i"
SHORT_DATE_FORMAT = "Y. n. j."
SHORT_DATETIME_FORMAT = "Y. n. j. H:i"
MONTH_DAY_FORMAT = "n월 j일 (D)"
YEAR_MONTH_FORMAT = "Y년 n월"
FIRST_DAY_OF_WEEK = 0  # Sunday, as Korean calendars print it
