"""How many people stand in a campaign's waiting room now.

STOPGAP, to move into ``campaigns.waiting_room`` (not owned by the metrics app): the issued
counts below read that module's counters by their key names (``:early-seq``, ``:late-seq``,
``:base``), which only it should know. Everything else goes through its functions.
"""

from django.core.cache import cache

from campaigns import waiting_room
from campaigns.waiting_room import QueueConfig


def people_waiting(config: QueueConfig, *, now: float) -> int:
    """Places in the current line (the latest opening's while a window is open, else the next
    opening's) that hold a ticket and whose turn has not come yet: its length as the meter
    sees it. People who gave up and closed the page still count until their turn passes.
    Redis reads only (a handful), no database."""
    opening = config.line_for_arrival(now)
    if opening is None:
        return 0
    line = config.line_prefix(opening)
    early = int(cache.get(f"{line}:early-seq") or 0)
    late = int(cache.get(f"{line}:late-seq") or 0)
    if now < opening:
        return early  # everyone who came early waits for the draw
    drawn = waiting_room.drawn_count(config, opening)
    if drawn is None:  # the draw is running: nobody of the early ones is admitted yet
        return early + late
    admitted_early = min(waiting_room.admitted_upto(config, opening, now=now), drawn)
    base = cache.get(f"{line}:base")
    base_at, base_count = (base[0], base[1]) if base else (None, 0)
    admitted_late = waiting_room.late_admitted(config, opening, drawn, base_at, base_count, now=now)
    admitted_late = min(max(admitted_late, 0), late)
    return (drawn - admitted_early) + (late - admitted_late)
