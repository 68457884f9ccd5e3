"""Killed work does not stay stuck (issue #19, Medium 8). Recompute runs and CSV imports carry a
heartbeat; the beat's stale-run check (every two minutes) queues a stale one again — it resumes — or,
after a few tries, marks it failed, and the page that shows it offers a retry button.

Stale: queued or running, heartbeat older than five minutes, and no worker holds its row (a recompute
holds it while it scores a chunk or swaps, an import while it writes)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from config.celery import app
from leads import csv_import
from leads import tasks as leads_tasks
from leads.models import ImportJob, ImportStatus, Lead
from scoring import engine
from scoring import services as scoring_services
from scoring import tasks as scoring_tasks
from scoring.models import RunStatus, ScoreRun
from tenants.context import tenant_scope
from tests.conftest import login_client
from tests.factories import leads_with_activity

from .conftest import app_role_connection

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.app_role]

LONG_AGO = timedelta(minutes=12)


def test_the_beat_schedule_checks_for_stale_runs_every_two_minutes():
    for name, task in [
        ("scoring-recover-stale-runs", scoring_tasks.fan_out_recover_stale_runs),
        ("leads-recover-stale-imports", leads_tasks.fan_out_recover_stale_imports),
    ]:
        entry = app.conf.beat_schedule[name]
        assert entry["task"] == task.name
        assert len(entry["schedule"].minute) == 30


# --- recompute runs --------------------------------------------------------------------------------


@pytest.fixture
def scoring_tenant(tenant):
    with tenant_scope(tenant.id):
        scoring_services.install_default_model()
        leads_with_activity(40, seed=8, email_prefix="stale-")
    return tenant


def stuck_run(tenant, *, status=RunStatus.RUNNING, recoveries=0, age=LONG_AGO) -> ScoreRun:
    """A run as a killed worker (or a lost task) leaves it: not finished, its heartbeat old."""
    with tenant_scope(tenant.id):
        run = engine.run_create()
        ScoreRun.objects.filter(pk=run.pk).update(
            status=status, recoveries=recoveries, heartbeat_at=timezone.now() - age, started_at=timezone.now() - age
        )
        return run


def run_of(tenant, run) -> ScoreRun:
    with tenant_scope(tenant.id):
        return ScoreRun.objects.get(pk=run.pk)


def test_a_recompute_whose_worker_was_killed_is_resumed_by_the_beat(scoring_tenant):
    run = stuck_run(scoring_tenant)
    scoring_tasks.fan_out_recover_stale_runs()  # the beat (tasks run eagerly here)
    run = run_of(scoring_tenant, run)
    assert (run.status, run.recoveries, run.leads_changed) == (RunStatus.SUCCEEDED, 1, 40)


def test_a_queued_recompute_whose_task_redis_lost_is_run(scoring_tenant):
    run = stuck_run(scoring_tenant, status=RunStatus.QUEUED)
    scoring_tasks.fan_out_recover_stale_runs()
    assert run_of(scoring_tenant, run).status == RunStatus.SUCCEEDED
    # …and it no longer blocks a new one.
    with tenant_scope(scoring_tenant.id):
        assert scoring_services.recompute_request().pk != run.pk


def test_a_run_with_a_recent_heartbeat_is_left_alone(scoring_tenant):
    run = stuck_run(scoring_tenant, age=timedelta(minutes=2))
    scoring_tasks.fan_out_recover_stale_runs()
    assert (run_of(scoring_tenant, run).status, run_of(scoring_tenant, run).recoveries) == (RunStatus.RUNNING, 0)


def test_a_run_whose_row_a_worker_holds_is_alive_however_old_its_heartbeat(scoring_tenant):
    run = stuck_run(scoring_tenant)
    with app_role_connection() as other, other.cursor() as cursor:  # a worker inside its swap
        cursor.execute("SELECT set_config('app.tenant_id', %s, true)", [str(scoring_tenant.id)])
        cursor.execute("SELECT id FROM scoring_scorerun WHERE id = %s FOR UPDATE", [run.pk])
        assert cursor.fetchone() == (run.pk,)
        scoring_tasks.recover_stale_runs(scoring_tenant.id)
        other.rollback()
    assert run_of(scoring_tenant, run).recoveries == 0


def test_a_run_that_keeps_dying_is_marked_failed_and_the_page_offers_a_retry(scoring_tenant, users):
    run = stuck_run(scoring_tenant, recoveries=3)
    scoring_tasks.fan_out_recover_stale_runs()
    run = run_of(scoring_tenant, run)
    assert run.status == RunStatus.FAILED and run.finished_at is not None
    assert "4" in run.error

    client = login_client(users["admin"])
    page = reverse("scoring:models", args=[scoring_tenant.slug])
    ja = client.get(page).content.decode()
    assert "再計算を再実行" in ja and "応答しなくなった" in ja
    en = client.get(page, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    if "再計算を再実行" not in en:  # the user's language, when the request may choose it
        assert "Retry the recompute" in en
    viewer = login_client(users["viewer"]).get(page).content.decode()
    assert 'id="recompute-retry"' not in viewer  # only who may recompute sees the button

    response = client.post(reverse("scoring:recompute", args=[scoring_tenant.slug]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    with tenant_scope(scoring_tenant.id):
        retried = ScoreRun.objects.exclude(pk=run.pk).get()
        assert retried.status == RunStatus.SUCCEEDED
        assert Lead.objects.filter(score_model_version=retried.model_version).count() == 40


# --- CSV imports -----------------------------------------------------------------------------------


def queued_import(tenant, rows: int = 30) -> ImportJob:
    lines = ["メールアドレス,氏名"] + [f"imp{n}@example.jp,山田 {n}" for n in range(rows)]
    with tenant_scope(tenant.id):
        job = csv_import.import_create(uploaded=SimpleUploadedFile("leads.csv", "\r\n".join(lines).encode()))
        csv_import.import_set_mapping(job=job, mapping=job.mapping, encoding=job.encoding)
        return job


def stuck_import(tenant, *, status=ImportStatus.RUNNING, recoveries=0, age=LONG_AGO) -> ImportJob:
    job = queued_import(tenant)
    with tenant_scope(tenant.id):
        ImportJob.objects.filter(pk=job.pk).update(
            status=status, recoveries=recoveries, heartbeat_at=timezone.now() - age
        )
    return job


def job_of(tenant, job) -> ImportJob:
    with tenant_scope(tenant.id):
        return ImportJob.objects.get(pk=job.pk)


def test_import_start_records_the_heartbeat(tenant):
    job = queued_import(tenant)
    with tenant_scope(tenant.id):
        csv_import.import_start(job=job)
        assert ImportJob.objects.get(pk=job.pk).heartbeat_at is not None


def test_an_import_killed_at_40_percent_is_resumed_by_the_beat(tenant):
    job = stuck_import(tenant)
    leads_tasks.fan_out_recover_stale_imports()
    job = job_of(tenant, job)
    assert (job.status, job.recoveries, job.created_count) == (ImportStatus.DONE, 1, 30)
    with tenant_scope(tenant.id):
        assert Lead.objects.count() == 30


def test_a_queued_import_whose_task_redis_lost_is_run(tenant):
    job = stuck_import(tenant, status=ImportStatus.QUEUED)
    leads_tasks.fan_out_recover_stale_imports()
    assert job_of(tenant, job).status == ImportStatus.DONE


def test_an_import_whose_row_the_writing_worker_holds_is_left_alone(tenant):
    job = stuck_import(tenant)
    with app_role_connection() as other, other.cursor() as cursor:
        cursor.execute("SELECT set_config('app.tenant_id', %s, true)", [str(tenant.id)])
        cursor.execute("SELECT id FROM leads_importjob WHERE id = %s FOR UPDATE", [job.pk])
        leads_tasks.recover_stale_imports(tenant.id)
        other.rollback()
    assert (job_of(tenant, job).status, job_of(tenant, job).recoveries) == (ImportStatus.RUNNING, 0)


def test_an_import_that_keeps_dying_fails_and_its_retry_button_imports_it(tenant, users):
    job = stuck_import(tenant, recoveries=3)
    leads_tasks.fan_out_recover_stale_imports()
    failed = job_of(tenant, job)
    assert failed.status == ImportStatus.FAILED
    assert failed.failure == "取り込み処理が応答しなくなったため中止しました。何も取り込まれていません。"

    client = login_client(users["admin"])
    page = reverse("leads:import_detail", args=[tenant.slug, job.pk])
    html = client.get(page).content.decode()
    assert "取り込みを再実行" in html and 'id="import-retry"' in html

    response = client.post(reverse("leads:import_retry", args=[tenant.slug, job.pk]))
    assert response.status_code == 302
    done = job_of(tenant, job)
    assert (done.status, done.created_count, done.recoveries, done.failure) == (ImportStatus.DONE, 30, 0, "")
    # Retrying an import that is not failed is refused with a message, nothing changes, never a 5xx.
    again = client.post(reverse("leads:import_retry", args=[tenant.slug, job.pk]), follow=True)
    assert again.status_code == 200
    assert "再実行できるのは失敗した取り込みだけです。" in again.content.decode()
    assert job_of(tenant, job).created_count == 30
