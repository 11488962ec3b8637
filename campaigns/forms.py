from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from bookings.identity import IdentityError, normalise_phone


class WindowSignupForm(forms.Form):
    """A phone and the birth date whose booking window it should be told about."""

    phone = forms.CharField(
        label=_("Phone number"),
        max_length=40,
        help_text=_("For example 010-1234-5678. A code is texted to it first."),
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
    )
    birth_date = forms.DateField(
        label=_("Date of birth"),
        help_text=_("Of the person to be vaccinated: their booking window depends on it."),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    @property
    def notice_minutes(self) -> int:
        """How long before the opening the text goes (said on the form)."""
        return settings.VAXBOOK_WINDOW_NOTICE_MINUTES

    def clean_phone(self):
        try:
            return normalise_phone(self.cleaned_data["phone"])
        except IdentityError as exc:
            raise forms.ValidationError(str(exc), code="phone") from None


class WindowSignupCodeForm(forms.Form):
    """The one-time code texted to the phone being signed up."""

    code = forms.CharField(
        label=_("Code"),
        max_length=12,
        help_text=_("The six digits in the text just sent."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
    )
