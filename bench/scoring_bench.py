"""Scoring benchmark (prints figures; not a test).

    .venv/bin/python bench/generate_tenant.py        # once: 1M leads, 20M activities (a few minutes)
    .venv/bin/python bench/scoring_bench.py          # the figures below

Prints, for the tenant `bench` of the dedicated database (BENCH_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/ondo_bench_scoring):
1. full recompute with the engine (staged chunks + atomic swap), from unscored leads;
2. the same computation hand-written in raw SQL (compute + update), in the same run, and the ratio;
   a second engine run (idempotent: nothing changes) and a check that both agree lead by lead;
3. incremental rescore of one lead inside the database (lock + compute + write): p50/p95/p99;
4. end to end through a real Celery worker on Redis (started here): activity accepted (committed,
   hook fired) → segment committed, and → hot-lead alert queued (row committed + delivery task
   queued) and → delivered (bell notification written): p50/p95;
5. peak worker memory (VmHWM of the worker processes) after a full recompute run by the worker.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from generate_tenant import DEFAULT_URL, SLUG, bench_environment  # noqa: E402

URL = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
bench_environment(URL)
os.environ["CELERY_TASK_ALWAYS_EAGER"] = "0"

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from leads.hooks import leads_changed  # noqa: E402
from leads.models import Activity  # noqa: E402
from scoring import engine  # noqa: E402
from scoring.models import HotLeadAlert, RunStatus, ScoreRun  # noqa: E402
from tenants.context import tenant_scope  # noqa: E402
from tenants.models import Notification, Tenant  # noqa: E402

REFERENCE_SQL = """
CREATE TEMP TABLE ref_scores ON COMMIT DROP AS
WITH b AS (
    SELECT lead_id,
        5 * LEAST(count(*) FILTER (WHERE type = 'email_open'), 1)
      + 10 * LEAST(count(*) FILTER (WHERE type = 'email_click'), 1)
      + 20 * LEAST(count(*) FILTER (WHERE type = 'download'), 1)
      + 25 * LEAST(count(*) FILTER (WHERE type = 'pricing_view'), 1)
      + 15 * LEAST(count(*) FILTER (WHERE type = 'form_start'), 1)
      + 20 * LEAST(count(*) FILTER (WHERE type = 'webinar_attend'), 1) AS pts
    FROM leads_activity
    WHERE tenant_id = %(t)s AND lead_id IS NOT NULL
      AND type IN ('email_open', 'email_click', 'download', 'pricing_view', 'form_start', 'webinar_attend')
    GROUP BY lead_id
), revisit AS (
    SELECT DISTINCT lead_id FROM (
        SELECT lead_id, occurred_at - lag(occurred_at) OVER (PARTITION BY lead_id ORDER BY occurred_at) AS gap
        FROM leads_activity WHERE tenant_id = %(t)s AND lead_id IS NOT NULL AND type = 'page_view') x
    WHERE gap <= interval '7 days'
), f AS (
    SELECT l.id,
        COALESCE(b.pts, 0) + CASE WHEN r.lead_id IS NULL THEN 0 ELSE 10 END AS beh,
        COALESCE(GREATEST(
            CASE WHEN n.title ~ '(^|[^a-z0-9])(ceo|cto|cfo|coo)([^a-z0-9]|$)|取締役|役員|社長' THEN 30 END,
            CASE WHEN n.title ~ '部長|マネージャー|(^|[^a-z0-9])(manager|director)([^a-z0-9]|$)' THEN 20 END,
            CASE WHEN n.title ~ '担当|スタッフ|(^|[^a-z0-9])staff([^a-z0-9]|$)' THEN 10 END), 0)
      + CASE WHEN l.employee_count >= 500 THEN 25 WHEN l.employee_count >= 100 THEN 20
             WHEN l.employee_count >= 50 THEN 15 ELSE 0 END
      + COALESCE(GREATEST(
            CASE WHEN n.industry ~ '(^|[^a-z0-9])(it|software|saas)([^a-z0-9]|$)|ソフトウェア|情報通信' THEN 20 END,
            CASE WHEN n.industry ~ '製造|(^|[^a-z0-9])manufacturing([^a-z0-9]|$)|メーカー' THEN 10 END), 0) AS fit
    FROM leads_lead l
    CROSS JOIN LATERAL (SELECT lower(normalize(l.title, NFKC)) AS title,
                               lower(normalize(l.industry, NFKC)) AS industry) n
    LEFT JOIN b ON b.lead_id = l.id LEFT JOIN revisit r ON r.lead_id = l.id
    WHERE l.tenant_id = %(t)s
)
SELECT id, beh, fit, beh + fit AS total,
       CASE WHEN beh + fit >= 80 THEN 'hot' WHEN beh + fit >= 50 THEN 'warm' ELSE 'cold' END AS segment
