"""The figures computed at each scrape: bookings, confirmation lag, the Celery queues, the
waiting rooms and whether the components are up.

Computed from the source of truth when Prometheus asks (every 15 s or so), not counted as they
happen: every web process and worker would have to share counters, and a counter kept in a
process is lost with it. The cost is bounded whatever the number of bookings: two GROUP BY
queries and an index lookup over bookings, shared by every process through the cache for a few
seconds, and one query over campaigns (pinned by a test), a few Redis reads, and the health
checks. Booking counts are per campaign (tens of label values, not per booking).

``*_total`` families are counters in Prometheus' sense: counts of events since the start
(bookings requested, decided) that only grow — a row is never deleted (retention blanks
personal fields, not rows) — so ``rate()`` and ``increase()`` work on them. The rest are gauges:
how things stand now (bookings by current status, the oldest pending one's age, queue lengths).
"""

import logging
import time
from datetime import timedelta

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError
from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Max, Q
from django.utils import timezone
from kombu.transport.redis import PRIORITY_STEPS, Channel
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from bookings.models import Booking
from campaigns import waiting_room
from campaigns.models import Campaign
from vaxbook.metrics import health

logger = logging.getLogger(__name__)

RECENT = timedelta(minutes=5)  # the confirmation lag of bookings decided this recently
RECENT_REQUESTS = timedelta(hours=1)  # ...among those requested this recently (an index range)
DECIDED_STATUSES = [s for s in Booking.Status.values if s != Booking.Status.PENDING]
FIGURES_KEY = "metrics:booking-figures"


def booking_figures() -> dict:
    """Counts by campaign (slug) and status, and the confirmation lag: three queries.

    The counts are one GROUP BY over the bookings (a scan of the table: about a second per few
    million rows), hence the short cache in ``cached_booking_figures``. The oldest pending
    booking comes from the (status, requested_at) index; the recent lag looks only at bookings
    requested in the last hour (the same index), decided in the last five minutes — one
    requested earlier and decided only now is the oldest-pending gauge's business.
    """
    rows = (
        # people's bookings: a course of several doses is one booking (its first dose's row)
        Booking.objects.filter(first_dose__isnull=True)
        .values("campaign__slug", "status")
        .annotate(
            n=Count("id"),
            # a booking ever confirmed keeps its code, whatever became of it since (cancelled,
            # moved, rejected when its clinic closed the day): the counter never falls
            confirmed=Count("id", filter=Q(code__isnull=False)),
            rejected=Count("id", filter=Q(code__isnull=True, decided_at__isnull=False)),
        )
        .order_by()
    )
    now = timezone.now()
    oldest_pending = (
        Booking.objects.filter(status=Booking.Status.PENDING)
        .order_by("requested_at")
        .values_list("requested_at", flat=True)
        .first()
    )
    lag = ExpressionWrapper(F("decided_at") - F("requested_at"), output_field=DurationField())
    lags = Booking.objects.filter(
        status__in=DECIDED_STATUSES,
        requested_at__gte=now - RECENT_REQUESTS,
        decided_at__gte=now - RECENT,
    ).aggregate(recent_avg=Avg(lag), recent_max=Max(lag))
    return {"rows": list(rows), "lags": {**lags, "oldest_pending": oldest_pending}, "now": now}


def cached_booking_figures() -> dict:
    """``booking_figures``, shared through the cache for ``VAXBOOK_METRICS_CACHE_SECONDS``:
    however many web machines Prometheus scrapes, the database counts once per period."""
    seconds = settings.VAXBOOK_METRICS_CACHE_SECONDS
    if not seconds:
        return booking_figures()
    try:
        figures = cache.get(FIGURES_KEY)
        if figures is None:
            figures = booking_figures()
            cache.set(FIGURES_KEY, figures, timeout=seconds)
    except redis.RedisError:  # Redis went away since its check: count without sharing
        figures = booking_figures()
    return figures


def campaigns_waiting(now: float) -> dict[str, int]:
    """People waiting per campaign whose waiting room is on and not yet closed: one query,
    then the cached configuration (a database read only when it expired) and Redis."""
    slugs = Campaign.objects.filter(
        waiting_room_enabled=True, closes_at__gt=timezone.now()
    ).values_list("slug", flat=True)
    waiting = {}
    for slug in slugs:
        config = waiting_room.config_for(slug)
        if config is not None and config.enabled:
            waiting[slug] = waiting_room.people_waiting(config, now=now)
    return waiting


def queue_lengths() -> dict[str, int] | None:
    """Messages waiting in each Celery queue (Redis LLEN; kombu keeps a queue's messages of
    priority p > 0 in ``<queue>\\x06\\x16<p>``, so those lists are added), and ``unacked``
    (delivered to a worker, not yet done). None when there is no broker to ask."""
    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://")):
        return None
    timeout = float(settings.VAXBOOK_HEALTH_TIMEOUT)
    client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        names = [queue.name for queue in settings.CELERY_TASK_QUEUES]
        pipe = client.pipeline(transaction=False)
        for name in names:
            for step in PRIORITY_STEPS:
                pipe.llen(f"{name}{Channel.sep}{step}" if step else name)
        pipe.hlen(Channel.unacked_key)
        counts = pipe.execute()
    finally:
        client.close()
    per_queue = len(PRIORITY_STEPS)
    lengths = {
        name: sum(counts[i * per_queue : (i + 1) * per_queue]) for i, name in enumerate(names)
    }
    lengths["unacked"] = counts[-1]
    return lengths


