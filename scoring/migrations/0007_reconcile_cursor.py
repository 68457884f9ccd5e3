from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("scoring", "0006_score_stage_tenant_key"),
    ]

    operations = [
        migrations.AddField(
            model_name="scoringsettings",
            name="reconcile_cursor",
            field=models.BigIntegerField(default=0, editable=False),
        ),
    ]