FROM f
"""
REFERENCE_APPLY = """
UPDATE leads_lead l SET score_behaviour = r.beh, score_fit = r.fit, score_total = r.total, segment = r.segment,
    score_model_version = %(v)s, scored_at = now()
FROM ref_scores r
WHERE l.id = r.id AND l.tenant_id = %(t)s
  AND (l.score_behaviour, l.score_fit, l.score_total, l.segment, l.score_model_version)
      IS DISTINCT FROM (r.beh, r.fit, r.total, r.segment, %(v)s)
"""


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def reset_scores(tenant_id: int) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE leads_lead SET score_behaviour = 0, score_fit = 0, score_total = 0, segment = '', "
            "score_model_version = NULL, scored_at = NULL WHERE tenant_id = %s",
            [tenant_id],
        )
        for table in ("scoring_hotleadalert", "scoring_segmenttransition", "tenants_notification"):
            cursor.execute(f"DELETE FROM {table} WHERE tenant_id = %s", [tenant_id])  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute("VACUUM leads_lead")


def full_engine(tenant_id: int) -> tuple[float, ScoreRun]:
    with tenant_scope(tenant_id, atomic=False):
        run = engine.run_create()
        started = time.monotonic()
        run = engine.run_execute(run.pk)
        return time.monotonic() - started, run


def full_reference(tenant_id: int, version: int) -> tuple[float, float, int]:
    started = time.monotonic()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(REFERENCE_SQL, {"t": tenant_id})
        computed = time.monotonic() - started
        cursor.execute(REFERENCE_APPLY, {"t": tenant_id, "v": version})
        changed = cursor.rowcount
    return time.monotonic() - started, computed, changed


def compare_with_reference(tenant_id: int) -> int:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(REFERENCE_SQL, {"t": tenant_id})
        cursor.execute(
            "SELECT count(*) FROM ref_scores r JOIN leads_lead l ON l.id = r.id WHERE "
            "(l.score_behaviour, l.score_fit, l.segment) IS DISTINCT FROM (r.beh, r.fit, r.segment)"
        )
        return cursor.fetchone()[0]


def incremental(tenant_id: int, samples: int, *, new_activity: bool) -> tuple[list[float], list[float]]:
    """One lead at a time: (wall time of rescore_leads from Python, time of its SQL statements).

    The second is the time "in the database" the target speaks of: every statement the rescore sends (tenant lock,
    row lock + active model, score query + write), each timed around psycopg's execute — which both Django's
    cursors and the engine's server-side-binding cursor go through. With `new_activity`, each lead first gets one
    new activity (committed, not timed), as when the rescore task runs after an ingest: the score changes and the
    lead row, a segment transition and maybe a hot-lead alert are written. Without it nothing changed (the periodic
    rescore of time-based rules for a lead whose score holds)."""
    import psycopg

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM leads_lead WHERE tenant_id = %s ORDER BY random() LIMIT %s", [tenant_id, samples]
        )
        ids = [row[0] for row in cursor.fetchall()]
    wall, in_database = [], []
    statement_seconds: list[float] = []
    plain_execute = psycopg.Cursor.execute

    def timed_execute(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return plain_execute(self, *args, **kwargs)
        finally:
            statement_seconds.append(time.perf_counter() - started)

    types = ["pricing_view", "download", "email_click", "webinar_attend", "form_start"]
    psycopg.Cursor.execute = timed_execute
    try:
        for number, lead_id in enumerate(ids):
            if new_activity:
                with tenant_scope(tenant_id):
                    Activity.objects.create(
                        lead_id=lead_id, type=types[number % len(types)], occurred_at=timezone.now(), source="bench"
                    )
            with tenant_scope(tenant_id):
                statement_seconds.clear()
                started = time.perf_counter()
                engine.rescore_leads([lead_id])
                wall.append((time.perf_counter() - started) * 1000)
                in_database.append(sum(statement_seconds) * 1000)
    finally:
        psycopg.Cursor.execute = plain_execute
    return wall, in_database


def incremental_server_side(tenant_id: int, samples: int) -> tuple[list[float], list[float]]:
    """Server-side time of the rescore's score-and-write statement (EXPLAIN ANALYZE: planning and
    execution as PostgreSQL reports them, without client-side binding or round trips), rolled back."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM leads_lead WHERE tenant_id = %s ORDER BY random() LIMIT %s", [tenant_id, samples]
        )
        ids = [row[0] for row in cursor.fetchall()]
    planning, execution = [], []
    for lead_id in ids:
        with tenant_scope(tenant_id):
            spec = engine.spec_for(engine.active_model())
            now = timezone.now()
            query = engine.build_score_query(
                spec, tenant_id=tenant_id, as_of=now, scope="{lead} = ANY(%(ids)s)", scope_params={"ids": [lead_id]}
            )
            params = {
                **query.params,
                "tenant": tenant_id,
                "version": spec.version,
                "as_of": now,
                "now": now,
                "default_hours": engine.DEFAULT_FOLLOW_UP_HOURS,
                "hot": engine.hot_key(spec),
                "bulk": False,
            }
            sql = engine._APPLY_SQL.format(src=query.sql, fresh="TRUE", touch_all="FALSE")
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
                plan = cursor.fetchone()[0][0]
                transaction.set_rollback(True)  # measured, not applied
            planning.append(plan["Planning Time"])
            execution.append(plan["Execution Time"])
    return planning, execution


