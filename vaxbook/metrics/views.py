"""The operators' endpoints: /metrics (Prometheus, behind a token), /healthz and /ping.

None reads or writes the session, needs a CSRF token or writes to the database; all are
never cached.
"""

import hmac
import logging

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from vaxbook.metrics import health
from vaxbook.metrics.registry import exposition

logger = logging.getLogger(__name__)


def _bearer_token(request: HttpRequest) -> str | None:
    scheme, _sep, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def check_metrics_access(request: HttpRequest) -> HttpResponse | None:
    """None when the request may read the metrics, else the refusal to send.

    With ``VAXBOOK_METRICS_TOKEN`` set: the token, as a bearer token (compared in constant
    time), else 401 (none given) or 403 (a wrong one). Without it: 404 in production (the
    metrics are off), open in development.
    """
    expected = settings.VAXBOOK_METRICS_TOKEN
    if not expected:
        if settings.PRODUCTION:
            raise Http404
        return None
    given = _bearer_token(request)
    if given is None:
        response = HttpResponse(
            _("The metrics need a bearer token."), status=401, content_type="text/plain"
        )
        response["WWW-Authenticate"] = 'Bearer realm="vaxbook-metrics"'
        return response
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return HttpResponse(
            _("This token does not open the metrics."), status=403, content_type="text/plain"
        )
    return None


@never_cache
@require_safe
def ping(request: HttpRequest) -> HttpResponse:
    """The one-line view: "ok", with no database, Redis or template behind it. It goes through
    every middleware like any page, so what a booking page costs beyond it is the page's own
    work: the benchmark measures the web processes' CPU per request of both in the same run
    (``bench.pagecost``). It says the process answers, not that its dependencies do
    (that is /healthz)."""
    return HttpResponse("ok", content_type="text/plain")


@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    refusal = check_metrics_access(request)
    if refusal is not None:
        return refusal
    body, content_type = exposition(request.headers.get("Accept", ""))
    return HttpResponse(body, content_type=content_type)


_last_failing: frozenset[str] = frozenset()


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database, Redis and the broker are all reachable, else 503 naming the
    failing one(s). A change of state is logged once (per process), as a warning; the 503s
    themselves are not logged as server errors on every probe."""
    global _last_failing
    checks = health.check_all()
    failing = frozenset(name for name, state in checks.items() if not health.is_up(state))
    if failing != _last_failing:
        if failing:
            logger.warning("health check failing: %s", ", ".join(sorted(failing)))
        else:
            logger.warning("health check passing again")
        _last_failing = failing
    response = JsonResponse(
        {"status": "down" if failing else "ok", "checks": checks}, status=503 if failing else 200
    )
    # Django logs every 5xx on "django.request" as an error; a load balancer probes every few
    # seconds, so that would be thousands of lines for one outage.
    response._has_been_logged = True
    return response
