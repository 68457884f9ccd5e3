"""Row-level security on the tenant-owned tables (layer 2 of tenant isolation, docs/security.md).

Tables of apps migrated later are covered by the post_migrate handler (TenantsConfig.ready),
which runs the same idempotent `tenants.rls.apply()` after every `migrate`.
"""

from django.db import migrations


def forwards(apps, schema_editor):
    from tenants import rls

    rls.apply(using=schema_editor.connection.alias, verbosity=0)


def backwards(apps, schema_editor):
    from tenants import rls

    rls.remove(using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards, elidable=False),
    ]
