from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0008_campaign_vaccine_from_text"),
    ]

    operations = [
        # Reversed, the column comes back empty and 0008's reverse fills it from the vaccines.
        migrations.RemoveField(model_name="campaign", name="vaccine_label"),
    ]
