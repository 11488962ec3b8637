"""The officials' dashboard: an overview of every campaign, one campaign's live page, its
figures as JSON (what the page fetches every few seconds) and its per-minute series as CSV.

Beside the admin: each view is wrapped by ``admin.site.admin_view`` (a staff login, else the
login page) and asks for the officials' permissions to see campaigns and bookings; clinic
staff, who have an admin login but neither permission, get 403.
"""

import csv
from collections.abc import Callable
from functools import wraps

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext

from campaigns.models import Campaign
from vaxbook.dashboard import figures

PERMISSIONS = ("campaigns.view_campaign", "bookings.view_booking")


def officials_only(view: Callable) -> Callable:
    @wraps(view)
    def checked(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.has_perms(PERMISSIONS):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return admin.site.admin_view(checked)


def _figures_or_404(campaign_id: int) -> dict:
    found = figures.campaign_figures(campaign_id)
    if found is None:
        raise Http404(gettext("No such campaign."))
    return found


@officials_only
def overview(request: HttpRequest) -> HttpResponse:
    """Every campaign, with its state and headline numbers."""
    now = timezone.now()
    rows = [
        {"campaign": campaign, "figures": figures.headline(campaign.pk, now=now)}
        for campaign in Campaign.objects.order_by("-opens_at", "name")
    ]
    return TemplateResponse(
        request,
        "dashboard/overview.html",
        {
            **admin.site.each_context(request),
            "title": gettext("Live dashboard"),
            "rows": rows,
            "states": {state.value: name for state, name in figures.STATE_NAMES.items()},
        },
    )


@officials_only
def campaign_page(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """One campaign's dashboard: drawn from the same figures as its JSON, so that it reads
    without JavaScript; the script draws the charts and refreshes the numbers."""
    data = _figures_or_404(campaign_id)
    return TemplateResponse(
        request,
        "dashboard/campaign.html",
        {
            **admin.site.each_context(request),
            "title": gettext("Live dashboard: %(campaign)s")
            % {"campaign": data["campaign"]["name"]},
            "figures": data,
            "recent_minutes": _recent_minutes(data["series"]),
        },
    )


def _recent_minutes(series: dict, count: int = 15) -> list[dict]:
    """The last minutes of the series for the page's table, newest first."""
    rows = [
        {"minute": minute, "confirmed": c, "rejected": r, "admission_rate": a}
        for minute, c, r, a in zip(
            series["minutes"],
            series["confirmed"],
            series["rejected"],
            series["admission_rate"],
            strict=True,
        )
    ]
    return rows[::-1][:count]


@officials_only
def campaign_data(request: HttpRequest, campaign_id: int) -> JsonResponse:
    response = JsonResponse(_figures_or_404(campaign_id))
    response["Cache-Control"] = "no-store"
    return response


@officials_only
def campaign_series_csv(request: HttpRequest, campaign_id: int) -> HttpResponse:
    data = _figures_or_404(campaign_id)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="{data["campaign"]["slug"]}-per-minute.csv"'
    )
    writer = csv.writer(response)
    writer.writerows(figures.series_rows(data))
    return response
