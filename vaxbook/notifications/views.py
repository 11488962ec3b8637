from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from vaxbook.notifications.models import Notification


@never_cache
def dev_outbox(request: HttpRequest) -> HttpResponse:
    """Development only: the latest messages as the console channel "sent" them, so that a
    developer can read the confirmation text and follow its link. Never in production (the
    URL is not even routed there)."""
    if settings.PRODUCTION:
        raise Http404
    latest = Notification.objects.select_related("booking")[:100]
    return render(request, "notifications/dev_outbox.html", {"messages_sent": latest})
