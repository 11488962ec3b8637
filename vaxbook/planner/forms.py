from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

# 1.7 of 3.52 million in the 2021 night's first hour (plan.DEFAULT_SURGE_FRACTION), as a percentage.
DEFAULT_SURGE_PERCENT = Decimal("48.6")


class PlanForm(forms.Form):
    """What the plan is made from. The rate may be left empty when a benchmark result gives
    one (the view says which was used)."""

    cohort_size = forms.IntegerField(
        label=_("cohort size (people)"),
        min_value=1,
        max_value=100_000_000,
        help_text=_("How many people the campaign's cohort holds."),
    )
    rate_per_minute = forms.IntegerField(
        label=_("sustainable bookings per minute"),
        min_value=1,
        required=False,
        help_text=_(
            "What this installation serves with every step under a second. Leave it empty to "
            "use the latest benchmark result."
        ),
    )
    first_opening = forms.DateTimeField(
        label=_("first window opens"), help_text=_("Korea time (KST). One window opens a day.")
    )
    window_hours = forms.IntegerField(
        label=_("hours each window stays open"),
        min_value=1,
        max_value=24,
        initial=22,
        help_text=_("1 to 24: a window closes before the next one opens."),
    )
    surge_percent = forms.DecimalField(
        label=_("share arriving in the first hour (%)"),
        min_value=Decimal("0.1"),
        max_value=Decimal(100),
        max_digits=4,
        decimal_places=1,
        initial=DEFAULT_SURGE_PERCENT,
        help_text=_("In 2021, 1.7 of 3.5 million people tried in the first hour: 48.6%."),
    )
    set_admission_rate = forms.BooleanField(
        label=_("switch the waiting room on at the proposed admission rate"),
        required=False,
        initial=True,
    )
