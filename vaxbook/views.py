from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A missing or stale CSRF token: a clear page, nothing written."""
    return render(request, "403_csrf.html", status=403)


def admin_login(request: HttpRequest, extra_context=None) -> HttpResponse:
    """The admin's login (officials and clinic staff).

    django-axes locks an account from an address after failed logins
    (``vaxbook.login_limits``). It checks the lock before the (slow) password hash and counts
    the failure after it, so a burst of guesses sent at once would all be checked; each try is
    therefore also counted, atomically, *before* its password is, with the same limit (a
    success forgets the streak). And failures from one address, whatever the user names, are
    bounded generously."""
    from django.conf import settings
    from django.contrib import admin

    from bookings import throttle
    from vaxbook.login_limits import username_tried

    if request.method != "POST":
        return admin.site.login(request, extra_context)
    address = throttle.client_address(request)
    per_address = throttle.per_address("admin-login")
    if wait := per_address.retry_after(address):
        return throttle.too_many(request, wait)
    tries = throttle.Throttle(
        "admin-login-tries",
        settings.VAXBOOK_ADMIN_LOGIN_FAILURES,
        settings.VAXBOOK_THROTTLE_WINDOW_SECONDS,
    )
    account = f"{address}|{username_tried(request)}"
    if wait := tries.hit(account):
        return throttle.too_many(request, wait)
    response = admin.site.login(request, extra_context)
    if request.user.is_authenticated:
        tries.forget(account)
    elif response.status_code == 200:  # the form came back: a failed attempt
        per_address.hit(address)
    return response
