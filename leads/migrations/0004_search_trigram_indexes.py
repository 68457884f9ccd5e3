"""Trigram indexes for the lead search (name, email, company; Japanese included).

`icontains` compiles to UPPER(col) LIKE UPPER('%q%'), which a GIN index on
UPPER(col) gin_trgm_ops serves. pg_trgm is a trusted extension: the database owner creates it.
"""

from django.db import migrations

COLUMNS = ["name", "email", "company"]


def forwards(apps, schema_editor):
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in COLUMNS:
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS lead_{column}_trgm_idx ON leads_lead '
            f'USING gin (UPPER("{column}"::text) gin_trgm_ops)'
        )


def backwards(apps, schema_editor):
    for column in COLUMNS:
        schema_editor.execute(f"DROP INDEX IF EXISTS lead_{column}_trgm_idx")


class Migration(migrations.Migration):
    dependencies = [("leads", "0003_extend_leads")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
