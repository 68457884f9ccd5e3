"""Key the staging table by tenant first, like every other tenant-owned table, so it can be
distributed by tenant (Citus) and every unique constraint includes tenant_id."""

from django.db import migrations

FORWARDS = """
ALTER TABLE scoring_score_stage DROP CONSTRAINT IF EXISTS scoring_score_stage_pkey;
ALTER TABLE scoring_score_stage ADD CONSTRAINT scoring_score_stage_pkey PRIMARY KEY (tenant_id, run_id, lead_id);
"""
BACKWARDS = """
ALTER TABLE scoring_score_stage DROP CONSTRAINT IF EXISTS scoring_score_stage_pkey;
ALTER TABLE scoring_score_stage ADD CONSTRAINT scoring_score_stage_pkey PRIMARY KEY (run_id, lead_id);
"""


def forwards(apps, schema_editor):
    schema_editor.execute(FORWARDS)


def backwards(apps, schema_editor):
    schema_editor.execute(BACKWARDS)


class Migration(migrations.Migration):
    dependencies = [("scoring", "0005_reconcile_watermark")]
    operations = [migrations.RunPython(forwards, backwards)]
