"""Request rates and latencies by view, for Prometheus.

Labels are bounded by the code, never by what a client sends: the view is the resolved URL
name (``bookings:start``, never ``/book/covid-60/``), ``unmatched`` for a path no URL matches
(404s of scanners), the method one of the usual few or ``other``, the status its class (2xx…).
"""

import time

from django.http import HttpRequest, HttpResponse
from prometheus_client import Counter, Histogram

from vaxbook.metrics.registry import REQUEST_REGISTRY

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

REQUESTS = Counter(
    "vaxbook_http_requests",
    "HTTP requests answered, by view (URL name), method and status class.",
    ["view", "method", "status"],
    registry=REQUEST_REGISTRY,
)
LATENCY = Histogram(
    "vaxbook_http_request_duration_seconds",
    "Time from the request's arrival to its response, by view (URL name).",
    ["view"],
    registry=REQUEST_REGISTRY,
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)


def view_label(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched"
    return match.view_name or "unnamed"


class RequestMetrics:
    """Counts and times every request; the outermost middleware, so its time is the whole of
    Django's (the other middleware included), and it sees the response every other one made."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        view = view_label(request)
        method = request.method if request.method in METHODS else "other"
        REQUESTS.labels(view, method, f"{response.status_code // 100}xx").inc()
        LATENCY.labels(view).observe(elapsed)
        return response
