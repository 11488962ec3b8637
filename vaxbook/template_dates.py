"""Template filters for dates and times in the active language, in Korea time (a builtin:
no ``{% load %}`` needed). ``{{ moment|kst }}``, ``{{ day|day }}``, ``{{ slot|slot_when }}``."""

from django import template

from vaxbook import dates

register = template.Library()


@register.filter
def kst(moment):
    """A datetime: "2026년 11월 27일 (금) 20:00 KST"."""
    return dates.format_kst(moment) if moment else ""


@register.filter
def day(value):
    """A date: "2026년 11월 27일 (금)"."""
    return dates.format_day(value) if value else ""


@register.filter
def slot_when(slot):
    """A slot's day and start: "2026년 11월 27일 (금) 09:30 KST"."""
    return dates.format_slot(slot.date, slot.start_time) if slot else ""