def worker_memory_kb(pid: int) -> int:
    total = 0
    for candidate in [pid, *children(pid)]:
        try:
            for line in Path(f"/proc/{candidate}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total = max(total, int(line.split()[1]))
        except FileNotFoundError:
            continue
    return total


def children(pid: int) -> list[int]:
    try:
        return [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def start_worker() -> subprocess.Popen:
    env = {**os.environ, "CELERY_TASK_ALWAYS_EAGER": "0"}
    process = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/celery"),
            "-A",
            "config",
            "worker",
            "-l",
            "warning",
            "--concurrency",
            "2",
            "-n",
            f"bench-scoring-{os.getpid()}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open("/tmp/ondo-bench-worker.log", "w"),  # noqa: SIM115
    )
    time.sleep(4)
    return process


def candidates_for_hot(tenant_id: int, n: int) -> list[int]:
    """Warm leads that one pricing-page view (+25, counted once) makes hot."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT l.id FROM leads_lead l WHERE l.tenant_id = %s AND l.segment = 'warm' AND l.score_total >= 55
               AND NOT EXISTS (SELECT 1 FROM leads_activity a WHERE a.tenant_id = l.tenant_id AND a.lead_id = l.id
                               AND a.type = 'pricing_view')
               ORDER BY random() LIMIT %s""",
            [tenant_id, n],
        )
        return [row[0] for row in cursor.fetchall()]


