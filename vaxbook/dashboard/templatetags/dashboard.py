"""How the dashboard's page shows the JSON's values before its script takes over."""

from datetime import date

from django import template
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from vaxbook.dates import KST, format_day, format_kst

register = template.Library()


@register.filter
def moment(value: str | None) -> str:
    """An ISO date and time from the figures, in Korea time ("–" for none)."""
    parsed = parse_datetime(value) if value else None
    return format_kst(parsed) if parsed else "–"


@register.filter
def day(value: str) -> str:
    return format_day(date.fromisoformat(value))


@register.filter
def duration(seconds: int | None) -> str:
    """Seconds as H:MM:SS ("–" for none): the same in every language."""
    if seconds is None:
        return "–"
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


@register.filter
def minute(value: str) -> str:
    """An ISO minute from the series as HH:MM, Korea time."""
    parsed = parse_datetime(value)
    return timezone.localtime(parsed, KST).strftime("%H:%M") if parsed else value
