"""The capacity planner's page: ``/admin/planner/campaigns/<id>/`` (officials only)."""

from fractions import Fraction

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext, ngettext

from campaigns.models import Campaign, format_birth_date
from vaxbook.dates import format_kst
from vaxbook.planner import benchmark
from vaxbook.planner.forms import PlanForm
from vaxbook.planner.plan import PlanWarning, Proposal, propose
from vaxbook.planner.selectors import Places, campaign_places
from vaxbook.planner.services import PlanRefused, booking_opened_at, create_planned_windows

# Who may plan: change the campaign (its admission rate) and add its windows.
PERMISSIONS = ("campaigns.change_campaign", "campaigns.add_bookingwindow")


def plan(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """GET: the form, and with its fields given (``?cohort_size=…``) the proposal. POST: create
    the proposed windows (recomputed here from the posted fields, never taken from the page),
    then back to the campaign's admin page; 409 with the reason when the campaign's booking has
    opened or they would overlap windows the campaign already has (nothing is written). A first
    opening now or earlier is a form error (``first_opening_past``)."""
    if not request.user.has_perms(PERMISSIONS):
        raise PermissionDenied
    campaign = get_object_or_404(
        Campaign.objects.select_related("vaccine").prefetch_related("windows"), pk=campaign_id
    )
    now = timezone.now()
    measured = benchmark.latest_rate()
    data = request.POST if request.method == "POST" else None
    if data is None and "cohort_size" in request.GET:
        data = request.GET
    form = PlanForm(data, initial={"first_opening": timezone.localtime(campaign.opens_at)})
    places = campaign_places(campaign, now=now)
    opened_at = booking_opened_at(campaign, now=now)
    proposal, rate, refusal, refusal_code, status = None, None, "", "", 200
    if form.is_bound and form.is_valid() and form.cleaned_data["first_opening"] <= now:
        form.add_error(
            "first_opening",
            ValidationError(
                gettext("The first window must open later than now."), code="first_opening_past"
            ),
        )
    elif form.is_bound and form.is_valid():
        rate = _rate(form, measured)
        if rate is None:
            form.add_error(
                "rate_per_minute",
                gettext("No benchmark result gives a rate: enter the rate by hand."),
            )
        else:
            proposal = _proposal(campaign, form.cleaned_data, rate.per_minute, places)
    if request.method == "POST" and proposal is not None:
        admission = proposal.admission_rate_per_minute
        try:
            created = create_planned_windows(
                campaign,
                proposal.windows,
                actor=request.user,
                admission_rate_per_minute=admission
                if form.cleaned_data["set_admission_rate"]
                else None,
                now=now,
            )
        except PlanRefused as refused:
            refusal, refusal_code, status = _refusal_text(refused), refused.code, 409
        else:
            messages.success(
                request,
                ngettext(
                    "Created %(windows)d planned window (%(rows)d booking windows, one per "
                    "birth-day digit).",
                    "Created %(windows)d planned windows (%(rows)d booking windows, one per "
                    "birth-day digit).",
                    len(proposal.windows),
                )
                % {"windows": len(proposal.windows), "rows": len(created)},
            )
            return redirect("admin:campaigns_campaign_change", campaign.pk)
    return TemplateResponse(
        request,
        "planner/plan.html",
        {
            **admin.site.each_context(request),
            "title": gettext("Capacity planner: %(campaign)s") % {"campaign": campaign.name},
            "opts": Campaign._meta,
            "campaign": campaign,
            "campaign_url": reverse("admin:campaigns_campaign_change", args=[campaign.pk]),
            "form": form,
            "measured": measured,
            "measured_at": format_kst(measured.measured_at)
            if measured and measured.measured_at
            else gettext("time not recorded"),
            "booking_opened": opened_at is not None,
            "booking_opened_text": _booking_opened_text(opened_at) if opened_at else "",
            "rate": rate,
            "places": places,
            "proposal": proposal,
            "rows": _rows(proposal) if proposal else [],
            "warnings": [_warning_text(w) for w in proposal.warnings] if proposal else [],
            "refusal": refusal,
            "refusal_code": refusal_code,
        },
        status=status,
    )


def _rate(form: PlanForm, measured: benchmark.SustainableRate | None):
    by_hand = form.cleaned_data.get("rate_per_minute")
    if by_hand:
        return benchmark.SustainableRate(by_hand, benchmark.BY_HAND)
    return measured


def _proposal(campaign: Campaign, data: dict, rate_per_minute: int, places: Places) -> Proposal:
    doses = campaign.vaccine.doses if campaign.vaccine else 1
    return propose(
        cohort=data["cohort_size"],
        rate_per_minute=rate_per_minute,
        first_opening=data["first_opening"],
        birth_range=(campaign.born_from, campaign.born_to),
        surge_fraction=Fraction(data["surge_percent"]) / 100,
        window_hours=data["window_hours"],
        places_free=places.free,
        doses=doses,
        second_dose_days_short=places.second_dose_days_short,
        second_dose_missing=places.second_dose_missing,
        campaign_closes_at=campaign.closes_at,
    )


def _rows(proposal: Proposal) -> list[dict]:
    return [
        {
            "window": w,
            "opens": format_kst(w.opens_at),
            "closes": format_kst(w.closes_at),
            "digits": ", ".join(str(d) for d in w.digits),
            "born": gettext("%(first)s to %(last)s")
            % {"first": format_birth_date(w.born_from), "last": format_birth_date(w.born_to)}
            if w.born_from
            else gettext("any birth date of the cohort"),
            "over": w.surge_per_minute > proposal.rate_per_minute,
        }
        for w in proposal.windows
    ]


def _grouped(value):
    """A number as the active language writes it, with thousand separators (3,500,000)."""
    return number_format(value, force_grouping=True) if isinstance(value, int) else value


def _warning_text(warning: PlanWarning) -> dict:
    p = {name: _grouped(value) for name, value in warning.params.items()}
    if "born" in p:
        p["born"] = format_birth_date(p["born"])
    if warning.code == "places_short":
        text = (
            gettext(
                "Places fall short: %(free)s places are free in slots to come, the cohort needs "
                "%(needed)s (every dose of every person); %(missing)s are missing."
            )
            % p
        )
    elif warning.code == "second_doses_short":
        text = (
            ngettext(
                "Second-dose places fall short on %(days)s clinic day: %(missing)s second doses "
                "missing within the vaccine's interval.",
                "Second-dose places fall short on %(days)s clinic days: %(missing)s second doses "
                "missing within the vaccine's interval.",
                warning.params["days"],
            )
            % p
        )
    elif warning.code == "digit_over_rate":
        text = (
            gettext(
                "Window %(window)s (birth days ending in %(digit)s) alone expects %(per_minute)s "
                "arrivals a minute in its first hour, more than the rate: raise the capacity or "
                "split that digit further by birth year."
            )
            % p
        )
    elif warning.code == "day_over_rate":
        text = (
            gettext(
                "Window %(window)s (born on %(born)s, birth day ending in %(digit)s) expects "
                "%(per_minute)s arrivals a minute in its first hour, more than the rate, and one "
                "day of births cannot be split further: raise the capacity."
            )
            % p
        )
    elif warning.code == "window_too_short":
        text = (
            gettext(
                "Window %(window)s is too short to admit its people at this rate: it needs about "
                "%(hours)s hours."
            )
            % p
        )
    elif warning.code == "after_campaign_closes":
        text = (
            gettext(
                "The proposal needs %(days)s days of windows, one a day, but only %(fit)s close "
                "before the campaign does: window %(window)s and those after it close after the "
                "campaign's own closing. Extend the campaign, open the first window earlier or "
                "raise the capacity; the windows decide when people can book."
            )
            % p
        )
    else:  # a code this page does not know yet: shown as it is rather than hidden
        text = warning.code
    return {"code": warning.code, "text": text}


def _booking_opened_text(opened_at) -> str:
    return gettext(
        "Booking for this campaign opened on %(opened)s: the planner no longer creates windows. "
        "Windows added now would take the place of those people are booking in (the campaign's "
        "own window, for everyone, would close at once, and bookings waiting to be confirmed in "
        "it would be rejected). Change the campaign's windows on its own page instead."
    ) % {"opened": format_kst(opened_at)}


def _refusal_text(refused: PlanRefused) -> str:
    if refused.code == "booking_opened":
        return gettext(
            "Nothing was created: booking for this campaign opened on %(opened)s, and windows "
            "added now would take the place of those people are booking in. Change the "
            "campaign's windows on its own page instead."
        ) % {"opened": format_kst(refused.params["opened_at"])}
    if refused.code == "first_opening_past":
        return gettext(
            "Nothing was created: the first window would open on %(opens)s, which is not later "
            "than now. Choose a first opening to come."
        ) % {"opens": format_kst(refused.params["first_opening"])}
    if refused.code == "overlapping_windows":
        return ngettext(
            "Nothing was created: %(count)d window of this campaign is open at the same time "
            "as a proposed one. Change or delete it in the campaign, or choose another first "
            "opening.",
            "Nothing was created: %(count)d windows of this campaign are open at the same time "
            "as proposed ones. Change or delete them in the campaign, or choose another first "
            "opening.",
            len(refused.params["windows"]),
        ) % {"count": len(refused.params["windows"])}
    return gettext("Nothing was created: there was no window to create.")
