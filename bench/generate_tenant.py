"""Generate a synthetic tenant for the scoring benchmark, in its own database, with set-based SQL.

    .venv/bin/python bench/generate_tenant.py                 # 1M leads, 20M activities (a few minutes)
    .venv/bin/python bench/generate_tenant.py --leads 100000 --activities 2000000

Database: postgres://postgres@127.0.0.1:5432/ondo_bench_scoring (override with BENCH_DATABASE_URL).
It is dropped, created and migrated each time (it holds only the tenant `bench`).

Shape: 180 days of activity, skewed like real traffic — a few leads do most things (lead ids drawn
as N * u^2.2), recent days are busier than old ones, page views and email opens dominate and
pricing views / webinars are rare. The tenant's scoring model is the seed sheet (the default).
Rows are written with INSERT ... SELECT over generate_series (no Python loop), with the activity
indexes dropped during the load and rebuilt after.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/ondo_bench_scoring"
SLUG = "bench"


def bench_environment(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/5")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")


def setup_django(url: str) -> None:
    bench_environment(url)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def ensure_database(url: str) -> None:
    """A fresh dedicated database each time (dropping a million-lead tenant row by row is slower)."""
    import psycopg

    name = url.rsplit("/", 1)[-1]
    if not name.startswith("ondo_bench"):
        raise SystemExit(f"refusing to recreate database {name!r}: its name must start with ondo_bench")
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        check=True,
        env={**os.environ, "DATABASE_URL": url},
    )


def _columns_of(insert_sql: str) -> set[str]:
    head = insert_sql.split("(", 1)[1].split(")", 1)[0]
    return {c.strip() for c in head.replace("{extra_cols}", "").split(",") if c.strip()}


def fill_defaults(cursor, table: str, provided: set[str]) -> tuple[str, str]:
    """Columns NOT NULL without a default that the generator does not set get a neutral value
    (the leads schema grows; the generator keeps working)."""
    cursor.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s AND is_nullable = 'NO' "
        "AND column_default IS NULL",
        [table],
    )
    names, values = [], []
    for column, data_type in cursor.fetchall():
        if column in provided:
            continue
        neutral = {
            "boolean": "false",
            "jsonb": "'{}'::jsonb",
            "integer": "0",
            "bigint": "0",
            "smallint": "0",
            "timestamp with time zone": "now()",
            "date": "current_date",
            "numeric": "0",
            "double precision": "0",
        }.get(data_type, "''")
        names.append(column)
        values.append(neutral)
    return "".join(f", {n}" for n in names), "".join(f", {v}" for v in values)


LEAD_SQL = """
INSERT INTO leads_lead (tenant_id, email, name, company, company_normalized, title, department, employee_count,
    size_band, industry, phone, channel, campaign, stage, authority, need, budget, timing, custom_fields,
    email_consent, unsubscribed, first_seen_at, last_activity_at, score_behaviour, score_fit, score_total, segment,
    created_at, updated_at{extra_cols})
SELECT %(tenant)s, 'lead' || g || '@bench' || (g %% 5000) || '.example.jp', '見込 ' || g,
    '株式会社ベンチ' || (g %% 50000),
    'ベンチ' || (g %% 50000),
    (ARRAY['代表取締役','取締役','CEO','CTO','営業部長','マーケティング部長','Marketing Manager','マネージャー',
           '課長','主任','担当','スタッフ','Staff','エンジニア','Director','','',''])[1 + (g * 7919) %% 18],
    '', CASE WHEN g %% 9 = 0 THEN NULL ELSE (ARRAY[5,20,60,80,150,300,450,800,2000,12000])[1 + (g * 104729) %% 10] END,
    '', (ARRAY['IT・ソフトウェア','製造業','SaaS','情報通信','小売','金融','医療','建設','Manufacturing',''])
        [1 + (g * 31) %% 10],
    '', (ARRAY['seo','listing','webinar','email','event','referral'])[1 + g %% 6], '', 'lead',
    (ARRAY['','','decision_maker','influencer','none'])[1 + g %% 5], '',
    (ARRAY['','','secured','planned','none'])[1 + (g / 3) %% 5],
    (ARRAY['','within_3m','within_6m','within_12m','later'])[1 + (g / 7) %% 5], '{{}}'::jsonb, true, false,
    now() - interval '200 days', NULL, 0, 0, 0, '', now(), now(){extra_vals}
FROM generate_series(1::bigint, %(n)s::bigint) g
"""

# type distribution (cumulative): page_view 50, email_open 24, email_click 8, download 5, pricing_view 4,
# form_start 2, webinar_attend 2, webinar_register 2, form_submit 2, meeting 1
ACTIVITY_SQL = """
INSERT INTO leads_activity (tenant_id, lead_id, anonymous_id, type, occurred_at, url, campaign, properties, source,
    received_at{extra_cols})
