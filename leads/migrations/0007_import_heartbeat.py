from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0006_event_time_ranges"),
    ]

    operations = [
        migrations.AddField(
            model_name="importjob",
            name="heartbeat_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="importjob",
            name="recoveries",
            field=models.PositiveSmallIntegerField(default=0, editable=False),
        ),
    ]
