from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("scoring", "0007_reconcile_cursor"),
    ]

    operations = [
        migrations.AddField(
            model_name="scorerun",
            name="heartbeat_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="scorerun",
            name="recoveries",
            field=models.PositiveSmallIntegerField(default=0, editable=False),
        ),
    ]
