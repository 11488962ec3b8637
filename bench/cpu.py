"""Where the machine's CPU goes during the surge, by tier: the web server, the Celery workers,
PostgreSQL, Redis, the balancer and the load generator (this process and its citizens' worker
processes), from /proc, over the time the citizens are served.

A tier's CPU is every one of its live processes' own time (utime + stime) plus the time of its
children that have exited and been reaped (cutime + cstime): PostgreSQL's backends that closed,
the load generator's worker processes once they are done. The machine's busy time (/proc/stat)
is measured over the same span; what no tier accounts for is other work on the machine.
"""

import os
from pathlib import Path

from bench.pagecost import TICKS, WEB_MARKER, command_line

TIERS = ("web", "celery", "postgres", "redis", "balancer")


def _tier(pid: int, comm: str) -> str | None:
    if comm == "postgres":
        return "postgres"
    if comm.startswith("redis-server"):
        return "redis"
    if comm == "haproxy":
        return "balancer"
    cmdline = command_line(pid)
    if WEB_MARKER in cmdline:
        return "web"
    if b"celery" in cmdline:
        return "celery"
    return None


def _tiers_seconds() -> dict[str, float]:
    spent = dict.fromkeys(TIERS, 0.0)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # gone meanwhile
            continue
        comm = text[text.index("(") + 1 : text.rindex(")")]
        fields = text.rsplit(")", 1)[1].split()
        tier = _tier(int(stat.parent.name), comm)
        if tier is not None:
            # fields[11:15]: utime, stime, cutime, cstime (stat fields 14–17)
            spent[tier] += sum(int(f) for f in fields[11:15]) / TICKS
    return spent


def _own_seconds() -> float:
    """This process (the load generator's driver) and its reaped children (the citizens'
    worker processes)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _machine_busy_seconds() -> float:
    with open("/proc/stat") as f:
        cpu = [int(v) for v in f.readline().split()[1:]]
    idle = cpu[3] + cpu[4]  # idle, iowait
    return (sum(cpu[:8]) - idle) / TICKS  # without guest time (counted in user already)


class TierMeter:
    """start() before the work, stop() after; then result(per=n) gives each tier's CPU."""

    def start(self) -> None:
        self._tiers, self._own, self._busy = (
            _tiers_seconds(),
            _own_seconds(),
            _machine_busy_seconds(),
        )

    def stop(self) -> None:
        tiers, own, busy = _tiers_seconds(), _own_seconds(), _machine_busy_seconds()
        self.spent = {tier: max(tiers[tier] - self._tiers[tier], 0.0) for tier in TIERS}
        self.spent["load_generator"] = own - self._own
        self.busy = busy - self._busy

    def result(self, *, per: int, seconds: float) -> dict:
        """CPU seconds per tier over `seconds`, and milliseconds of it per one of `per`
        (the confirmed bookings)."""
        accounted = sum(self.spent.values())
        tiers = {**self.spent, "other": max(self.busy - accounted, 0.0)}
        return {
            "seconds": round(seconds, 1),
            "machine_busy_cpu_s": round(self.busy, 1),
            "per": per,
            "tiers": {
                tier: {
                    "cpu_s": round(cpu, 1),
                    "ms_per_booking": round(cpu * 1000 / per, 1) if per else None,
                    "share": round(cpu / self.busy, 3) if self.busy else None,
                }
                for tier, cpu in tiers.items()
            },
        }
