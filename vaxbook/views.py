from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A missing or stale CSRF token: a clear page, nothing written."""
    return render(request, "403_csrf.html", status=403)


def admin_login(request: HttpRequest, extra_context=None) -> HttpResponse:
    """The admin's login, with failed attempts limited per client address and user name."""
    from django.conf import settings
    from django.contrib import admin

    from bookings import throttle

    if request.method != "POST":
        return admin.site.login(request, extra_context)
    limit = throttle.Throttle(
        "admin-login",
        settings.VAXBOOK_ADMIN_LOGIN_FAILURES,
        settings.VAXBOOK_THROTTLE_WINDOW_SECONDS,
    )
    username = str(request.POST.get("username", ""))[:150].lower()
    keys = [f"{throttle.client_address(request)}|{username}", f"user|{username}"]
    waits = [w for key in keys if (w := limit.retry_after(key))]
    if waits:
        return throttle.too_many(request, max(waits))
    response = admin.site.login(request, extra_context)
    if not request.user.is_authenticated:  # the form came back: a failed attempt
        for key in keys:
            limit.hit(key)
    return response
