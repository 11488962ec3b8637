# One draw per opening (a campaign's own, or a staggered window's) instead of one per campaign,
# and the people each admission pass has booked for. The campaign's recorded draw (seed, time,
# entries) moves into a QueueDraw row at the campaign's opening: nothing is lost, and
# reversing the migration moves the first draw back.

import django.db.models.deletion
from django.db import migrations, models


def move_draws_out_of_campaigns(apps, schema_editor):
    Campaign = apps.get_model("campaigns", "Campaign")
    QueueDraw = apps.get_model("campaigns", "QueueDraw")
    QueueDrawEntry = apps.get_model("campaigns", "QueueDrawEntry")
    for campaign in Campaign.objects.all().iterator():
        entries = QueueDrawEntry.objects.filter(campaign=campaign)
        if campaign.drawn_at is None and not entries.exists():
            continue
        draw = QueueDraw.objects.create(
            campaign=campaign,
            opens_at=campaign.opens_at,
            seed=campaign.draw_seed,
            drawn_at=campaign.drawn_at or campaign.opens_at,
        )
        entries.update(draw=draw)


def move_draws_back(apps, schema_editor):
    Campaign = apps.get_model("campaigns", "Campaign")
    QueueDraw = apps.get_model("campaigns", "QueueDraw")
    QueueDrawEntry = apps.get_model("campaigns", "QueueDrawEntry")
    for campaign in Campaign.objects.all().iterator():
        draws = QueueDraw.objects.filter(campaign=campaign).order_by("opens_at")
        first = draws.first()
        if first is None:
            continue
        campaign.draw_seed, campaign.drawn_at = first.seed, first.drawn_at
        campaign.save(update_fields=["draw_seed", "drawn_at"])
        QueueDrawEntry.objects.filter(draw__campaign=campaign).update(campaign=campaign)
        # Only one draw fits the old shape: later openings' entries go with their draws.
        QueueDrawEntry.objects.filter(draw__in=draws.exclude(pk=first.pk)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0002_admissionrate_bookingwindow_queuedrawentry_and_more"),
    ]

    operations = [
        migrations.CreateModel(
            name="QueueDraw",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "opens_at",
                    models.DateTimeField(help_text="The opening whose early arrivals were drawn."),
                ),
                ("seed", models.CharField(max_length=64)),
                ("drawn_at", models.DateTimeField()),
                (
                    "campaign",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="draws",
                        to="campaigns.campaign",
                    ),
                ),
            ],
            options={"ordering": ["opens_at"]},
        ),
        migrations.AddConstraint(
            model_name="queuedraw",
            constraint=models.UniqueConstraint(
                fields=("campaign", "opens_at"), name="one_draw_per_opening"
            ),
        ),
        migrations.AddField(
            model_name="queuedrawentry",
            name="draw",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="entries",
                to="campaigns.queuedraw",
            ),
        ),
        migrations.AlterField(
            model_name="queuedrawentry",
            name="campaign",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="draw_entries",
                to="campaigns.campaign",
            ),
        ),
        migrations.RunPython(move_draws_out_of_campaigns, move_draws_back, elidable=False),
        migrations.RemoveConstraint(model_name="queuedrawentry", name="draw_entry_number_unique"),
        migrations.RemoveConstraint(model_name="queuedrawentry", name="draw_entry_position_unique"),
        migrations.RemoveField(model_name="queuedrawentry", name="campaign"),
        migrations.AlterField(
            model_name="queuedrawentry",
            name="draw",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="entries",
                to="campaigns.queuedraw",
            ),
        ),
        migrations.AddConstraint(
            model_name="queuedrawentry",
            constraint=models.UniqueConstraint(
                fields=("draw", "number"), name="draw_entry_number_unique"
            ),
        ),
        migrations.AddConstraint(
            model_name="queuedrawentry",
            constraint=models.UniqueConstraint(
                fields=("draw", "position"), name="draw_entry_position_unique"
            ),
        ),
        migrations.RemoveField(model_name="campaign", name="draw_seed"),
        migrations.RemoveField(model_name="campaign", name="drawn_at"),
        migrations.AlterField(
            model_name="campaign",
            name="draw_published",
            field=models.BooleanField(
                default=False,
                help_text="Show the draws' seeds and orders (one per opening) publicly so "
                "anyone can check them.",
            ),
        ),
        migrations.CreateModel(
            name="AdmissionPass",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("ticket_id", models.CharField(max_length=32)),
                (
                    "opening",
                    models.DateTimeField(help_text="The opening whose line the ticket queued in."),
                ),
                ("admitted_at", models.DateTimeField()),
                (
                    "campaign",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="passes",
                        to="campaigns.campaign",
                    ),
                ),
            ],
        ),
        migrations.AddConstraint(
            model_name="admissionpass",
            constraint=models.UniqueConstraint(
                fields=("campaign", "ticket_id"), name="one_pass_per_ticket"
            ),
        ),
        migrations.CreateModel(
            name="PassHolder",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("person", models.CharField(max_length=64)),
                ("bound_at", models.DateTimeField()),
                (
                    "admission_pass",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="holders",
                        to="campaigns.admissionpass",
                    ),
                ),
            ],
        ),
        migrations.AddConstraint(
            model_name="passholder",
            constraint=models.UniqueConstraint(
                fields=("admission_pass", "person"), name="one_holder_per_person"
            ),
        ),
    ]
