"""A worker killed mid-task (SIGKILL, no exception handler runs): re-running the task completes with
the same result as an uninterrupted run; no duplicate alerts, notifications or imported rows.

The task runs in a child process on the test database, exactly as a Celery worker runs it (the task
function with the tenant id). The child holds still at a known point *inside* an open transaction
(after some progress is committed or recorded) and writes a marker file; the test then kills it
with SIGKILL and calls the same task again, as the next worker does when the broker re-delivers
the unacknowledged task (`task_acks_late`, `task_reject_on_worker_lost`)."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.db.models import Count
from django.test.utils import CaptureQueriesContext

from leads import csv_import
from leads import tasks as leads_tasks
from leads.models import ImportJob, ImportStatus, Lead, LeadStageChange
from scoring import engine
from scoring import services as scoring_services
from scoring import tasks as scoring_tasks
from scoring.models import HotLeadAlert, RunStatus, ScoreRun, SegmentTransition
from tenants.context import tenant_scope
from tenants.models import Notification, Role
from tests.factories import leads_with_activity, member

from .approle import app_role_database_url, current_role

# The worker subprocess and the re-delivered task both run as the app role (row-level security applies).
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.app_role]

DEADLINE_SECONDS = 40
CHUNK_IDS = 200  # the child and the re-run use the same chunking (1,200 leads: 6 chunks)
LEADS = 1200

# The worker: runs the real task function; `stall` holds it still at the chosen point until killed.
CHILD = r"""
import json, sys, time
from pathlib import Path

import django

django.setup()
from django.db import connection

spec = json.loads(sys.argv[1])


def stall():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    Path(spec["marker"]).write_text(str(pid))
    time.sleep(spec["stall_seconds"])  # the test kills the process during this
    sys.exit("stalled but was not killed")


