"""Calibration at 100,000 labelled leads: prints how long the calibration takes (target < 60 s).

    .venv/bin/python bench/calibration_100k.py                  # 100,000 leads, ~1.5M activities
    .venv/bin/python bench/calibration_100k.py --leads 20000

Database: postgres://postgres@127.0.0.1:5432/ondo_bench_mql (override with BENCH_MQL_DATABASE_URL);
dropped, created and migrated each time (set-based generation with generate_series, then ANALYZE).
The tenant uses the seed sheet as its scoring model. Every lead has a won or lost outcome; a latent
purchase intent drives both the activity mix (pricing page, downloads, webinars) and the outcome,
and executive titles convert more, so the regression has something real to find.

What is timed is exactly what the Celery task runs (`calibration.calibration_execute`): reading the
labels, the rule features (one generated SQL pass over the activities), the regularised logistic
regression and proposal, the attribute + activity-count matrix and the data-driven model.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/ondo_bench_mql"
SLUG = "bench-mql"


# Deterministic pseudo-random numbers in [0, 1) from an integer expression and a salt.
def h(expr: str, salt: int) -> str:
    return f"((hashint8(({expr}) * 7919 + {salt}) & 2147483647)::float8 / 2147483648.0)"


LEADS_SQL = f"""
INSERT INTO leads_lead (tenant_id, email, name, company, company_normalized, name_normalized, title, department,
    employee_count, size_band, industry, phone, channel, campaign, stage, authority, need, budget, timing,
    custom_fields, email_consent, unsubscribed, first_seen_at, score_behaviour, score_fit, score_total, segment,
    created_at, updated_at)
SELECT %(tenant)s, 'lead' || g || '@co' || (g %% 9000) || '.example.jp', '見込 ' || g, '株式会社ベンチ' || (g %% 9000),
    'ベンチ' || (g %% 9000), '', CASE WHEN {h("g", 3)} < 0.2 THEN '取締役' WHEN {h("g", 3)} < 0.5 THEN '部長'
    ELSE '担当' END, '', (ARRAY[30, 80, 150, 600])[1 + floor({h("g", 4)} * 4)::int], '',
    (ARRAY['IT・ソフトウェア', '製造業', '小売'])[1 + floor({h("g", 5)} * 3)::int], '',
    (ARRAY['seo', 'webinar', 'event', 'email', 'referral'])[1 + floor({h("g", 6)} * 5)::int], '', 'lead', '', '',
    '', '', '{{}}'::jsonb, true, false, now() - interval '1 day' * (30 + 150 * {h("g", 7)}), 0, 0, 0, '', now(), now()
FROM generate_series(1::bigint, %(n)s::bigint) g
"""

# Activities: 3 + up to 24 per lead, more and more pricing/download/webinar with a higher intent.
ACTIVITIES_SQL = f"""
INSERT INTO leads_activity (tenant_id, lead_id, anonymous_id, user_id, type, occurred_at, url, campaign, properties,
    source, received_at)
SELECT %(tenant)s, l.id, '', '', CASE
        WHEN r < 0.35 THEN 'email_open' WHEN r < 0.55 THEN 'page_view' WHEN r < 0.62 THEN 'email_click'
        WHEN r < 0.62 + 0.20 * i THEN 'pricing_view' WHEN r < 0.70 + 0.20 * i THEN 'download'
        WHEN r < 0.75 + 0.20 * i THEN 'webinar_attend' WHEN r < 0.80 + 0.15 * i THEN 'form_start'
        ELSE 'page_view' END,
    now() - interval '1 hour' * (1 + 24 * 90 * {h("l.id * 64 + j", 11)}), '', '', '{{}}'::jsonb, 'bench', now()
