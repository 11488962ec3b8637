import codecs
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.http import parse_header_parameters
from django.utils.translation import gettext


class StaffSessionExpiry:
    """Sessions of signed-in staff end after a spell without activity; each request renews it.

    Only the staff areas are looked at: elsewhere (the waiting room's poll above all) loading
    the session and user would cost a query per request. Citizens have no accounts. A request
    a page's script makes on its own (the dashboard's refresh, marked ``X-Vaxbook-Refresh``) is
    not activity: an unattended dashboard tab must not keep a session open for ever.
    """

    STAFF_PATHS = ("/admin/", "/staff/")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(self.STAFF_PATHS) or request.headers.get(
            "X-Vaxbook-Refresh"
        ):
            return self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_staff:
            request.session.set_expiry(settings.VAXBOOK_STAFF_SESSION_IDLE_SECONDS)
        return self.get_response(request)


# The names Python gives the character sets a body may declare: UTF-8 and its subset ASCII.
ACCEPTED_CHARSETS = {"utf-8", "ascii"}


def declared_charset(content_type: str) -> str | None:
    """The character set a Content-Type declares, by Python's name for it: None when it
    declares none, "" when Python knows no such character set."""
    _, params = parse_header_parameters(content_type)
    if "charset" not in params:
        return None
    try:
        return codecs.lookup(params["charset"]).name
    except LookupError:
        return ""


class RequireUtf8Body:
    """Refuses, with a clear 400, a request whose body declares a character set other than
    UTF-8, before anything reads the body.

    Django refuses such a form body with ``BadRequest``, but the CSRF check is what reads it
    first, and Django's 400 and 500 handlers run that check again (``requires_csrf_token``), so
    the refusal became a 500 (and ``rot13`` or an unknown name a ``LookupError``). Browsers
    send forms in UTF-8 because every page here is UTF-8; only a hand-made request gets here.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        charset = declared_charset(request.META.get("CONTENT_TYPE", ""))
        if charset is None:
            return self.get_response(request)
        if charset in ACCEPTED_CHARSETS:
            # "utf8", "UTF-8", "us-ascii": read as Django's one spelling, which its form parser
            # insists on (ASCII is a subset of UTF-8).
            request.encoding = "utf-8"
            return self.get_response(request)
        # Refused before LocaleMiddleware runs: answer in the language the browser asked for.
        with translation.override(translation.get_language_from_request(request)):
            return self._refuse(request)

    def _refuse(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            return JsonResponse(
                {
                    "detail": gettext("Send the request body in UTF-8 (charset=utf-8)."),
                    "code": "unsupported_charset",
                },
                status=400,
            )
        return render(
            request,
            "message.html",
            {
                "title": gettext("The form could not be read"),
                "message": gettext(
                    "The form was sent in a character set this service does not read. Go back, "
                    "reload the page and send it again from the page itself."
                ),
            },
            status=400,
        )
