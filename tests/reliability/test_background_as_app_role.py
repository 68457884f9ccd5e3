"""Background work as production (and the quickstart) runs it: a worker whose database session is the
app role, so row-level security applies and every query must carry the tenant setting.

The suite's own connection is a superuser's, which row-level security ignores: a task that queried
outside its tenant's transaction would pass there and silently find no rows under the app role (a full
recompute "succeeding" with 0 leads). So the task runs here in a thread whose connection does SET ROLE.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connections

from leads.models import ImportJob, ImportStatus, Lead
from scoring import engine
from scoring.models import RunStatus, ScoreRun
from tenants.context import tenant_scope
from tests.factories import TenantFactory, leads_with_activity

from .approle import server_threads_as_app_role

pytestmark = pytest.mark.django_db(transaction=True)


def _as_app_role_worker(fn):
    """Run fn() in another thread, whose new database connection is the app role's; re-raise its error."""
    outcome: dict = {}

    def target():
        try:
            outcome["value"] = fn()
        except BaseException as error:  # noqa: BLE001 - handed to the test thread
            outcome["error"] = error
        finally:
            connections.close_all()

    with server_threads_as_app_role():
        thread = threading.Thread(target=target)
        thread.start()
        thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


@pytest.fixture
def tenant():
    from scoring import services

    tenant = TenantFactory()
    with tenant_scope(tenant.id):
        services.install_default_model()
        leads_with_activity(120, seed=5, email_prefix="bg-")
    return tenant


def test_a_full_recompute_run_by_the_app_role_scores_every_lead(tenant):
    from scoring import tasks

    with tenant_scope(tenant.id):
        run = engine.run_create()
        version = run.model_version
    status = _as_app_role_worker(lambda: tasks.recompute_run(tenant.id, run.pk))
    with tenant_scope(tenant.id):
        run = ScoreRun.objects.get(pk=run.pk)
        scored = Lead.objects.filter(score_model_version=version).count()
    assert status == RunStatus.SUCCEEDED
    assert (run.status, run.leads_total, run.leads_changed) == (RunStatus.SUCCEEDED, 120, 120)
    assert scored == 120


def test_a_shift_jis_csv_import_run_by_the_app_role_imports_every_row(tenant):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from leads import csv_import, tasks

    rows = ["メールアドレス,氏名,会社名"] + [f"sjis{n}@example.jp,山田 太郎{n},株式会社テスト{n}" for n in range(9)]
    uploaded = SimpleUploadedFile("leads.csv", ("\r\n".join(rows) + "\r\n").encode("cp932"))
    with tenant_scope(tenant.id):
        job = csv_import.import_create(uploaded=uploaded)
        csv_import.import_set_mapping(job=job, mapping=job.mapping, encoding=job.encoding)
        job.status = ImportStatus.QUEUED
        job.save(update_fields=["status"])
    _as_app_role_worker(lambda: tasks.csv_import_task(tenant.id, job.pk))
    with tenant_scope(tenant.id):
        job = ImportJob.objects.get(pk=job.pk)
        names = set(Lead.objects.filter(email__startswith="sjis").values_list("name", flat=True))
    assert (job.encoding, job.status, job.created_count, job.error_count) == ("cp932", ImportStatus.DONE, 9, 0)
    assert names == {f"山田 太郎{n}" for n in range(9)}