if spec["task"] == "recompute":
    from scoring import engine, tasks

    engine.CHUNK_IDS = spec["chunk_ids"]
    seen = {"n": 0}

    def stall_after(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if spec["statement"] in sql:
            seen["n"] += 1
            if seen["n"] == spec["nth"]:
                stall()  # the statement ran; its transaction is open
        return result

    with connection.execute_wrapper(stall_after):
        tasks.recompute_run(spec["tenant"], spec["run"])
elif spec["task"] == "csv_import":
    from leads import csv_import, tasks

    record_progress = csv_import._progress_set

    def progress_then_stall(job_id, phase, done, total):
        record_progress(job_id, phase, done, total)
        if phase == "writing" and done > 0:
            stall()  # the first chunk is written inside the import's one transaction

    csv_import._progress_set = progress_then_stall
    tasks.csv_import_task(spec["tenant"], spec["job"])
sys.exit("finished without stalling")
"""


def wait_for(predicate, what: str, *, gone=None):
    """Poll `predicate` until it returns a true value (returned); fail at the deadline or when
    `gone()` says the worker exited on its own."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if gone is not None and gone():
            pytest.fail(f"the worker exited before {what}: {gone()}")
        time.sleep(0.02)
    pytest.fail(f"timed out waiting for {what}")


def _session_alive(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = %s)", [pid])
        return cursor.fetchone()[0]


@pytest.fixture
def worker(tmp_path):
    """Start the task in a child process; `kill()` it once it holds still inside its transaction."""
    started: list[subprocess.Popen] = []

    class Worker:
        marker = tmp_path / "stalled"
        log = tmp_path / "worker.log"
        session = 0

        def start(self, **spec) -> None:
            spec = {"marker": str(self.marker), "stall_seconds": DEADLINE_SECONDS + 20, **spec}
            env = {
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "config.settings_test",
                "DATABASE_URL": app_role_database_url(),
                "REDIS_URL": settings.REDIS_URL,
                "CELERY_TASK_ALWAYS_EAGER": "1",
            }
            with self.log.open("wb") as log:
                self.process = subprocess.Popen(
                    [sys.executable, "-c", CHILD, json.dumps(spec)],
                    cwd=settings.BASE_DIR,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            started.append(self.process)

        def exited(self) -> str:
            if self.process.poll() is None:
                return ""
            return f"exit {self.process.returncode}: {self.log.read_text(errors='replace')[-3000:]}"

        def wait_until_stalled(self) -> None:
            pid = wait_for(lambda: self.marker.exists() and self.marker.read_text(), "the stall", gone=self.exited)
            self.session = int(pid)  # the worker's database session
            assert _session_alive(self.session)

        def kill(self) -> None:
            """SIGKILL; then PostgreSQL ends the worker's session, rolling its open transaction back."""
            self.process.send_signal(signal.SIGKILL)
            assert self.process.wait(timeout=10) == -signal.SIGKILL
            wait_for(lambda: not _session_alive(self.session), "the killed worker's session to end")

    yield Worker()
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


# --------------------------------------------------------------------------------------------
# Full recompute
# --------------------------------------------------------------------------------------------


def populate(count: int) -> None:
    """Leads (never scored) with activities; a good share of them turn hot."""
    leads_with_activity(count, seed=11, email_prefix="kill", max_activities=5, days=40)


def scores() -> dict[int, tuple]:
    return {
        row[0]: row[1:]
        for row in Lead.objects.values_list("id", "score_behaviour", "score_fit", "score_total", "segment")
    }


@pytest.fixture
def recompute_tenant(tenant):
    member(tenant, Role.SALES, email="queue@acme.example")  # receives the hot-lead summary
    with tenant_scope(tenant.id):
        model = scoring_services.install_default_model()
        populate(LEADS)
        run = engine.run_create()  # what services.recompute_request queues
    return tenant, model, run


@pytest.mark.parametrize(
    ("statement", "nth", "committed_chunks"),
    [
        # Killed while staging the third chunk (two chunks committed with the run's progress).
        ("INSERT INTO scoring_score_stage", 3, 2),
        # Killed inside the swap, after the statement that writes scores, transitions and alerts.
        ("INSERT INTO scoring_hotleadalert", 1, LEADS // CHUNK_IDS),
    ],
    ids=["while-staging", "inside-the-swap"],
)
def test_a_recompute_killed_mid_run_is_finished_by_the_redelivered_task(
    recompute_tenant, worker, monkeypatch, statement, nth, committed_chunks
):
    tenant, model, run = recompute_tenant
    assert current_role() == settings.ONDO_DB_APP_ROLE
    worker.start(task="recompute", tenant=tenant.id, run=run.pk, chunk_ids=CHUNK_IDS, statement=statement, nth=nth)
    worker.wait_until_stalled()
    with tenant_scope(tenant.id):
        progress = ScoreRun.objects.get(pk=run.pk)
        assert (progress.status, progress.done_chunks, progress.total_chunks) == (
            RunStatus.RUNNING,
            committed_chunks,
            LEADS // CHUNK_IDS,
        )
    worker.kill()

    with tenant_scope(tenant.id):
        # Nothing of the interrupted run reached the leads: readers see the old (no) scores.
        assert set(Lead.objects.values_list("segment", flat=True)) == {""}
        assert not HotLeadAlert.objects.exists() and not SegmentTransition.objects.exists()
        run = ScoreRun.objects.get(pk=run.pk)
        assert run.status == RunStatus.RUNNING  # killed: no handler marked it failed

    # The broker re-delivers the task: the next worker runs it again (same configuration).
    monkeypatch.setattr(engine, "CHUNK_IDS", CHUNK_IDS)
    with CaptureQueriesContext(connection) as queries:
        status = scoring_tasks.recompute_run(tenant.id, run.pk)
    assert status == RunStatus.SUCCEEDED
    staged_again = sum("INSERT INTO scoring_score_stage" in q["sql"] for q in queries.captured_queries)
    assert staged_again == LEADS // CHUNK_IDS - committed_chunks, "committed chunks are not staged again"

    with tenant_scope(tenant.id):
        run = ScoreRun.objects.get(pk=run.pk)
        assert (run.status, run.done_chunks, run.leads_changed) == (RunStatus.SUCCEEDED, run.total_chunks, LEADS)
        # Every lead has the score an uninterrupted computation gives (the Python reference engine).
        spec = engine.spec_for(model)
        ids = list(Lead.objects.values_list("id", flat=True))
        expected = {
            i: (s.behaviour, s.fit, s.total, s.segment) for i, s in engine.score_python(spec, ids, run.as_of).items()
        }
        assert scores() == expected
        hot = engine.hot_key(spec)
        hot_leads = Lead.objects.filter(segment=hot).count()
        assert hot_leads > 0, "the data must make some leads hot"
        # One transition per lead, one alert per lead that turned hot, one summary notification.
        assert SegmentTransition.objects.count() == LEADS
        assert not SegmentTransition.objects.values("lead_id").annotate(n=Count("id")).filter(n__gt=1).exists()
        assert HotLeadAlert.objects.count() == hot_leads
        assert set(HotLeadAlert.objects.values_list("lead_id", flat=True)) == set(
            Lead.objects.filter(segment=hot).values_list("id", flat=True)
        )
        summaries = list(Notification.objects.filter(kind="hot_lead_summary").values_list("title", flat=True))
        assert len(summaries) == 1 and str(hot_leads) in summaries[0]
        assert not Notification.objects.filter(kind="hot_lead").exists()
    with tenant_scope(tenant.id), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM scoring_score_stage")
        assert cursor.fetchone()[0] == 0

    # Delivered once more (e.g. a second re-delivery): nothing changes.
    assert scoring_tasks.recompute_run(tenant.id, run.pk) == RunStatus.SUCCEEDED
    with tenant_scope(tenant.id):
        assert scores() == expected
        assert HotLeadAlert.objects.count() == hot_leads
        assert Notification.objects.filter(kind="hot_lead_summary").count() == 1


# --------------------------------------------------------------------------------------------
# CSV import
# --------------------------------------------------------------------------------------------

ROWS = 7000  # two write chunks of upsert_leads (5,000 + 2,000)
HEADER = ["メールアドレス", "氏名", "会社名", "役職", "ステージ"]


def import_file() -> tuple[bytes, dict]:
    """Rows: every 10th has a stage (history row), every 500th is invalid, one updates an existing lead."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    valid, invalid, staged = [], [], 0
    for i in range(ROWS):
        if i % 500 == 499:
            writer.writerow([f"broken-{i}", f"名前 {i}", "株式会社テスト", "", ""])
            invalid.append(i)
            continue
        stage = "MQL" if i % 10 == 0 else ""
        staged += bool(stage)
        email = f"row{i}@import.example.jp"
        writer.writerow([email, f"取込 {i}", f"株式会社取込{i}", "部長" if i == 1 else "", stage])
        valid.append(email)
    return out.getvalue().encode("utf-8"), {"valid": valid, "invalid": invalid, "staged": staged}


def test_a_csv_import_killed_mid_write_is_imported_exactly_once_by_the_redelivered_task(tenant, worker):
    data, expected = import_file()
    with tenant_scope(tenant.id):
        existing = Lead.objects.create(email="row1@import.example.jp", name="取込 1", company="株式会社取込1")
        job = csv_import.import_create(uploaded=SimpleUploadedFile("big.csv", data, "text/csv"))
        assert job.mapping == ["email", "name", "company", "title", "stage"]
        csv_import.import_set_mapping(job=job, mapping=job.mapping, encoding=job.encoding)
        ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.QUEUED)  # import_start, minus the enqueue

    worker.start(task="csv_import", tenant=tenant.id, job=job.pk)
    worker.wait_until_stalled()
    with tenant_scope(tenant.id):
        job.refresh_from_db()
        assert job.status == ImportStatus.RUNNING
        assert csv_import.progress(job)["phase"] == "writing" and csv_import.progress(job)["done"] == 5000
    worker.kill()

    with tenant_scope(tenant.id):
        assert list(Lead.objects.values_list("pk", flat=True)) == [existing.pk]  # the write rolled back
        job.refresh_from_db()
        assert job.status == ImportStatus.RUNNING  # left as the killed worker had it

    # The broker re-delivers the task to the next worker.
    leads_tasks.csv_import_task(tenant.id, job.pk)

    with tenant_scope(tenant.id):
        job.refresh_from_db()
        assert job.status == ImportStatus.DONE, job.failure
        assert (job.created_count, job.updated_count, job.unchanged_count, job.error_count) == (
            len(expected["valid"]) - 1,
            1,
            0,
            len(expected["invalid"]),
        )
        assert sorted({number for number, _column, _message in job.errors}) == [i + 2 for i in expected["invalid"]]
        emails = list(Lead.objects.values_list("email", flat=True))
        assert len(emails) == len(set(emails)) == len(expected["valid"])
        assert set(emails) == set(expected["valid"])
        assert Lead.objects.get(pk=existing.pk).title == "部長"
        assert LeadStageChange.objects.count() == expected["staged"]
        assert not LeadStageChange.objects.values("lead_id").annotate(n=Count("id")).filter(n__gt=1).exists()
        imported = {lead.email: lead for lead in Lead.objects.filter(email__in=["row20@import.example.jp"])}
        assert imported["row20@import.example.jp"].stage == "mql"

    # A further duplicate delivery of the finished job changes nothing.
    leads_tasks.csv_import_task(tenant.id, job.pk)
    with tenant_scope(tenant.id):
        assert Lead.objects.count() == len(expected["valid"])
        assert LeadStageChange.objects.count() == expected["staged"]
        assert ImportJob.objects.get(pk=job.pk).created_count == len(expected["valid"]) - 1
