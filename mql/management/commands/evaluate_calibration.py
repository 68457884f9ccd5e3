"""Calibration on real data (the CI step): import the X Education data set into a throw-away
tenant through the product's own import path, compute scores, run the calibration exactly as the
Celery task does, print the held-out AUCs, and fail when the data-driven model's AUC is below
--min-auc.

    DJANGO_SETTINGS_MODULE=config.settings_test manage.py evaluate_calibration \
        --csv ../shared/data/x-education/Leads.csv --min-auc 0.85

The command lives in the mql app, which owns calibration runs (xeducation import, calibration).
"""

from __future__ import annotations

import secrets
import time

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tenants.context import platform_scope, tenant_scope
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Import the X Education data set into a throw-away tenant and print the calibration's held-out AUCs."

    def add_arguments(self, parser):
        parser.add_argument("--csv", required=True)
        parser.add_argument(
            "--min-auc", type=float, default=0.85, help="fail when the data-driven model's held-out AUC is below this"
        )
        parser.add_argument("--target", choices=["won", "sql"], default="won")
        parser.add_argument("--keep", action="store_true", help="keep the tenant afterwards (for a look in the UI)")

    def handle(self, *args, **options):
        from mql import calibration, xeducation
        from mql.models import CalibrationRun
        from scoring import engine
        from tenants.services import tenant_create

        try:
            rows = xeducation.read_rows(options["csv"])
        except (OSError, ValueError) as error:
            raise CommandError(str(error))
        self._ensure_database()
        executor = MigrationExecutor(connection)
        if executor.migration_plan(executor.loader.graph.leaf_nodes()):
            call_command("migrate", interactive=False, verbosity=0)

        slug = f"xeval-{secrets.token_hex(4)}"
        tenant = tenant_create(name="X Education (evaluation)", slug=slug)
        try:
            started = time.monotonic()
            with tenant_scope(tenant.id, atomic=False):
                imported = xeducation.import_rows(rows, progress=lambda m: self.stdout.write(f"  {m}"))
            self.stdout.write(
                f"Imported {imported.leads:,} leads, {imported.activities:,} activities, "
                f"{imported.outcomes:,} outcomes ({imported.converted:,} won, "
                f"{imported.converted / max(imported.leads, 1):.1%}) in {time.monotonic() - started:.1f} s"
            )
            with tenant_scope(tenant.id, atomic=False):
                run = engine.run_create()
                if run is not None:
                    engine.run_execute(run.pk)
            with tenant_scope(tenant.id):
                run = CalibrationRun.objects.create(target=options["target"])
            started = time.monotonic()
            with tenant_scope(tenant.id, atomic=False):
                run = calibration.calibration_execute(run_id=run.pk)
            seconds = time.monotonic() - started
            if run.status != "done":
                raise CommandError(f"Calibration failed: {run.error}")
            self._report(run.result, seconds)
        finally:
            if not options["keep"]:
                with platform_scope("evaluate_calibration: dropping the throw-away tenant"):
                    Tenant.objects.filter(pk=tenant.pk).delete()
            else:
                self.stdout.write(f"Kept the tenant: /t/{slug}/")
        data_auc = run.result["data_model"]["auc"]
        if data_auc is None or data_auc < options["min_auc"]:
            raise CommandError(f"Held-out AUC {data_auc} is below the bar of {options['min_auc']}.")
        self.stdout.write(self.style.SUCCESS(f"Held-out AUC {data_auc:.3f} >= {options['min_auc']}"))

    def _ensure_database(self) -> None:
        """CI runs this against a database the test suite never touched: create it when missing."""
        from django.db import OperationalError

        try:
            connection.ensure_connection()
            return
        except OperationalError as error:
            if "does not exist" not in str(error):
                raise
        import psycopg

        params = connection.settings_dict
        admin = psycopg.conninfo.make_conninfo(
            host=params.get("HOST") or "127.0.0.1",
            port=str(params.get("PORT") or 5432),
            dbname="postgres",
            user=params.get("USER") or None,
            password=params.get("PASSWORD") or None,
        )
        with psycopg.connect(admin, autocommit=True) as admin_connection:
            admin_connection.execute(f'CREATE DATABASE "{params["NAME"]}"')
        self.stdout.write(f"Created database {params['NAME']}")

    def _report(self, result: dict, seconds: float) -> None:
        def auc(value):
            return "–" if value is None else f"{value:.3f}"

        self.stdout.write(
            f"Labelled leads: {result['labelled']:,} ({result['positives']:,} positive), "
            f"held-out test split: {result.get('n_test', 0):,}, calibration took {seconds:.1f} s"
        )
        if result.get("rules"):
            current, proposed = result["current"], result["proposed"]
            self.stdout.write(
                f"Rule model (scoring model v{result['model_version']} rules, logistic regression): "
                f"held-out AUC {auc(result['auc_rule_model'])}"
            )
            self.stdout.write(
                f"  current points  AUC {auc(current['auc'])}  precision@{result['threshold']} "
                f"{_pct(current['precision'])}  recall {_pct(current['recall'])}"
            )
            self.stdout.write(
                f"  proposed points AUC {auc(proposed['auc'])}  precision@{result['threshold']} "
                f"{_pct(proposed['precision'])}  recall {_pct(proposed['recall'])}"
            )
            for rule in result["rules"]:
                lift = "–" if rule["lift"] is None else f"{rule['lift']:.2f}"
                self.stdout.write(
                    f"    {rule['label'][:40]:<40} {rule['current']:>5} → {rule['proposed']:>5}  "
                    f"fires {rule['fires']:>5}  lift {lift}"
                )
        data = result["data_model"]
        self.stdout.write(
            f"Data-driven model (attributes + activity counts, {data['n_features']} features): "
            f"held-out AUC {auc(data['auc'])}"
        )
        for note in result.get("notes", []):
            self.stdout.write(f"  note: {note}")


def _pct(value) -> str:
    return "–" if value is None else f"{value:.1%}"
