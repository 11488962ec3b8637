from django import forms
from django.utils.translation import gettext_lazy as _

from bookings.identity import IdentityError, normalise_name, normalise_phone, parse_rrn


class SensitiveInput(forms.TextInput):
    """A registration number is never written back into a page (a re-shown form, a cached
    page, a screenshot): the person types it again."""

    def format_value(self, value):
        return None


def _checked(parse, value):
    try:
        return parse(value)
    except IdentityError as exc:
        raise forms.ValidationError(str(exc)) from None


class IdentityForm(forms.Form):
    """Step 1: the person to vaccinate (often a parent of whoever fills it in)."""

    name = forms.CharField(
        label=_("Name"),
        max_length=200,
        help_text=_("The name of the person to be vaccinated, as on their ID card."),
    )
    rrn = forms.CharField(
        label=_("Resident registration number"),
        max_length=40,
        help_text=_("13 digits, YYMMDD-GNNNNNN; the hyphen is optional."),
        widget=SensitiveInput(attrs={"autocomplete": "off", "inputmode": "numeric"}),
    )
    phone = forms.CharField(
        label=_("Phone number"),
        max_length=40,
        help_text=_("For example 010-1234-5678."),
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
    )
    email = forms.EmailField(
        label=_("E-mail address (optional)"),
        required=False,
        max_length=254,
        help_text=_("If you give one, the confirmation is also sent there."),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )

    def clean_name(self):
        return _checked(normalise_name, self.cleaned_data["name"])

    def clean_rrn(self):
        return _checked(parse_rrn, self.cleaned_data["rrn"])

    def clean_phone(self):
        return _checked(normalise_phone, self.cleaned_data["phone"])


class LookupForm(forms.Form):
    """A booking is reached with its code plus the registration number or the phone number —
    never with the code alone."""

    code = forms.CharField(label=_("Booking code"), max_length=20)
    rrn = forms.CharField(
        label=_("Resident registration number"),
        max_length=40,
        required=False,
        widget=SensitiveInput(attrs={"autocomplete": "off", "inputmode": "numeric"}),
    )
    phone = forms.CharField(
        label=_("…or the phone number given when booking"),
        max_length=40,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel"}),
    )

    def clean_code(self):
        return self.cleaned_data["code"].strip().upper().replace("-", "")

    def clean_rrn(self):
        raw = self.cleaned_data["rrn"]
        return _checked(parse_rrn, raw) if raw.strip() else None

    def clean_phone(self):
        raw = self.cleaned_data["phone"]
        return _checked(normalise_phone, raw) if raw.strip() else None

    def clean(self):
        cleaned = super().clean()
        if not self.errors and not cleaned.get("rrn") and not cleaned.get("phone"):
            raise forms.ValidationError(
                _("Enter the registration number or the phone number used for the booking."),
                code="rrn_or_phone",
            )
        return cleaned


class PhoneCodeForm(forms.Form):
    """The one-time code texted to the phone, typed back (``Campaign.verify_phone``)."""

    code = forms.CharField(
        label=_("Code from the text message"),
        max_length=20,
        help_text=_("6 digits."),
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def clean_code(self):
        return "".join(self.cleaned_data["code"].split())


class RecoveryForm(forms.Form):
    """A booking's code, texted to the phone it was made with: the registration number and that
    phone, both."""

    rrn = forms.CharField(
        label=_("Resident registration number"),
        max_length=40,
        widget=SensitiveInput(attrs={"autocomplete": "off", "inputmode": "numeric"}),
    )
    phone = forms.CharField(
        label=_("Phone number given when booking"),
        max_length=40,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
    )

    def clean_rrn(self):
        return _checked(parse_rrn, self.cleaned_data["rrn"])

    def clean_phone(self):
        return _checked(normalise_phone, self.cleaned_data["phone"])


class SlotChoiceForm(forms.Form):
    slot = forms.IntegerField(
        label=_("Time"),
        min_value=1,
        max_value=2**63 - 1,  # a slot's id (BigAutoField): a longer number is no slot
        error_messages={"required": _("Choose a time.")},
    )


class PlaceQueryForm(forms.Form):
    """The region → clinic → day choice carried in the choose step's links."""

    region = forms.CharField(max_length=100, required=False)
    clinic = forms.SlugField(max_length=40, required=False)
    date = forms.DateField(required=False)
