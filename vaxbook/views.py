from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme


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
    bounded generously.

    Clinic staff have nothing to do in the admin: after logging in they land on their clinic's
    day (``clinics.access.staff_landing``) rather than on the admin's index, unless the login
    was asked for with a safe ``next`` of its own (a staff page that sent them to log in)."""
    from django.conf import settings
    from django.contrib import admin

    from bookings import throttle
    from vaxbook.login_limits import username_tried

    if request.method != "POST":
        # Django sends someone already logged in from this page to the admin's index.
        if admin.site.has_permission(request) and (landing := _staff_landing(request)):
            return redirect(landing)
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
        if response.status_code == 302 and (landing := _staff_landing(request)):
            return redirect(landing)
    elif response.status_code == 200:  # the form came back: a failed attempt
        per_address.hit(address)
    return response


def _staff_landing(request: HttpRequest) -> str | None:
    """Where a clinic staff member goes after the login, or None to keep Django's answer.

    The login form always carries a ``next`` (the admin's index when the page was opened
    without one), so the index counts as no wish; any other safe ``next`` wins."""
    from clinics.access import staff_landing

    wanted = request.POST.get("next") or request.GET.get("next")
    if (
        wanted
        and wanted != reverse("admin:index")
        and url_has_allowed_host_and_scheme(
            wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        return None
    return staff_landing(request.user)