FROM (SELECT l.id, {h("l.id", 1)} AS i FROM leads_lead l WHERE l.tenant_id = %(tenant)s) l
CROSS JOIN LATERAL generate_series(1, 3 + floor(24 * {h("l.id", 1)} * {h("l.id", 2)})::int) j
CROSS JOIN LATERAL (SELECT {h("l.id * 64 + j", 12)} AS r) x
"""

# Outcomes: conversion rises with intent and with an executive title.
FEEDBACK_SQL = f"""
INSERT INTO leads_leadfeedback (tenant_id, lead_id, outcome, reason, note, amount, occurred_at, created_at)
SELECT %(tenant)s, l.id, CASE WHEN won THEN 'won' ELSE 'lost' END, CASE WHEN won THEN '' ELSE 'no_budget' END, '',
    CASE WHEN won THEN 1000000 END, now() - interval '1 day', now()
FROM (SELECT l.id, {h("l.id", 8)} < 0.05 + 0.55 * power({h("l.id", 1)}, 2)
          + CASE WHEN l.title = '取締役' THEN 0.15 ELSE 0 END AS won
      FROM leads_lead l WHERE l.tenant_id = %(tenant)s) l
"""


def setup(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/6")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "1")
    os.environ.setdefault("EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
    name = url.rsplit("/", 1)[-1]
    if not name.startswith("ondo_bench"):
        raise SystemExit(f"refusing to recreate database {name!r}: its name must start with ondo_bench")
    import psycopg

    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, check=True, env={**os.environ}
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--target", choices=["won", "sql"], default="won")
    args = parser.parse_args()
    setup(os.environ.get("BENCH_MQL_DATABASE_URL", DEFAULT_URL))

    from django.db import connection

    from mql import calibration
    from mql.models import CalibrationRun
    from scoring.services import install_default_model
    from tenants.context import tenant_scope
    from tenants.models import Tenant

    tenant = Tenant.objects.create(name="Bench MQL", slug=SLUG)
    started = time.monotonic()
    with tenant_scope(tenant.id):
        install_default_model()
        with connection.cursor() as cursor:
            cursor.execute(LEADS_SQL, {"tenant": tenant.id, "n": args.leads})
            cursor.execute(ACTIVITIES_SQL, {"tenant": tenant.id})
            cursor.execute(FEEDBACK_SQL, {"tenant": tenant.id})
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE leads_lead, leads_activity, leads_leadfeedback")
        cursor.execute("SELECT count(*) FROM leads_activity WHERE tenant_id = %s", [tenant.id])
        activities = cursor.fetchone()[0]
    print(
        f"generated {args.leads:,} leads, {activities:,} activities, {args.leads:,} outcomes "
        f"in {time.monotonic() - started:.1f} s"
    )

    with tenant_scope(tenant.id):
        run = CalibrationRun.objects.create(target=args.target)
    steps: list[tuple[float, str]] = []
    original = calibration._progress

    def timed_progress(run_id: int, percent: int, step: str) -> None:
        steps.append((time.monotonic(), step))
        original(run_id, percent, step)

    calibration._progress = timed_progress
    started = time.monotonic()
    with tenant_scope(tenant.id, atomic=False):
        run = calibration.calibration_execute(run_id=run.pk)
    total = time.monotonic() - started
    if run.status != "done":
        raise SystemExit(f"calibration failed: {run.error}")
    previous = started
    for moment, _step in steps + [(started + total, "done")]:
        if moment > previous:
            print(f"  {moment - previous:6.1f} s  {label_before(steps, moment)}")
        previous = moment
    result = run.result
    print(f"labelled leads: {result['labelled']:,} ({result['positives']:,} won), held-out {result['n_test']:,}")
    print(
        f"rule model AUC {result['auc_rule_model']:.3f}; current points {result['current']['auc']:.3f}, "
        f"proposed points {result['proposed']['auc']:.3f}; data-driven model {result['data_model']['auc']:.3f}"
    )
    print(f"calibration of {result['labelled']:,} labelled leads: {total:.1f} s (target < 60 s)")


def label_before(steps: list[tuple[float, str]], moment: float) -> str:
    """The step that was running just before `moment`."""
    earlier = [step for at, step in steps if at < moment]
    return earlier[-1] if earlier else "start"


if __name__ == "__main__":
    main()
