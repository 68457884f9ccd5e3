"""KPI dashboard benchmark: rollup build/refresh times, raw vs rollup funnel, dashboard p50/p95.

    .venv/bin/python bench/dashboard_generate.py        # once: 1M leads, 20M activities (~15 min)
    .venv/bin/python bench/dashboard_p95.py             # build rollups, refresh, request the page
    .venv/bin/python bench/dashboard_p95.py --skip-build --requests 200

Database: BENCH_KPIS_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/ondo_bench_kpis), tenant
`bench-kpis`. The whole dashboard page (HTML with every panel) is requested through Django's test
client in this process (no network, no static files), as the tenant's admin, for the default month,
a year, and filtered views. Prints the figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/ondo_bench_kpis"
SLUG = "bench-kpis"


def setup(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/6")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")
    os.environ.setdefault("DEBUG", "0")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms"


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=100, help="requests of the default dashboard")
    parser.add_argument("--skip-build", action="store_true", help="keep the existing rollups")
    parser.add_argument("--verify", action="store_true", help="compare incremental rollups with a full recount")
    args = parser.parse_args()
    setup(os.environ.get("BENCH_KPIS_DATABASE_URL", DEFAULT_URL))

    from django.db import connection, transaction
    from django.test import Client
    from django.utils import timezone

    from kpis import rollups, selectors
    from kpis.periods import Period
    from tenants.context import tenant_scope
    from tenants.models import Membership, Role, Tenant

    tenant = Tenant.objects.get(slug=SLUG)
    admin = Membership.objects.filter(tenant=tenant, role=Role.ADMIN).select_related("user").first().user
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM leads_lead WHERE tenant_id = %s", [tenant.pk])
        leads = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM leads_activity WHERE tenant_id = %s", [tenant.pk])
        activities = cursor.fetchone()[0]
    print(f"tenant {SLUG}: {leads:,} leads, {activities:,} activities; {os.cpu_count()} CPUs")

    # ------------------------------------------------------------------ rollup build and refresh
    if not args.skip_build:
        with tenant_scope(tenant.pk, atomic=False):
            t0 = time.monotonic()
            stats = rollups.refresh(full=True)
            print(f"full rollup build: {time.monotonic() - t0:.1f} s  {stats.details}")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM kpis_dailyrollup WHERE tenant_id = %s", [tenant.pk])
        daily = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM kpis_periodrollup WHERE tenant_id = %s", [tenant.pk])
        periods = cursor.fetchone()[0]
    print(f"rollup rows: {daily:,} daily, {periods:,} week/month (all levels)")

    def refresh(label: str, **kwargs) -> None:
        with tenant_scope(tenant.pk, atomic=False):
            t0 = time.monotonic()
            stats = rollups.refresh(**kwargs)
            steps = ", ".join(f"{k.removesuffix('_ms')} {v}" for k, v in stats.details.items() if k.endswith("_ms"))
            print(
                f"{label}: {ms(time.monotonic() - t0)} ({stats.mode}, {stats.dirty_leads} leads, "
                f"{stats.dirty_days} days; ms per step: {steps})"
            )

    refresh("refresh with nothing new", sweep=False)
    sys.path.insert(0, str(ROOT / "bench"))
    from dashboard_generate import fill_defaults  # NOT NULL columns the leads schema may have added

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('app.tenant_id', %s, true)", [str(tenant.pk)])
        cols, vals = fill_defaults(
            cursor,
            "leads_activity",
            {
                "id",
                "tenant_id",
                "lead_id",
                "anonymous_id",
                "type",
                "occurred_at",
                "url",
                "campaign",
                "properties",
                "source",
                "received_at",
            },
        )
        cursor.execute(
            f"""
            INSERT INTO leads_activity (tenant_id, lead_id, anonymous_id, type, occurred_at, url, campaign, properties,
                source, received_at{cols})
            SELECT %s, m.top - g * 37, '', (ARRAY['email_open','page_view','download','meeting'])[1 + g %% 4], now(),
                   '', '', '{{}}'::jsonb, 'bench', now(){vals}
            FROM generate_series(1, 1000) g, (SELECT max(id) AS top FROM leads_lead WHERE tenant_id = %s) m
            """,
            [tenant.pk, tenant.pk],
        )
        cols, vals = fill_defaults(
            cursor,
            "leads_leadstagechange",
            {"id", "tenant_id", "lead_id", "from_stage", "to_stage", "changed_at", "reason"},
        )
        cursor.execute(
            f"""
            INSERT INTO leads_leadstagechange (tenant_id, lead_id, from_stage, to_stage, changed_at, reason{cols})
            SELECT %s, id, 'lead', 'mql', now(), 'bench'{vals} FROM leads_lead
            WHERE tenant_id = %s AND stage = 'lead' ORDER BY id DESC LIMIT 50
            """,
            [tenant.pk, tenant.pk],
        )
    refresh("refresh after 1,000 new activities + 50 MQLs", sweep=False)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('app.tenant_id', %s, true)", [str(tenant.pk)])
        cursor.execute(
            "UPDATE leads_lead SET owner_id = %s, updated_at = now() WHERE id IN "
            "(SELECT id FROM leads_lead WHERE tenant_id = %s AND stage = 'mql' ORDER BY id LIMIT 200) RETURNING id",
            [admin.pk, tenant.pk],
        )
        changed = [row[0] for row in cursor.fetchall()]
    rollups.mark_leads_dirty(tenant.pk, changed, reason="owner_changed")  # what leads_bulk_assign_owner announces
    refresh("refresh after 200 owner changes", sweep=False)
    refresh("refresh with the 10-minute sweep (all leads compared)", sweep=True)

    if args.verify:
        # The incremental state must equal a rebuild from the raw tables.
        with tenant_scope(tenant.pk, atomic=False), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT set_config('app.tenant_id', %s, true)", [str(tenant.pk)])
            cursor.execute(
                "CREATE TEMP TABLE inc_daily AS SELECT day, event, channel, campaign, owner_id, count, value "
                "FROM kpis_dailyrollup WHERE tenant_id = %s",
                [tenant.pk],
            )
            cursor.execute(
                "CREATE TEMP TABLE inc_period AS SELECT period_type, period_start, level, event, channel, "
                "campaign, owner_id, count, value FROM kpis_periodrollup WHERE tenant_id = %s",
                [tenant.pk],
            )
            t0 = time.monotonic()
            rollups.refresh(full=True)
            print(f"full rebuild for the comparison: {time.monotonic() - t0:.1f} s")
            diffs = []
            for table, source in (
                (
                    "inc_daily",
                    "SELECT day, event, channel, campaign, owner_id, count, value FROM "
                    "kpis_dailyrollup WHERE tenant_id = %s",
                ),
                (
                    "inc_period",
                    "SELECT period_type, period_start, level, event, channel, campaign, "
                    "owner_id, count, value FROM kpis_periodrollup WHERE tenant_id = %s",
                ),
            ):
                cursor.execute(
                    f"SELECT count(*) FROM ((SELECT * FROM {table} EXCEPT {source}) UNION ALL "
                    f"({source} EXCEPT SELECT * FROM {table})) d",
                    [tenant.pk, tenant.pk],
                )
                diffs.append(cursor.fetchone()[0])
            print(f"incremental vs full recount: {diffs[0]} daily rows differ, {diffs[1]} period rows differ")

    # ------------------------------------------------------------------ raw vs rollup funnel
    with tenant_scope(tenant.pk, atomic=False):
        month = selectors.current_period("month")
        lo, hi = month.bounds(tenant.timezone)
        with connection.cursor() as cursor:
            t0 = time.monotonic()
            cursor.execute(
                """
                SELECT (SELECT count(*) FROM leads_lead WHERE tenant_id = %(t)s
                            AND COALESCE(first_seen_at, created_at) >= %(lo)s
                            AND COALESCE(first_seen_at, created_at) < %(hi)s),
                       (SELECT count(DISTINCT lead_id) FROM leads_leadstagechange WHERE tenant_id = %(t)s
                            AND to_stage IN ('mql','sql','opportunity','customer')
                            AND changed_at >= %(lo)s AND changed_at < %(hi)s),
                       (SELECT count(*) FROM leads_leadfeedback WHERE tenant_id = %(t)s AND outcome = 'won'
                            AND occurred_at >= %(lo)s AND occurred_at < %(hi)s),
                       (SELECT count(*) FROM leads_activity WHERE tenant_id = %(t)s AND type = 'email_open'
                            AND occurred_at >= %(lo)s AND occurred_at < %(hi)s)
                """,
                {"t": tenant.pk, "lo": lo, "hi": hi},
            )
            cursor.fetchone()
            raw = time.monotonic() - t0
        t0 = time.monotonic()
        selectors.totals(month)
        rolled = time.monotonic() - t0
        year = Period.containing("year", month.start, selectors.kpi_settings().fiscal_year_start_month)
        t0 = time.monotonic()
        selectors.totals(year)
        rolled_year = time.monotonic() - t0
    print(f"monthly funnel from raw tables: {ms(raw)}; from rollups: {ms(rolled)} (a fiscal year: {ms(rolled_year)})")

    # ------------------------------------------------------------------ the page
    client = Client()
    client.force_login(admin, backend="django.contrib.auth.backends.ModelBackend")
    base = f"/t/{SLUG}/kpis/dashboard/"
    for _ in range(3):
        assert client.get(base).status_code == 200  # warm-up (template compilation, connections)
    owner = Membership.objects.filter(tenant=tenant, role=Role.SALES).values_list("user_id", flat=True).first()
    scenarios = [
        ("default (this month)", base, args.requests),
        ("fiscal year", base + "?period=year", max(20, args.requests // 4)),
        ("week", base + "?period=week", max(20, args.requests // 4)),
        ("channel filter", base + "?channel=webinar", max(20, args.requests // 4)),
        ("channel + owner filter", base + f"?channel=seo&owner={owner}", max(20, args.requests // 4)),
    ]
    everything = []
    print(f"dashboard page, {timezone.localdate():%Y/%m/%d}:")
    for label, url, count in scenarios:
        times = []
        for _ in range(count):
            t0 = time.monotonic()
            response = client.get(url)
            times.append(time.monotonic() - t0)
            assert response.status_code == 200, (url, response.status_code)
        everything += times
        print(
            f"  {label:<24} n={count:<4} p50 {ms(statistics.median(times)):>10}  p95 {ms(percentile(times, 95)):>10}"
            f"  max {ms(max(times)):>10}  ({len(response.content):,} bytes)"
        )
    print(
        f"  {'all requests':<24} n={len(everything):<4} p50 {ms(statistics.median(everything)):>10}  "
        f"p95 {ms(percentile(everything, 95)):>10}"
    )


if __name__ == "__main__":
    main()
