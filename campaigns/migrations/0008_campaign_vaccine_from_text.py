"""Each campaign's free-text vaccine becomes a ``Vaccine``: one per distinct non-empty text
(trimmed, get-or-create by name), and the campaign points at it. Campaigns with no text keep no
vaccine. The four vaccines Korea gave in 2021 get their real schedule; any other name gets one
dose, which officials correct in the admin (a guessed second dose would be booked by the next
step of issue 12, a missing one only shown)."""

from django.db import migrations

# Frozen here on purpose: a migration must not change when the demo data or the code does.
# Pfizer 3 weeks and Moderna 4 weeks, up to 6 weeks (Korea stretched both in 2021 when supply
# ran short); AstraZeneca 8-12 weeks, 11 recommended; Janssen one dose.
KNOWN_SCHEDULES = {
    "pfizer-biontech": {
        "manufacturer": "Pfizer / BioNTech",
        "doses": 2,
        "interval_min_days": 21,
        "interval_recommended_days": 21,
        "interval_max_days": 42,
    },
    "moderna": {
        "manufacturer": "Moderna",
        "doses": 2,
        "interval_min_days": 28,
        "interval_recommended_days": 28,
        "interval_max_days": 42,
    },
    "astrazeneca": {
        "manufacturer": "AstraZeneca",
        "doses": 2,
        "interval_min_days": 56,
        "interval_recommended_days": 77,
        "interval_max_days": 84,
    },
    "janssen": {"manufacturer": "Janssen (Johnson & Johnson)", "doses": 1},
}


def link_campaigns(apps, schema_editor):
    Campaign = apps.get_model("campaigns", "Campaign")
    Vaccine = apps.get_model("campaigns", "Vaccine")
    for campaign in Campaign.objects.exclude(vaccine_label="").order_by("pk"):
        name = campaign.vaccine_label.strip()
        if not name:
            continue
        vaccine, _ = Vaccine.objects.get_or_create(
            name=name, defaults=KNOWN_SCHEDULES.get(name.casefold(), {"doses": 1})
        )
        campaign.vaccine = vaccine
        campaign.save(update_fields=["vaccine"])


def unlink_campaigns(apps, schema_editor):
    """Back to text: each campaign's vaccine name (the vaccines themselves go with 0007)."""
    Campaign = apps.get_model("campaigns", "Campaign")
    for campaign in Campaign.objects.filter(vaccine__isnull=False).select_related("vaccine"):
        campaign.vaccine_label = campaign.vaccine.name
        campaign.save(update_fields=["vaccine_label"])


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0007_vaccine_and_campaign_link"),
    ]

    operations = [
        migrations.RunPython(link_campaigns, unlink_campaigns),
    ]
