"""Generate the KPI benchmark tenant in its own database with set-based SQL (generate_series).

    .venv/bin/python bench/dashboard_generate.py                     # 1M leads, 20M activities
    .venv/bin/python bench/dashboard_generate.py --leads 100000 --activities 2000000

Database: postgres://postgres@127.0.0.1:5432/ondo_bench_kpis (override with BENCH_KPIS_DATABASE_URL);
dropped, created and migrated each time. It holds the tenant `bench-kpis`.

Shape (unlike the scoring benchmark, a KPI dashboard needs a funnel spread over time): two years of
leads, busier recently (the busiest leads are the oldest, so no single day gets a burst of
activity); 6 channels and 36 campaigns; about 20 % of leads become MQL, 25 % of those SQL,
40 % of SQLs opportunities, 25 % of opportunities are won (¥300,000–¥6,000,000); ten sales owners;
sales feedback for accepted / rejected / opportunity / won / lost; 20M activities (email sends, opens,
clicks, downloads, page views, webinars, surveys, forms, meetings) skewed towards a few busy leads.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate_tenant import ensure_database  # noqa: E402 - the same fresh, migrated database

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/ondo_bench_kpis"
SLUG = "bench-kpis"
DAYS = 730
OWNERS = 10


def bench_environment(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/6")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
    os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
    os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "1")


def setup_django(url: str) -> None:
    bench_environment(url)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def fill_defaults(cursor, table: str, provided: set[str]) -> tuple[str, str]:
    """NOT NULL columns without a default that the generator does not set get a neutral value
    (the leads schema keeps growing; the generator keeps working)."""
    cursor.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s AND is_nullable = 'NO' "
        "AND column_default IS NULL AND is_identity = 'NO'",
        [table],
    )
    names, values = [], []
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
    }
    for column, data_type in cursor.fetchall():
        if column not in provided:
            names.append(column)
            values.append(neutral.get(data_type, "''"))
    return "".join(f", {n}" for n in names), "".join(f", {v}" for v in values)


def _columns(sql: str) -> set[str]:
    head = sql.split("(", 1)[1].split(")", 1)[0]
    return {c.strip() for c in head.replace("{extra_cols}", "").split(",") if c.strip()}


# Deterministic pseudo-random numbers from the row id: h(g, k) in [0, 1).
H = "((hashint8((g * 7919 + {k})::bigint) & 2147483647)::float8 / 2147483648.0)"


def h(k: int, g: str = "g") -> str:
    return H.replace("g *", f"{g} *").format(k=k)


LEAD_SQL = f"""
INSERT INTO leads_lead (tenant_id, email, name, company, company_normalized, title, department, employee_count,
    size_band, industry, phone, channel, campaign, stage, authority, need, budget, timing, custom_fields,
    email_consent, unsubscribed, first_seen_at, last_activity_at, score_behaviour, score_fit, score_total, segment,
    created_at, updated_at{{extra_cols}})
SELECT %(tenant)s, 'lead' || g || '@kpi' || (g %% 5000) || '.example.jp', '見込 ' || g,
    '株式会社ベンチ' || (g %% 50000), 'ベンチ' || (g %% 50000), 'マネージャー', '', 120, '', 'IT・ソフトウェア', '',
    c.channel, c.channel || '-' || lpad((1 + floor({h(2)} * 6))::int::text, 2, '0'), 'lead', '', '', '', '',
    '{{{{}}}}'::jsonb, true, false,
    now() - interval '{DAYS} days' * GREATEST(power({h(1)}, 1.25), LEAST(1.0, 200.0 / g)), NULL, 0, 0,
    floor({h(3)} * 100)::int, CASE WHEN {h(3)} > 0.95 THEN 'hot' WHEN {h(3)} > 0.7 THEN 'warm' ELSE 'cold' END,
    now(), now(){{extra_vals}}
FROM generate_series(1::bigint, %(n)s::bigint) g
CROSS JOIN LATERAL (SELECT CASE
    WHEN {h(4)} < 0.30 THEN 'seo' WHEN {h(4)} < 0.50 THEN 'listing' WHEN {h(4)} < 0.65 THEN 'webinar'
    WHEN {h(4)} < 0.80 THEN 'email' WHEN {h(4)} < 0.90 THEN 'event' ELSE 'referral' END AS channel) c
