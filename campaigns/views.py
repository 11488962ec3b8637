from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from campaigns.models import Campaign
from campaigns.windows import format_kst, window_state


def home(request: HttpRequest) -> HttpResponse:
    """The list of campaigns with their windows. Links only: every form is guarded."""
    now = timezone.now()
    campaigns = [
        {
            "campaign": c,
            "state": window_state(c, now=now).value,
            "opens_at": format_kst(c.opens_at),
            "closes_at": format_kst(c.closes_at),
        }
        for c in Campaign.objects.all()
    ]
    return render(request, "campaigns/home.html", {"campaigns": campaigns})
