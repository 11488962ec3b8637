"""What the campaign admin's page posts: the campaign's fields and its staggered windows'
inline formset, as a browser sends them."""

from django.urls import reverse

from campaigns.models import Campaign
from campaigns.tests.factories import VaccineFactory


def campaign_page(campaign: Campaign) -> str:
    return reverse("admin:campaigns_campaign_change", args=[campaign.pk])


def campaign_form(campaign: Campaign | None = None, windows=(), **overrides) -> dict:
    """The campaign as it is (or a new one, "cohort-60-64"), changed by ``overrides``, with its
    staggered windows as ``(window or None, values)`` rows (see ``window_values``). Times are
    Korea time, as the page shows them; the defaults match ``CampaignFactory``'s cohort."""
    data = {
        "name": campaign.name if campaign else "Cohort 60-64",
        "slug": campaign.slug if campaign else "cohort-60-64",
        "vaccine": campaign.vaccine_id if campaign and campaign.vaccine_id else VaccineFactory().pk,
        "born_from": "1962-01-01",
        "born_to": "1966-12-31",
        "opens_at_0": "2030-05-01",
        "opens_at_1": "20:00:00",
        "closes_at_0": "2030-05-08",
        "closes_at_1": "20:00:00",
        "admission_rate_per_minute": "600",
        "admission_pass_minutes": "20",
        "windows-TOTAL_FORMS": str(len(windows)),
        "windows-INITIAL_FORMS": str(sum(1 for window, _ in windows if window is not None)),
        "windows-MIN_NUM_FORMS": "0",
        "windows-MAX_NUM_FORMS": "1000",
    }
    for i, (window, values) in enumerate(windows):
        if window is not None:
            data[f"windows-{i}-id"] = window.pk
            data[f"windows-{i}-campaign"] = window.campaign_id
        data.update({f"windows-{i}-{name}": value for name, value in values.items()})
    data.update(overrides)
    return data


def window_values(**overrides) -> dict:
    """One staggered window's row: birth days ending in 9, 2030-05-02 20:00 to 05-03 20:00."""
    values = {
        "label": "Ending in 9",
        "opens_at_0": "2030-05-02",
        "opens_at_1": "20:00:00",
        "closes_at_0": "2030-05-03",
        "closes_at_1": "20:00:00",
        "birth_day_last_digit": "9",
    }
    values.update(overrides)
    return values