"""

# Funnel: per lead, draw how far it gets and when (days after the first touch).
FUNNEL_SQL = f"""
CREATE TEMP TABLE bench_funnel AS
SELECT l.id, l.first_seen_at AS t0,
    {h(10, "l.id")} < 0.20 AS mql, {h(11, "l.id")} < 0.25 AS sql, {h(12, "l.id")} < 0.40 AS opp,
    {h(13, "l.id")} < 0.25 AS won, {h(14, "l.id")} < 0.30 AS rejected, {h(15, "l.id")} < 0.50 AS lost,
    l.first_seen_at + interval '1 day' * (1 + 40 * {h(16, "l.id")}) AS t_mql,
    interval '1 day' * (1 + 10 * {h(17, "l.id")}) AS d_sql,
    interval '1 day' * (2 + 25 * {h(18, "l.id")}) AS d_opp,
    interval '1 day' * (7 + 80 * {h(19, "l.id")}) AS d_won,
    (300000 + floor(57 * {h(20, "l.id")}) * 100000)::numeric AS amount,
    1 + floor({h(21, "l.id")} * {OWNERS})::int AS owner_no
FROM leads_lead l WHERE l.tenant_id = %(tenant)s
"""

STAGE_SQL = """
INSERT INTO leads_leadstagechange (tenant_id, lead_id, from_stage, to_stage, changed_at, reason{extra_cols})
SELECT %(tenant)s, id, s.from_stage, s.to_stage, s.at, 'bench'{extra_vals}
FROM bench_funnel f
CROSS JOIN LATERAL (VALUES
    ('lead', 'mql', f.t_mql, f.mql),
    ('mql', 'sql', f.t_mql + f.d_sql, f.mql AND f.sql),
    ('sql', 'opportunity', f.t_mql + f.d_sql + f.d_opp, f.mql AND f.sql AND f.opp),
    ('opportunity', 'customer', f.t_mql + f.d_sql + f.d_opp + f.d_won, f.mql AND f.sql AND f.opp AND f.won)
) AS s(from_stage, to_stage, at, hit)
WHERE s.hit AND s.at < now()
"""

FEEDBACK_SQL = """
INSERT INTO leads_leadfeedback (tenant_id, lead_id, outcome, reason, note, amount, occurred_at, created_at{extra_cols})
SELECT %(tenant)s, id, s.outcome, '', '', s.amount, s.at, now(){extra_vals}
FROM bench_funnel f
CROSS JOIN LATERAL (VALUES
    ('accepted', f.t_mql + f.d_sql, f.mql AND f.sql, NULL::numeric),
    ('rejected', f.t_mql + f.d_sql, f.mql AND NOT f.sql AND f.rejected, NULL),
    ('opportunity', f.t_mql + f.d_sql + f.d_opp, f.mql AND f.sql AND f.opp, NULL),
    ('won', f.t_mql + f.d_sql + f.d_opp + f.d_won, f.mql AND f.sql AND f.opp AND f.won, f.amount),
    ('lost', f.t_mql + f.d_sql + f.d_opp + f.d_won, f.mql AND f.sql AND f.opp AND NOT f.won AND f.lost, NULL)
) AS s(outcome, at, hit, amount)
WHERE s.hit AND s.at < now()
"""

LEAD_STATE_SQL = """
UPDATE leads_lead l SET stage = x.to_stage, stage_changed_at = x.changed_at,
    owner_id = CASE WHEN x.to_stage IS NOT NULL THEN (%(owners)s::bigint[])[f.owner_no] END
FROM bench_funnel f
LEFT JOIN LATERAL (SELECT to_stage, changed_at FROM leads_leadstagechange s
                   WHERE s.tenant_id = %(tenant)s AND s.lead_id = f.id ORDER BY changed_at DESC LIMIT 1) x ON true
WHERE l.id = f.id AND l.tenant_id = %(tenant)s AND x.to_stage IS NOT NULL
"""

# Activities: lead number k drawn as N * u^2.2 (a few busy leads); the lead's first touch is recomputed
# from k with the same hash as LEAD_SQL (no join), and the activity falls between it and now.
ACTIVITY_SQL = f"""
INSERT INTO leads_activity (tenant_id, lead_id, anonymous_id, type, occurred_at, url, campaign, properties, source,
    received_at{{extra_cols}})
SELECT %(tenant)s, %(first)s + x.k - 1, '', t.type,
    LEAST(now() - interval '1 minute', f.t0 + (now() - f.t0) * power(x.r2, 1.6)),
    '', CASE WHEN t.type LIKE 'email%%' THEN 'news-' || to_char(f.t0, 'YYYY-MM') ELSE '' END,
    '{{{{}}}}'::jsonb, 'bench', now(){{extra_vals}}
FROM (SELECT 1 + floor(%(leads)s * power(random(), 2.2))::bigint AS k, random() AS r2, random() AS r4
      FROM generate_series(1, %(n)s)) x
