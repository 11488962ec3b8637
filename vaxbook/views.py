from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A missing or stale CSRF token: a clear page, nothing written."""
    return render(request, "403_csrf.html", status=403)


def admin_login(request: HttpRequest, extra_context=None) -> HttpResponse:
    """The admin's login (officials and clinic staff). django-axes bounds the guesses at one
    account from one address (``vaxbook.login_limits``); this bounds, generously, the failures
    from one address whatever the user names tried."""
    from django.contrib import admin

    from bookings import throttle

    if request.method != "POST":
        return admin.site.login(request, extra_context)
    per_address = throttle.per_address("admin-login")
    address = throttle.client_address(request)
    if wait := per_address.retry_after(address):
        return throttle.too_many(request, wait)
    response = admin.site.login(request, extra_context)
    if response.status_code == 200 and not request.user.is_authenticated:
        per_address.hit(address)  # the form came back: a failed attempt
    return response
