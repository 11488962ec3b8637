"""The WSGI application: Django, with the waiting room's status poll served by a lean handler.

While a line waits, the poll is most of what the site answers: everyone waiting asks, over and
over. It reads two signed cookies and the cache, writes nothing and renders no form, so it
needs none of the session, CSRF, authentication, second-factor, staff-expiry, messages or
login-lockout middleware, which cost about as much as the view itself (measured in process).
The lean handler runs the same view through ``LEAN_MIDDLEWARE`` only: the request metrics, the
security headers (``SecurityMiddleware``, ``X-Frame-Options``; the view sets the
Content-Security-Policy of a JSON answer itself), the Host check (``CommonMiddleware``) and the
language of the person's estimate. Every other path, and any method but GET and HEAD, goes
through every middleware.

The site is loaded when the process starts, not on its first request: Django imports the
URLconf, and with it every view and the libraries behind them, lazily, which costs a worker
about a third of a second of CPU (measured), paid at an opening by every worker of every node
at the moment the crowd arrives.
"""

import os
import re

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vaxbook.settings")
full = get_wsgi_application()
get_resolver().url_patterns  # noqa: B018 - imports the URLconf and every view now

# campaigns.urls: "queue/<slug:campaign>/status/" (a test checks they agree).
LEAN_PATH = re.compile(r"/queue/[-a-zA-Z0-9_]+/status/")


class LeanHandler(WSGIHandler):
    """Django's handler with ``settings.LEAN_MIDDLEWARE`` instead of ``MIDDLEWARE``."""

    def load_middleware(self, is_async: bool = False) -> None:
        # Django builds the chain from settings.MIDDLEWARE; swapped for the time it takes, once,
        # when this module is imported (before any request is served).
        every = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.LEAN_MIDDLEWARE
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = every


lean = LeanHandler()


def application(environ, start_response):
    if environ.get("REQUEST_METHOD") in ("GET", "HEAD") and LEAN_PATH.fullmatch(
        environ.get("PATH_INFO", "")
    ):
        return lean(environ, start_response)
    return full(environ, start_response)
