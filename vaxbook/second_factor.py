"""A second factor for the accounts of officials and clinic staff: a time-based one-time code
(TOTP, RFC 6238) from an authenticator app, with django-otp.

- Anyone with an account can set one up at ``/account/second-factor/`` (a QR code to scan, then
  a code to confirm it). From then on the login asks for a code as well as the password, and a
  session that did not give one (or was made some other way) is not let into the staff areas.
- ``VAXBOOK_REQUIRE_SECOND_FACTOR`` (on in production) makes it compulsory: an account without
  one can reach only the set-up page until it has one.

django-otp keeps the device, checks codes with a little clock drift allowed, refuses a code
already used, and slows down guessing (each failure doubles the wait before the next try).
Citizens have no accounts; their pages never ask for any of this.
"""

from base64 import b32encode
from collections.abc import Callable

import segno
from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from clinics.access import staff_landing

# Where accounts work: the admin, the staff pages, the staff API and the account pages.
# Citizens' pages (and the waiting room's poll above all) are left alone: looking at the
# session's user there would cost a lookup per request for nothing.
STAFF_PATHS = ("/admin/", "/staff/", "/api/clinics/", "/account/")


def confirmed_device(user) -> TOTPDevice | None:
    if not user.is_authenticated:
        return None
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def is_satisfied(request: HttpRequest) -> bool:
    """The session may use the staff areas as far as the second factor goes: it was verified
    with a code, or the account has none and none is required."""
    user = request.user
    if user.is_verified():
        return True
    return not settings.VAXBOOK_REQUIRE_SECOND_FACTOR and confirmed_device(user) is None


class CodeField(forms.CharField):
    def __init__(self, **kwargs):
        super().__init__(
            max_length=12,
            widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
            **kwargs,
        )

    def to_python(self, value):
        return "".join(str(super().to_python(value)).split())


class LoginForm(AdminAuthenticationForm):
    """The admin's login, with the code of the account's second factor when it has one.

    A missing or wrong code gets the very answer a wrong password gets: the login never tells
    a guesser that the password was right."""

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "invalid_login": _(
            "Please enter the correct user name and password — and, if your account has a "
            "second factor, the code from your authenticator app. After several wrong codes, "
            "wait a minute before trying again."
        ),
    }
    otp_token = CodeField(
        required=False,
        label=_("Code from your authenticator app"),
        help_text=_("Only if your account has a second factor."),
    )

    def clean(self):
        cleaned = super().clean()  # the password (and is_staff)
        user = self.get_user()
        device = confirmed_device(user)
        if device is None:
            return cleaned
        try:
            user.otp_device = verified_device(device, cleaned.get("otp_token", ""))
        except forms.ValidationError:
            raise self.get_invalid_login_error() from None
        return cleaned


def verified_device(device: TOTPDevice, code: str) -> TOTPDevice:
    """The device if ``code`` is its current code; raises ValidationError otherwise, also
    while the device makes guessers wait after failures."""
    if not code:
        raise forms.ValidationError(
            gettext("Enter the code from your authenticator app."), code="token_required"
        )
    allowed, _ = device.verify_is_allowed()
    if not allowed:
        raise forms.ValidationError(
            gettext("Too many wrong codes: wait a little and try again."), code="throttled"
        )
    if not device.verify_token(code):
        raise forms.ValidationError(
            gettext("That code is not right (or was used already)."), code="wrong"
        )
    return device


class SecondFactorAdminSite(admin.AdminSite):
    """Django's admin, whose login asks for the second factor and whose pages need a session
    that satisfied it."""

    login_form = LoginForm
    site_header = _("vaxbook administration")
    site_title = _("vaxbook administration")
    index_title = _("Campaigns, clinics and bookings")

    def has_permission(self, request: HttpRequest) -> bool:
        return super().has_permission(request) and is_satisfied(request)


class SecondFactorRequired:
    """In the staff areas: a session of an account with a second factor that did not give a
    code is logged out; with ``VAXBOOK_REQUIRE_SECOND_FACTOR`` an account without one is sent
    to set one up."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(STAFF_PATHS) or request.path.startswith(
            (reverse("admin-login"), reverse("admin:logout"), reverse("second-factor-setup"))
        ):
            return self.get_response(request)
        user = request.user
        if not user.is_authenticated or is_satisfied(request):
            return self.get_response(request)
        if confirmed_device(user) is not None:
            logout(request)  # a session made without the code: log in again, with it
            target = f"{reverse('admin-login')}?next={request.path}"
        else:
            target = f"{reverse('second-factor-setup')}?next={request.path}"
        if request.path.startswith("/api/"):
            return JsonResponse(
                {"detail": gettext("This account must log in with its second factor.")},
                status=403,
            )
        return redirect(target)


class ConfirmForm(forms.Form):
    otp_token = CodeField(label=_("Code shown in your authenticator app"))


@never_cache
@sensitive_post_parameters("otp_token")
@login_required
def setup(request: HttpRequest) -> HttpResponse:
    """Set up the second factor: scan the QR code (or type the key), then confirm with a code.
    An account that already has one is told so: resetting it is for an administrator."""
    continue_to = _next(request) or staff_landing(request.user) or reverse("admin:index")
    if confirmed_device(request.user) is not None:
        return render(
            request, "accounts/second_factor.html", {"already": True, "continue_to": continue_to}
        )
    device = TOTPDevice.objects.filter(user=request.user, confirmed=False).order_by(
        "pk"
    ).first() or TOTPDevice.objects.create(user=request.user, name="authenticator", confirmed=False)
    form = ConfirmForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            verified_device(device, form.cleaned_data["otp_token"])
        except forms.ValidationError as refusal:
            form.add_error("otp_token", refusal)
        else:
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            otp_login(request, device)
            return redirect(continue_to)
    return render(
        request,
        "accounts/second_factor.html",
        {
            "form": form,
            "qr_svg": segno.make(device.config_url, error="m").svg_inline(scale=4),
            "secret": b32encode(device.bin_key).decode(),
            "next": _next(request),
        },
    )


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    safe = url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()})
    return target if safe else ""