class OperatorsCollector:
    """A prometheus-client custom collector: ``collect()`` runs at each scrape."""

    def describe(self):
        return []  # computed at scrape time: nothing to check at registration

    def collect(self):
        """Each part is left out of the scrape when what it reads fails (``vaxbook_up`` says
        which); the rest is still answered."""
        up = health.check_all()
        yield self._up(up)
        if health.is_up(up["database"]):
            yield from self._guarded(self._bookings, up)
        if health.is_up(up["redis"]) and health.is_up(up["database"]):
            yield from self._guarded(self._waiting, up)
        if health.is_up(up["broker"]):
            yield from self._guarded(self._queues, up)

    @staticmethod
    def _guarded(part, up: dict[str, str]):
        try:
            families = list(part(up))
        except (DatabaseError, redis.RedisError) as error:
            logger.warning("metrics: %s left out of the scrape: %r", part.__name__, error)
            return []
        return families

    @staticmethod
    def _waiting(up: dict[str, str]):
        waiting = GaugeMetricFamily(
            "vaxbook_waiting_room_people",
            "People in a campaign's waiting room whose turn has not come (current line).",
            labels=["campaign"],
        )
        for slug, count in sorted(campaigns_waiting(time.time()).items()):
            waiting.add_metric([slug], count)
        yield waiting

    @staticmethod
    def _up(up: dict[str, str]):
        family = GaugeMetricFamily(
            "vaxbook_up",
            "1 when the component answered the health check (database, redis, broker).",
            labels=["component"],
        )
        for component in health.COMPONENTS:
            family.add_metric([component], 1 if health.is_up(up[component]) else 0)
        return family

    @staticmethod
    def _bookings(up: dict[str, str]):
        figures = cached_booking_figures() if health.is_up(up["redis"]) else booking_figures()
        current = GaugeMetricFamily(
            "vaxbook_bookings",
            "Bookings by campaign and current status (pending, confirmed, rejected, ...).",
            labels=["campaign", "status"],
        )
        requested = CounterMetricFamily(
            "vaxbook_bookings_requested",
            "Bookings requested (a course of several doses counts once), whatever became of it.",
            labels=["campaign"],
        )
        decided = CounterMetricFamily(
            "vaxbook_bookings_decided",
            "Bookings decided by a confirmation: outcome confirmed (even if cancelled or "
            "moved since) or rejected.",
            labels=["campaign", "outcome"],
        )
        totals: dict[str, dict[str, int]] = {}
        for row in figures["rows"]:
            slug, status = row["campaign__slug"], row["status"]
            current.add_metric([slug, status], row["n"])
            counts = totals.setdefault(slug, {"requested": 0, "confirmed": 0, "rejected": 0})
            counts["requested"] += row["n"]
            counts["confirmed"] += row["confirmed"]
            counts["rejected"] += row["rejected"]
        for slug, counts in sorted(totals.items()):
            requested.add_metric([slug], counts["requested"])
            decided.add_metric([slug, "confirmed"], counts["confirmed"])
            decided.add_metric([slug, "rejected"], counts["rejected"])
        yield current
        yield requested
        yield decided

        lags, now = figures["lags"], figures["now"]
        oldest = lags["oldest_pending"]
        yield GaugeMetricFamily(
            "vaxbook_oldest_pending_booking_age_seconds",
            "Age of the oldest booking still pending (0 when none is): the confirmation lag.",
            value=max((now - oldest).total_seconds(), 0.0) if oldest else 0.0,
        )
        for name, key, what in (
            ("avg", "recent_avg", "Mean"),
            ("max", "recent_max", "Longest"),
        ):
            value = lags[key]
            yield GaugeMetricFamily(
                f"vaxbook_confirmation_lag_{name}_seconds",
                f"{what} time from request to decision of the bookings decided in the last "
                f"{int(RECENT.total_seconds() // 60)} minutes (0 when none was).",
                value=value.total_seconds() if value is not None else 0.0,
            )

    @staticmethod
    def _queues(up: dict[str, str]):
        lengths = queue_lengths()
        if lengths is None:
            return
        unacked = lengths.pop("unacked")
        family = GaugeMetricFamily(
            "vaxbook_celery_queue_length",
            "Messages waiting in a Celery queue of the broker (not yet taken by a worker).",
            labels=["queue"],
        )
        for name, count in lengths.items():
            family.add_metric([name], count)
        yield family
        yield GaugeMetricFamily(
            "vaxbook_celery_unacked_messages",
            "Messages taken by a worker and not yet acknowledged (running or prefetched).",
            value=unacked,
        )