SELECT %(tenant)s, %(first)s + floor(%(leads)s * power(r1, 2.2))::bigint, '', t.type,
    now() - (interval '180 days' * power(r2, 1.3)),
    CASE WHEN t.type = 'page_view'
         THEN (ARRAY['/','/product','/blog/a','/case','/pricing','/company'])[1 + floor(r3 * 6)::int]
         ELSE '' END,
    '', '{{}}'::jsonb, 'bench', now(){extra_vals}
FROM (SELECT random() AS r1, random() AS r2, random() AS r3, random() AS r4 FROM generate_series(1, %(n)s)) x
CROSS JOIN LATERAL (SELECT CASE
    WHEN x.r4 < 0.50 THEN 'page_view' WHEN x.r4 < 0.74 THEN 'email_open' WHEN x.r4 < 0.82 THEN 'email_click'
    WHEN x.r4 < 0.87 THEN 'download' WHEN x.r4 < 0.91 THEN 'pricing_view' WHEN x.r4 < 0.93 THEN 'form_start'
    WHEN x.r4 < 0.95 THEN 'webinar_attend' WHEN x.r4 < 0.97 THEN 'webinar_register' WHEN x.r4 < 0.99 THEN 'form_submit'
    ELSE 'meeting' END AS type) t
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--activities", type=int, default=20_000_000)
    parser.add_argument("--batch", type=int, default=2_000_000)
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    started = time.monotonic()
    bench_environment(url)
    ensure_database(url)
    setup_django(url)

    from django.db import connection, transaction

    from tenants.context import tenant_scope
    from tenants.models import Membership, Role, User
    from tenants.services import tenant_create

    tenant = tenant_create(name="ベンチ株式会社", slug=SLUG, admin_email="admin@bench.example")
    # tenant_create runs the new-tenant hooks on commit: the seed sheet becomes the active model.
    sales = User.objects.filter(email="sales@bench.example").first() or User.objects.create_user(
        "sales@bench.example", "bench-password-0123", name="営業 ベンチ"
    )
    Membership.objects.get_or_create(user=sales, tenant=tenant, defaults={"role": Role.SALES})
    with tenant_scope(tenant.pk):
        from scoring.models import ScoringModel

        assert ScoringModel.objects.filter(status="active").exists(), "default model missing"

    with connection.cursor() as cursor:
        # The rows are consistent by construction: skip the per-row foreign-key triggers (superuser only).
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'leads_activity' "
            "AND indexname <> 'leads_activity_pkey'"
        )
        activity_indexes = cursor.fetchall()
        with transaction.atomic():
            cursor.execute("SELECT set_config('app.tenant_id', %s, true)", [str(tenant.pk)])
            extra_cols, extra_vals = fill_defaults(cursor, "leads_lead", {"id", *_columns_of(LEAD_SQL)})
            t0 = time.monotonic()
            cursor.execute(
                LEAD_SQL.format(extra_cols=extra_cols, extra_vals=extra_vals), {"tenant": tenant.pk, "n": args.leads}
            )
            print(f"leads: {args.leads:,} in {time.monotonic() - t0:.1f} s", flush=True)
            cursor.execute("SELECT min(id) FROM leads_lead WHERE tenant_id = %s", [tenant.pk])
            first = cursor.fetchone()[0]
        for name, _definition in activity_indexes:
            cursor.execute(f'DROP INDEX IF EXISTS "{name}"')
        extra_cols, extra_vals = fill_defaults(cursor, "leads_activity", {"id", *_columns_of(ACTIVITY_SQL)})
        done = 0
        while done < args.activities:
            n = min(args.batch, args.activities - done)
            t0 = time.monotonic()
            with transaction.atomic():
                cursor.execute("SELECT set_config('app.tenant_id', %s, true)", [str(tenant.pk)])
                cursor.execute(
                    ACTIVITY_SQL.format(extra_cols=extra_cols, extra_vals=extra_vals),
                    {"tenant": tenant.pk, "first": first, "leads": args.leads - 1, "n": n},
                )
            done += n
            print(f"activities: {done:,} / {args.activities:,} ({n / (time.monotonic() - t0):,.0f} rows/s)", flush=True)
        cursor.execute("SET session_replication_role = origin")
        t0 = time.monotonic()
        cursor.execute("SET maintenance_work_mem = '1GB'")
        for _name, definition in activity_indexes:
            cursor.execute(definition)
        print(f"activity indexes rebuilt in {time.monotonic() - t0:.1f} s", flush=True)
        cursor.execute(
            "UPDATE leads_lead l SET last_activity_at = x.m FROM "
            "(SELECT lead_id, max(occurred_at) m FROM leads_activity "
            "WHERE tenant_id = %s GROUP BY lead_id) x WHERE l.id = x.lead_id AND l.tenant_id = %s",
            [tenant.pk, tenant.pk],
        )
        cursor.execute("VACUUM (ANALYZE) leads_lead")
        cursor.execute("VACUUM (ANALYZE) leads_activity")
    print(f"tenant '{SLUG}' (id {tenant.pk}) ready in {time.monotonic() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()
