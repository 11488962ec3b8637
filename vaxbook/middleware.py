from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


class StaffSessionExpiry:
    """Sessions of signed-in staff end after a spell without activity; each request renews it.

    Only the staff areas are looked at: elsewhere (the waiting room's poll above all) loading
    the session and user would cost a query per request. Citizens have no accounts.
    """

    STAFF_PATHS = ("/admin/", "/staff/")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(self.STAFF_PATHS):
            return self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_staff:
            request.session.set_expiry(settings.VAXBOOK_STAFF_SESSION_IDLE_SECONDS)
        return self.get_response(request)
