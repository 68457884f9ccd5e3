"""The staging table of set-based recomputes.

UNLOGGED: staged rows are disposable (a crash truncates them and the run restarts), and
skipping WAL makes staging a million rows cheap. Keyed by run id, so concurrent or killed
runs never mix their rows.
"""

from django.db import migrations

CREATE = """
CREATE UNLOGGED TABLE IF NOT EXISTS scoring_score_stage (
    run_id bigint NOT NULL,
    tenant_id bigint NOT NULL,
    lead_id bigint NOT NULL,
    score_behaviour integer NOT NULL,
    score_fit integer NOT NULL,
    score_total integer NOT NULL,
    segment varchar(20) NOT NULL,
    PRIMARY KEY (run_id, lead_id)
)
"""
DROP = "DROP TABLE IF EXISTS scoring_score_stage"


def forwards(apps, schema_editor):
    schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("scoring", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