def end_to_end(tenant_id: int, n: int) -> tuple[list[float], list[float], list[float]]:
    segment_ms, alert_ms, delivered_ms = [], [], []
    for lead_id in candidates_for_hot(tenant_id, n):
        with tenant_scope(tenant_id):
            Activity.objects.create(lead_id=lead_id, type="pricing_view", occurred_at=timezone.now(), source="bench")
            leads_changed([lead_id], reason="bench")
        accepted = time.perf_counter()  # committed; the hook has queued the rescore
        seg = alert = delivered = None
        deadline = accepted + 10
        while time.perf_counter() < deadline and delivered is None:
            with tenant_scope(tenant_id):
                if seg is None:
                    with connection.cursor() as cursor:
                        cursor.execute("SELECT segment FROM leads_lead WHERE id = %s", [lead_id])
                        if cursor.fetchone()[0] == "hot":
                            seg = time.perf_counter()
                if seg is not None and alert is None and HotLeadAlert.objects.filter(lead_id=lead_id).exists():
                    alert = time.perf_counter()
                if (
                    alert is not None
                    and HotLeadAlert.objects.filter(lead_id=lead_id, notified_at__isnull=False).exists()
                ):
                    delivered = time.perf_counter()
            time.sleep(0.002)
        if seg is None or alert is None:
            print(f"  lead {lead_id}: no hot transition within 10 s", flush=True)
            continue
        segment_ms.append((seg - accepted) * 1000)
        alert_ms.append((alert - accepted) * 1000)
        if delivered is not None:
            delivered_ms.append((delivered - accepted) * 1000)
    return segment_ms, alert_ms, delivered_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--incremental-samples", type=int, default=500)
    parser.add_argument("--e2e-samples", type=int, default=200)
    parser.add_argument("--skip-full", action="store_true", help="skip the full recompute comparisons")
    parser.add_argument("--incremental-only", action="store_true", help="with --skip-full: only the incremental part")
    parser.add_argument(
        "--from-unscored",
        action="store_true",
        help="reset every lead to unscored first (rewrites every lead: takes minutes)",
    )
    args = parser.parse_args()
    tenant = Tenant.objects.get(slug=SLUG)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM leads_lead WHERE tenant_id = %s", [tenant.pk])
        n_leads = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM leads_activity WHERE tenant_id = %s", [tenant.pk])
        n_activities = cursor.fetchone()[0]
    with tenant_scope(tenant.pk):
        version = engine.active_model().version
    print(f"tenant '{SLUG}': {n_leads:,} leads, {n_activities:,} activities, model v{version}", flush=True)

    if not args.skip_full:
        print("\n== full recompute", flush=True)
        if args.from_unscored:
            print("resetting every lead to unscored (untimed) ...", flush=True)
            reset_scores(tenant.pk)
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM leads_lead WHERE tenant_id = %s AND scored_at IS NULL", [tenant.pk])
            unscored = cursor.fetchone()[0]
        seconds, run = full_engine(tenant.pk)
        print(
            f"engine, {unscored:,} leads unscored before: {seconds:.1f} s = compute {run.compute_seconds:.1f} s "
            f"({run.total_chunks} staged chunks) + swap {run.swap_seconds:.1f} s "
            f"({run.leads_changed:,} leads rewritten, {run.transitions:,} transitions)",
            flush=True,
        )
        ref_seconds, ref_compute, ref_changed = full_reference(tenant.pk, version)
        print(
            f"hand-written SQL reference: {ref_seconds:.1f} s = compute {ref_compute:.1f} s + update "
            f"({ref_changed:,} leads rewritten)",
            flush=True,
        )
        again_seconds, again = full_engine(tenant.pk)
        print(
            f"engine again: {again_seconds:.1f} s = compute {again.compute_seconds:.1f} s + swap "
            f"{again.swap_seconds:.1f} s ({again.leads_changed} leads changed: idempotent)",
            flush=True,
        )
        print(
            f"ratio engine / reference (same data, same state): total {again_seconds / ref_seconds:.2f}, "
            f"compute {again.compute_seconds / ref_compute:.2f}",
            flush=True,
        )
        mismatches = compare_with_reference(tenant.pk)
        print(f"leads where engine and reference disagree: {mismatches}", flush=True)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT segment, count(*) FROM leads_lead WHERE tenant_id = %s GROUP BY 1 ORDER BY 1", [tenant.pk]
            )
            print("segments: " + ", ".join(f"{s or '-'}={c:,}" for s, c in cursor.fetchall()), flush=True)

    print("\n== incremental rescore (one lead: lock, compute, write, in one transaction)", flush=True)
    for new_activity, label in ((True, "after a new activity (score changes)"), (False, "nothing new (score holds)")):
        timings, in_database = incremental(tenant.pk, args.incremental_samples, new_activity=new_activity)
        print(
            f"{len(timings)} leads, {label}: in the database (its statements) p50 {pct(in_database, 0.5):.2f} ms, "
            f"p95 {pct(in_database, 0.95):.2f} ms, p99 {pct(in_database, 0.99):.2f} ms; wall time of rescore_leads "
            f"p50 {pct(timings, 0.5):.2f} ms, p95 {pct(timings, 0.95):.2f} ms, p99 {pct(timings, 0.99):.2f} ms",
            flush=True,
        )
    planning, execution = incremental_server_side(tenant.pk, min(args.incremental_samples, 300))
    total = [p + e for p, e in zip(planning, execution, strict=True)]
    print(
        f"{len(total)} leads, server side (EXPLAIN ANALYZE of the score-and-write statement, unprepared: "
        f"rescore_leads runs it prepared, without the planning): planning p50 "
        f"{pct(planning, 0.5):.2f} ms, execution p50 {pct(execution, 0.5):.2f} ms, together p50 {pct(total, 0.5):.2f} "
        f"ms, p95 {pct(total, 0.95):.2f} ms, p99 {pct(total, 0.99):.2f} ms",
        flush=True,
    )
    if args.incremental_only:
        return

    print("\n== end to end through a real Celery worker on Redis", flush=True)
    worker = start_worker()
    try:
        segment_ms, alert_ms, delivered_ms = end_to_end(tenant.pk, args.e2e_samples)
        print(
            f"{len(segment_ms)} activities: accepted → segment committed p50 {pct(segment_ms, 0.5):.0f} ms, "
            f"p95 {pct(segment_ms, 0.95):.0f} ms",
            flush=True,
        )
        print(
            f"accepted → hot-lead alert queued p50 {pct(alert_ms, 0.5):.0f} ms, p95 {pct(alert_ms, 0.95):.0f} ms",
            flush=True,
        )
        if delivered_ms:
            print(
                f"accepted → alert delivered (bell) p50 {pct(delivered_ms, 0.5):.0f} ms, "
                f"p95 {pct(delivered_ms, 0.95):.0f} ms",
                flush=True,
            )
        before = worker_memory_kb(worker.pid)
        with tenant_scope(tenant.pk):
            run = engine.run_create()
            from scoring import tasks

            tasks.recompute_run.apply_async(args=[tenant.pk, run.pk])
        started = time.monotonic()
        while True:
            run.refresh_from_db()
            if (
                run.status in (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.SUPERSEDED)
                or time.monotonic() - started > 300
            ):
                break
            time.sleep(0.5)
        print(f"full recompute in the worker: {run.status} in {time.monotonic() - started:.1f} s", flush=True)
        print(
            f"peak worker memory (VmHWM, largest worker process): {before / 1024:.0f} MB before, "
            f"{worker_memory_kb(worker.pid) / 1024:.0f} MB after the full recompute",
            flush=True,
        )
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    with tenant_scope(tenant.pk):
        print(f"notifications written: {Notification.objects.count():,}", flush=True)


if __name__ == "__main__":
    random.seed(7)
    statistics.mean([1])
    main()