CROSS JOIN LATERAL (SELECT now() - interval '{DAYS} days'
                           * GREATEST(power({h(1, "x.k")}, 1.25), LEAST(1.0, 200.0 / x.k)) AS t0) f
CROSS JOIN LATERAL (SELECT CASE
    WHEN x.r4 < 0.30 THEN 'page_view' WHEN x.r4 < 0.50 THEN 'email_send' WHEN x.r4 < 0.65 THEN 'email_open'
    WHEN x.r4 < 0.71 THEN 'email_click' WHEN x.r4 < 0.76 THEN 'download' WHEN x.r4 < 0.80 THEN 'pricing_view'
    WHEN x.r4 < 0.83 THEN 'form_start' WHEN x.r4 < 0.86 THEN 'webinar_register' WHEN x.r4 < 0.88 THEN 'webinar_attend'
    WHEN x.r4 < 0.89 THEN 'survey_answer' WHEN x.r4 < 0.92 THEN 'form_submit' WHEN x.r4 < 0.93 THEN 'demo_request'
    WHEN x.r4 < 0.94 THEN 'meeting' ELSE 'page_view' END AS type) t
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--activities", type=int, default=20_000_000)
    parser.add_argument("--batch", type=int, default=2_000_000)
    args = parser.parse_args()
    url = os.environ.get("BENCH_KPIS_DATABASE_URL", DEFAULT_URL)
    started = time.monotonic()
    bench_environment(url)
    ensure_database(url)
    setup_django(url)

    from django.db import connection, transaction

    from tenants.models import Membership, Role, User
    from tenants.services import tenant_create

    tenant = tenant_create(name="ベンチKPI株式会社", slug=SLUG, admin_email="admin@bench-kpis.example")
    owners = []
    for i in range(1, OWNERS + 1):
        user = User.objects.create_user(f"sales{i}@bench-kpis.example", "bench-password-0123", name=f"営業 {i:02d}")
        Membership.objects.create(user=user, tenant=tenant, role=Role.SALES)
        owners.append(user.pk)
    params = {"tenant": tenant.pk, "owners": owners}

    def run(label: str, sql: str, table: str | None = None, **extra) -> None:
        t0 = time.monotonic()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT set_config('app.tenant_id', %s, true)", [str(tenant.pk)])
            if table:
                cols, vals = fill_defaults(cursor, table, {"id", *_columns(sql)})
                sql = sql.format(extra_cols=cols, extra_vals=vals)
            cursor.execute(sql, {**params, **extra})
            rows = cursor.rowcount
        print(f"{label}: {rows:,} rows in {time.monotonic() - t0:.1f} s", flush=True)

    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")  # consistent by construction: skip FK triggers
    run("leads", LEAD_SQL, "leads_lead", n=args.leads)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('app.tenant_id', %s, true)", [str(tenant.pk)])
        t0 = time.monotonic()
        cursor.execute(FUNNEL_SQL, params)
        for label, sql, table in (
            ("stage changes", STAGE_SQL, "leads_leadstagechange"),
            ("feedback", FEEDBACK_SQL, "leads_leadfeedback"),
        ):
            cols, vals = fill_defaults(cursor, table, {"id", *_columns(sql)})
            cursor.execute(sql.format(extra_cols=cols, extra_vals=vals), params)
            print(f"{label}: {cursor.rowcount:,} rows", flush=True)
        cursor.execute(LEAD_STATE_SQL, params)
        print(f"funnel in {time.monotonic() - t0:.1f} s", flush=True)
        cursor.execute("SELECT min(id) FROM leads_lead WHERE tenant_id = %s", [tenant.pk])
        first = cursor.fetchone()[0]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'leads_activity' "
            "AND indexname <> 'leads_activity_pkey'"
        )
        activity_indexes = cursor.fetchall()
        for name, _definition in activity_indexes:
            cursor.execute(f'DROP INDEX IF EXISTS "{name}"')
    done = 0
    while done < args.activities:
        n = min(args.batch, args.activities - done)
        run(
            f"activities {done + n:,}/{args.activities:,}",
            ACTIVITY_SQL,
            "leads_activity",
            n=n,
            first=first,
            leads=args.leads,
        )
        done += n
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = origin")
        cursor.execute("SET maintenance_work_mem = '1GB'")
        t0 = time.monotonic()
        for _name, definition in activity_indexes:
            cursor.execute(definition)
        print(f"activity indexes rebuilt in {time.monotonic() - t0:.1f} s", flush=True)
        for table in ("leads_lead", "leads_activity", "leads_leadstagechange", "leads_leadfeedback"):
            cursor.execute(f"VACUUM (ANALYZE) {table}")
    print(f"tenant '{SLUG}' (id {tenant.pk}) ready in {time.monotonic() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()
