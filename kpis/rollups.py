"""Daily rollups per tenant × local day × channel × campaign × owner × event, kept incrementally.

What is counted (events):
- lead-level milestones, once per lead on the local day it first happened (from `LeadFact`):
  `lead` (first touch), `mql`, `sql`, `opportunity` (first reach of that stage or beyond, from stage
  changes and sales feedback), `customer` (first win; value = days from first touch) and
  `meeting_lead` (first meeting activity);
- sales feedback records: `won` (value = amount), `won_priced` (won with an amount), `lost`,
  `rejected`, `accepted`;
- activities of known leads by type: `act:<type>` for the types in `catalog.ACTIVITY_TYPES`.
Every event carries the lead's current channel, campaign (an activity's own campaign wins) and owner.

How it stays exact and cheap (PostgreSQL, set-based SQL):
- `LeadFact` is a snapshot of each lead as counted. A refresh recomputes the facts of the leads that
  may have changed and applies the difference (old contribution out, new in) to the milestone rows.
- Activity and feedback rows are recounted for the local days that may have changed: days of new
  rows, and all days of leads whose dimensions changed, that were merged into, or that disappeared.
- Week and month rows (`PeriodRollup`, at every level) receive the same differences.
"May have changed" = new ids since the watermarks of the refresh before last (an overlap, so rows
of transactions that committed late are not missed), leads reported through `leads.hooks` (every
leads service announces creates, updates, stage and owner changes and merges there), and merges.
Every `SWEEP_EVERY` a sweep compares all leads' dimensions and milestones with their facts
(catching direct updates and deletions); every `FULL_EVERY` the tenant is rebuilt from scratch.
`recount()` is an independent ORM implementation (the oracle the tests compare the SQL with).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from leads import models as leads_models
from leads.models import Activity, Lead, LeadFeedback, LeadStageChange
from tenants.context import activate_in_transaction, require_tenant_id
from tenants.models import Tenant

from .catalog import ACTIVITY_TYPES
from .models import DailyRollup, DirtyLead, PeriodRollup, RollupState

logger = logging.getLogger("ondo.kpis")

# The set-based SQL below is composed from this module's constants, internal table and column names and
# generated placeholders only; every value is a bound parameter (hence the `nosec B608` marks).

MILESTONES = ("lead", "mql", "sql", "opportunity", "customer", "meeting_lead")
FEEDBACK_EVENTS = ("won", "won_priced", "lost", "rejected", "accepted")
MQL_OR_BEYOND = ("mql", "sql", "opportunity", "customer")
SQL_OR_BEYOND = ("sql", "opportunity", "customer")
OPP_OR_BEYOND = ("opportunity", "customer")
FB_SQL = ("accepted", "opportunity", "won")
FB_OPP = ("opportunity", "won")

SWEEP_EVERY = dt.timedelta(minutes=getattr(settings, "KPIS_ROLLUP_SWEEP_MINUTES", 10))
# A full rebuild reads every activity (minutes for tens of millions): weekly, as the safety net.
FULL_EVERY = dt.timedelta(hours=getattr(settings, "KPIS_ROLLUP_FULL_HOURS", 24 * 7))
MAX_INCREMENTAL_LEADS = 50_000  # beyond this a full rebuild is cheaper
LOCK_NAMESPACE = 0x6B706973  # "kpis"

FACT_COLUMNS = (
    "lead_id",
    "channel",
    "campaign",
    "owner_id",
    "acquired_on",
    "mql_on",
    "sql_on",
    "opportunity_on",
    "won_on",
    "meeting_on",
    "nurture_days",
    "activity_count",
    "feedback_count",
    "first_row_on",
    "last_row_on",
)


@dataclass
class RefreshStats:
    mode: str
    dirty_leads: int = 0
    dirty_days: int = 0
    milliseconds: int = 0
    details: dict = field(default_factory=dict)


def _tenant_tz(tenant_id: int) -> str:
    return Tenant.objects.only("timezone").get(pk=tenant_id).timezone or settings.TIME_ZONE


# ================================================================================== public entry points


def refresh(*, full: bool = False, sweep: bool | None = None) -> RefreshStats:
    """Bring the active tenant's rollups up to date (incremental unless a rebuild is due).

    Safe to run concurrently and repeatedly: a second run for the same tenant waits for the lock,
    and a run with nothing to do changes nothing.
    """
    tenant_id = require_tenant_id()
    started = time.monotonic()
    with transaction.atomic():
        activate_in_transaction()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, tenant_id])
        tz = _tenant_tz(tenant_id)
        state, _created = RollupState.objects.select_for_update().get_or_create(tenant_id=tenant_id)
        now = timezone.now()
        if state.timezone != tz:
            state.needs_full = True
        due_full = state.last_full_at is None or now - state.last_full_at >= FULL_EVERY
        if full or state.needs_full or due_full:
            stats = _full_rebuild(tenant_id, tz, state, now)
        else:
            if sweep is None:
                sweep = state.last_sweep_at is None or now - state.last_sweep_at >= SWEEP_EVERY
            stats = _incremental(tenant_id, tz, state, now, sweep=sweep)
        stats.milliseconds = int((time.monotonic() - started) * 1000)
        state.timezone = tz
        state.last_refresh_at = now
        state.last_refresh_ms = stats.milliseconds
        state.last_refresh_mode = stats.mode
        if stats.mode == "full":
            state.last_full_at = now
            state.last_full_ms = stats.milliseconds
            state.last_sweep_at = now
            state.needs_full = False
        elif sweep:
            state.last_sweep_at = now
        state.save()
    return stats


def mark_leads_dirty(tenant_id: int, lead_ids: list[int], reason: str = "") -> None:
    """`leads.hooks` callback (after commit): remember the leads for the next refresh."""
    from tenants.context import tenant_scope

    with tenant_scope(tenant_id):
        if len(lead_ids) > MAX_INCREMENTAL_LEADS:
            RollupState.objects.update_or_create(tenant_id=tenant_id, defaults={"needs_full": True})
            return
        DirtyLead.objects.bulk_create([DirtyLead(lead_id=i) for i in lead_ids], batch_size=5000)


# ================================================================================== PostgreSQL path


def _ids_max(cursor, table: str, tenant_id: int) -> int:
    # The primary key index answers this; scoped by tenant so RLS-enforced roles see the same.
    cursor.execute(f"SELECT COALESCE(max(id), 0) FROM {table} WHERE tenant_id = %s", [tenant_id])  # nosec B608
    return int(cursor.fetchone()[0])


def _facts_sql(restricted: bool) -> str:
    """Facts of leads (all, or those in temp table kpis_tmp_dirty). Params: t, tz."""
    only = " AND {col} IN (SELECT lead_id FROM kpis_tmp_dirty)" if restricted else ""
    return f"""
    WITH l AS (
        SELECT l.id AS lead_id, l.channel, l.campaign, COALESCE(l.owner_id, 0) AS owner_id,
               COALESCE(l.first_seen_at, l.created_at) AS acquired_at
        FROM leads_lead l
        WHERE l.tenant_id = %(t)s AND l.merged_into_id IS NULL{only.format(col="l.id")}
    ), sc AS (
        SELECT s.lead_id,
               min(s.changed_at) FILTER (WHERE s.to_stage IN ('mql', 'sql', 'opportunity', 'customer')) AS mql_at,
               min(s.changed_at) FILTER (WHERE s.to_stage IN ('sql', 'opportunity', 'customer')) AS sql_at,
               min(s.changed_at) FILTER (WHERE s.to_stage IN ('opportunity', 'customer')) AS opp_at,
               min(s.changed_at) FILTER (WHERE s.to_stage = 'customer') AS won_at
        FROM leads_leadstagechange s
        WHERE s.tenant_id = %(t)s{only.format(col="s.lead_id")}
        GROUP BY s.lead_id
    ), fb AS (
        SELECT f.lead_id,
               min(f.occurred_at) FILTER (WHERE f.outcome IN ('accepted', 'opportunity', 'won')) AS sql_at,
               min(f.occurred_at) FILTER (WHERE f.outcome IN ('opportunity', 'won')) AS opp_at,
               min(f.occurred_at) FILTER (WHERE f.outcome = 'won') AS won_at,
               count(*) AS n, min(f.occurred_at) AS first_at, max(f.occurred_at) AS last_at
        FROM leads_leadfeedback f
        WHERE f.tenant_id = %(t)s{only.format(col="f.lead_id")}
        GROUP BY f.lead_id
    ), ac AS (
        SELECT a.lead_id, count(*) AS n, min(a.occurred_at) FILTER (WHERE a.type = 'meeting') AS meeting_at,
               min(a.occurred_at) AS first_at, max(a.occurred_at) AS last_at
        FROM leads_activity a
        WHERE a.tenant_id = %(t)s AND a.lead_id IS NOT NULL{only.format(col="a.lead_id")}
        GROUP BY a.lead_id
    ), j AS (
        SELECT l.lead_id, l.channel, l.campaign, l.owner_id, l.acquired_at,
               LEAST(sc.mql_at, fb.sql_at) AS mql_at, LEAST(sc.sql_at, fb.sql_at) AS sql_at,
               LEAST(sc.opp_at, fb.opp_at) AS opp_at, LEAST(sc.won_at, fb.won_at) AS won_at,
               ac.meeting_at, COALESCE(ac.n, 0) AS activity_count, COALESCE(fb.n, 0) AS feedback_count,
               LEAST(ac.first_at, fb.first_at) AS first_row_at, GREATEST(ac.last_at, fb.last_at) AS last_row_at
        FROM l LEFT JOIN sc USING (lead_id) LEFT JOIN fb USING (lead_id) LEFT JOIN ac USING (lead_id)
    )
    SELECT lead_id, channel, campaign, owner_id,
           (acquired_at AT TIME ZONE %(tz)s)::date, (mql_at AT TIME ZONE %(tz)s)::date,
           (sql_at AT TIME ZONE %(tz)s)::date, (opp_at AT TIME ZONE %(tz)s)::date,
           (won_at AT TIME ZONE %(tz)s)::date, (meeting_at AT TIME ZONE %(tz)s)::date,
           CASE WHEN won_at IS NOT NULL
                THEN round(GREATEST(extract(epoch FROM won_at - acquired_at), 0) / 86400.0, 2) END,
           activity_count, feedback_count,
           (first_row_at AT TIME ZONE %(tz)s)::date, (last_row_at AT TIME ZONE %(tz)s)::date
    FROM j
    """  # nosec B608


MILESTONE_VALUES_SQL = """
    CROSS JOIN LATERAL (VALUES
        ('lead', f.acquired_on, 0::numeric), ('mql', f.mql_on, 0::numeric), ('sql', f.sql_on, 0::numeric),
        ('opportunity', f.opportunity_on, 0::numeric), ('customer', f.won_on, COALESCE(f.nurture_days, 0)),
        ('meeting_lead', f.meeting_on, 0::numeric)
    ) AS v(event, day, value)
"""

ACTIVITY_TYPES_SQL = "(" + ", ".join(f"'{t}'" for t in ACTIVITY_TYPES) + ")"
FEEDBACK_EVENTS_SQL = "(" + ", ".join(f"'{e}'" for e in FEEDBACK_EVENTS) + ")"

FEEDBACK_VALUES_SQL = """
    CROSS JOIN LATERAL (VALUES
        ('won', b.outcome = 'won', COALESCE(b.amount, 0)),
        ('won_priced', b.outcome = 'won' AND b.amount IS NOT NULL, 0::numeric),
        ('lost', b.outcome = 'lost', 0::numeric), ('rejected', b.outcome = 'rejected', 0::numeric),
        ('accepted', b.outcome = 'accepted', 0::numeric)
    ) AS e(event, hit, value)
"""

# Local days → [local midnight, next local midnight) as timestamptz (index range scans per day).
DAY_RANGES_SQL = """
    WITH r AS (
        SELECT d AS day, (d::timestamp AT TIME ZONE %(tz)s) AS lo, ((d + 1)::timestamp AT TIME ZONE %(tz)s) AS hi
        FROM unnest(%(days)s::date[]) AS d
    )
"""


def _insert_activity_days(cursor, params: dict, days: list[dt.date] | None) -> None:
    if days is None:
        cursor.execute(
            f"""
            INSERT INTO kpis_dailyrollup (tenant_id, day, event, channel, campaign, owner_id, count, value)
            SELECT %(t)s, (a.occurred_at AT TIME ZONE %(tz)s)::date, 'act:' || a.type, f.channel,
                   COALESCE(NULLIF(a.campaign, ''), f.campaign), f.owner_id, count(*), 0
            FROM leads_activity a
            JOIN kpis_leadfact f ON f.tenant_id = %(t)s AND f.lead_id = a.lead_id
            WHERE a.tenant_id = %(t)s AND a.type IN {ACTIVITY_TYPES_SQL}
            GROUP BY 2, 3, 4, 5, 6
            ORDER BY 2, 3, 4, 5, 6
        """,  # nosec B608
            params,
        )
        return
    # LATERAL + OFFSET 0: one index range scan per day (the planner cannot estimate the ranges and
    # would otherwise scan every activity of the tenant).
    cursor.execute(
        DAY_RANGES_SQL
        + f"""
        INSERT INTO kpis_dailyrollup (tenant_id, day, event, channel, campaign, owner_id, count, value)
        SELECT %(t)s, a.day, 'act:' || a.type, f.channel, COALESCE(NULLIF(a.campaign, ''), f.campaign),
               f.owner_id, count(*), 0
        FROM r CROSS JOIN LATERAL (
            SELECT r.day, x.type, x.campaign, x.lead_id FROM leads_activity x
            WHERE x.tenant_id = %(t)s AND x.occurred_at >= r.lo AND x.occurred_at < r.hi
              AND x.type IN {ACTIVITY_TYPES_SQL}
            OFFSET 0
        ) AS a
        JOIN kpis_leadfact f ON f.tenant_id = %(t)s AND f.lead_id = a.lead_id
        GROUP BY 2, 3, 4, 5, 6
        ORDER BY 2, 3, 4, 5, 6
    """,  # nosec B608
        {**params, "days": days},
    )


def _insert_feedback_days(cursor, params: dict, days: list[dt.date] | None) -> None:
    if days is None:
        prefix, day = "", "(b.occurred_at AT TIME ZONE %(tz)s)::date"
        source, where = "FROM leads_leadfeedback b", "WHERE b.tenant_id = %(t)s AND e.hit"
    else:
        prefix, day = DAY_RANGES_SQL, "b.day"
        source = (
            "FROM r CROSS JOIN LATERAL (SELECT r.day, x.* FROM leads_leadfeedback x WHERE x.tenant_id = %(t)s "
            "AND x.occurred_at >= r.lo AND x.occurred_at < r.hi OFFSET 0) AS b"
        )
        where = "WHERE e.hit"
        params = {**params, "days": days}
    cursor.execute(
        prefix
        + f"""
        INSERT INTO kpis_dailyrollup (tenant_id, day, event, channel, campaign, owner_id, count, value)
        SELECT %(t)s, {day}, e.event, f.channel, f.campaign, f.owner_id, count(*), sum(e.value)
        {source}
        JOIN kpis_leadfact f ON f.tenant_id = %(t)s AND f.lead_id = b.lead_id
        {FEEDBACK_VALUES_SQL}
        {where}
        GROUP BY 2, 3, 4, 5, 6
        ORDER BY 2, 3, 4, 5, 6
    """,
        params,
    )


LEVELS_SQL = """
    CROSS JOIN LATERAL (VALUES
        (0, ''::varchar, ''::varchar, 0::bigint), (1, x.channel, ''::varchar, 0::bigint),
        (2, ''::varchar, x.campaign, 0::bigint), (3, ''::varchar, ''::varchar, x.owner_id),
        (4, x.channel, x.campaign, x.owner_id), (5, x.channel, ''::varchar, x.owner_id)
    ) AS l(level, channel, campaign, owner_id)
"""


def _rebuild_periods(cursor, params: dict) -> None:
    """All week and month rows, at every level, from the daily rows (full rebuild)."""
    cursor.execute("DELETE FROM kpis_periodrollup WHERE tenant_id = %(t)s", params)
    cursor.execute("DROP TABLE IF EXISTS kpis_tmp_pdetail")
    cursor.execute(
        """
        CREATE TEMP TABLE kpis_tmp_pdetail ON COMMIT DROP AS
        SELECT k.kind, k.start, d.event, d.channel, d.campaign, d.owner_id, sum(d.count) AS count,
               sum(d.value) AS value
        FROM kpis_dailyrollup d
        CROSS JOIN LATERAL (VALUES ('week', date_trunc('week', d.day)::date),
                                   ('month', date_trunc('month', d.day)::date)) AS k(kind, start)
        WHERE d.tenant_id = %(t)s
        GROUP BY 1, 2, 3, 4, 5, 6
        """,
        params,
    )
    cursor.execute(
        f"""
        INSERT INTO kpis_periodrollup
            (tenant_id, period_type, period_start, level, event, channel, campaign, owner_id, count, value)
        SELECT %(t)s, x.kind, x.start, l.level, x.event, l.channel, l.campaign, l.owner_id, sum(x.count),
               sum(x.value)
        FROM kpis_tmp_pdetail x {LEVELS_SQL}
        GROUP BY 2, 3, 4, 5, 6, 7, 8
        ORDER BY 2, 3, 4, 5, 6, 7, 8
        """,  # nosec B608
        params,
    )
    cursor.execute("DROP TABLE IF EXISTS kpis_tmp_pdetail")


def _apply_period_delta(cursor, params: dict) -> int:
    """Add the daily differences collected in kpis_tmp_delta to the week and month rows of every
    level; drop rows that fell to zero. Returns how many period rows changed."""
    cursor.execute(
        f"""
        WITH x AS (
            SELECT k.kind, k.start, d.event, d.channel, d.campaign, d.owner_id, d.dc, d.dv
            FROM kpis_tmp_delta d
            CROSS JOIN LATERAL (VALUES ('week', date_trunc('week', d.day)::date),
                                       ('month', date_trunc('month', d.day)::date)) AS k(kind, start)
        )
        INSERT INTO kpis_periodrollup AS p
            (tenant_id, period_type, period_start, level, event, channel, campaign, owner_id, count, value)
        SELECT %(t)s, x.kind, x.start, l.level, x.event, l.channel, l.campaign, l.owner_id, sum(x.dc), sum(x.dv)
        FROM x {LEVELS_SQL}
        GROUP BY 2, 3, 4, 5, 6, 7, 8
        HAVING sum(x.dc) <> 0 OR sum(x.dv) <> 0
        ORDER BY 2, 3, 4, 5, 6, 7, 8
        ON CONFLICT ON CONSTRAINT periodrollup_unique_key DO UPDATE
           SET count = p.count + EXCLUDED.count, value = p.value + EXCLUDED.value
        RETURNING period_type, period_start
        """,  # nosec B608
        params,
    )
    touched = {(kind, start) for kind, start in cursor.fetchall()}
    if touched:
        cursor.execute(
            """
            DELETE FROM kpis_periodrollup p
            USING unnest(%(kinds)s::varchar[], %(starts)s::date[]) AS k(kind, start)
            WHERE p.tenant_id = %(t)s AND p.period_type = k.kind AND p.period_start = k.start
              AND p.count = 0 AND p.value = 0
            """,
            {**params, "kinds": [k for k, _s in touched], "starts": [s for _k, s in touched]},
        )
    return len(touched)


def _current_watermarks(cursor, tenant_id: int) -> dict[str, int]:
    out = {
        "lead": _ids_max(cursor, "leads_lead", tenant_id),
        "activity": _ids_max(cursor, "leads_activity", tenant_id),
        "stage": _ids_max(cursor, "leads_leadstagechange", tenant_id),
        "feedback": _ids_max(cursor, "leads_leadfeedback", tenant_id),
        "merge": 0,
        "dirty": _ids_max(cursor, "kpis_dirtylead", tenant_id),
    }
    merge_model = _merge_model()
    if merge_model is not None:
        out["merge"] = _ids_max(cursor, merge_model._meta.db_table, tenant_id)
    return out


def _merge_model():
    return getattr(leads_models, "LeadMerge", None)


_MARK_FIELDS = {
    "lead": "last_lead_id",
    "activity": "last_activity_id",
    "stage": "last_stage_change_id",
    "feedback": "last_feedback_id",
    "merge": "last_merge_id",
    "dirty": "last_dirty_id",
}


def _scan_from(state: RollupState) -> dict[str, int]:
    """Where this refresh starts scanning: the maxima seen by the refresh before the last one."""
    previous = state.scan_from or {}
    return {
        key: min(int(previous.get(key, getattr(state, name))), getattr(state, name))
        for key, name in _MARK_FIELDS.items()
    }


def _store_watermarks(state: RollupState, marks: dict[str, int], now: dt.datetime, *, overlap: bool) -> None:
    state.scan_from = {key: getattr(state, name) for key, name in _MARK_FIELDS.items()} if overlap else dict(marks)
    for key, name in _MARK_FIELDS.items():
        setattr(state, name, marks[key])
    state.leads_checked_at = now


def _full_rebuild(tenant_id: int, tz: str, state: RollupState, now: dt.datetime) -> RefreshStats:
    params = {"t": tenant_id, "tz": tz}
    details = {}
    with connection.cursor() as cursor:
        # One big aggregation over all activities: give it memory instead of spilling to disk.
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute(
            "DROP TABLE IF EXISTS kpis_tmp_dirty, kpis_tmp_moved, kpis_tmp_merged, kpis_tmp_hook, "
            "kpis_tmp_old, kpis_tmp_new"
        )
        marks = _current_watermarks(cursor, tenant_id)
        t0 = time.monotonic()
        cursor.execute("DELETE FROM kpis_leadfact WHERE tenant_id = %(t)s", params)
        cursor.execute(
            f"""
            INSERT INTO kpis_leadfact (tenant_id, {", ".join(FACT_COLUMNS)})
            SELECT %(t)s, * FROM ({_facts_sql(False)}) AS facts
        """,  # nosec B608
            params,
        )
        cursor.execute("ANALYZE kpis_leadfact")  # the joins below need to know it is big now
        details["facts_ms"] = int((time.monotonic() - t0) * 1000)
        t0 = time.monotonic()
        cursor.execute("DELETE FROM kpis_dailyrollup WHERE tenant_id = %(t)s", params)
        cursor.execute(
            f"""
            INSERT INTO kpis_dailyrollup (tenant_id, day, event, channel, campaign, owner_id, count, value)
            SELECT %(t)s, v.day, v.event, f.channel, f.campaign, f.owner_id, count(*), sum(v.value)
            FROM kpis_leadfact f {MILESTONE_VALUES_SQL}
            WHERE f.tenant_id = %(t)s AND v.day IS NOT NULL
            GROUP BY 2, 3, 4, 5, 6
            ORDER BY 2, 3, 4, 5, 6
        """,  # nosec B608
            params,
        )
        _insert_feedback_days(cursor, params, None)
        details["milestones_feedback_ms"] = int((time.monotonic() - t0) * 1000)
        t0 = time.monotonic()
        _insert_activity_days(cursor, params, None)
        details["activities_ms"] = int((time.monotonic() - t0) * 1000)
        t0 = time.monotonic()
        _rebuild_periods(cursor, params)
        details["periods_ms"] = int((time.monotonic() - t0) * 1000)
        cursor.execute(
            "DELETE FROM kpis_dirtylead WHERE tenant_id = %(t)s AND id <= %(d)s", {**params, "d": marks["dirty"]}
        )
        cursor.execute("SELECT count(*) FROM kpis_leadfact WHERE tenant_id = %(t)s", params)
        facts = cursor.fetchone()[0]
    _store_watermarks(state, marks, now, overlap=False)
    return RefreshStats(mode="full", dirty_leads=facts, details=details)


def _incremental(tenant_id: int, tz: str, state: RollupState, now: dt.datetime, *, sweep: bool) -> RefreshStats:
    params = {"t": tenant_id, "tz": tz}
    details: dict = {}
    clock = [time.monotonic()]

    def lap(name: str) -> None:
        now_ = time.monotonic()
        details[f"{name}_ms"] = int((now_ - clock[0]) * 1000)
        clock[0] = now_

    with connection.cursor() as cursor:
        # Many small, selective statements: compiling them (JIT) costs more than running them.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute("SET LOCAL work_mem = '64MB'")
        marks = _current_watermarks(cursor, tenant_id)
        since = _scan_from(state)
        window = {
            **params,
            "lead0": since["lead"],
            "act0": since["activity"],
            "stage0": since["stage"],
            "fb0": since["feedback"],
            "merge0": since["merge"],
            "dirty1": marks["dirty"],
            "act1": state.last_activity_id,
            "fb1": state.last_feedback_id,
        }
        cursor.execute(
            "DROP TABLE IF EXISTS kpis_tmp_dirty, kpis_tmp_moved, kpis_tmp_merged, kpis_tmp_hook, "
            "kpis_tmp_old, kpis_tmp_new"
        )
        for name in ("kpis_tmp_dirty", "kpis_tmp_moved", "kpis_tmp_merged", "kpis_tmp_hook"):
            cursor.execute(f"CREATE TEMP TABLE {name} (lead_id bigint PRIMARY KEY) ON COMMIT DROP")
        merge_sql = ""
        merge_model = _merge_model()
        if merge_model is not None:
            table = merge_model._meta.db_table
            cursor.execute(
                f"""
                INSERT INTO kpis_tmp_moved SELECT DISTINCT survivor_id FROM {table}
                WHERE tenant_id = %(t)s AND id > %(merge0)s ON CONFLICT DO NOTHING
            """,  # nosec B608
                window,
            )
            cursor.execute(
                f"""
                INSERT INTO kpis_tmp_merged SELECT DISTINCT merged_lead_id FROM {table}
                WHERE tenant_id = %(t)s AND id > %(merge0)s ON CONFLICT DO NOTHING
            """,  # nosec B608
                window,
            )
            merge_sql = "UNION SELECT lead_id FROM kpis_tmp_moved UNION SELECT lead_id FROM kpis_tmp_merged"
        cursor.execute(
            """
            INSERT INTO kpis_tmp_hook SELECT DISTINCT lead_id FROM kpis_dirtylead
            WHERE tenant_id = %(t)s AND id <= %(dirty1)s ON CONFLICT DO NOTHING
        """,
            window,
        )
        cursor.execute(
            f"""
            INSERT INTO kpis_tmp_dirty
            SELECT id FROM leads_lead WHERE tenant_id = %(t)s AND id > %(lead0)s
            UNION SELECT lead_id FROM leads_leadstagechange WHERE tenant_id = %(t)s AND id > %(stage0)s
            UNION SELECT lead_id FROM leads_leadfeedback WHERE tenant_id = %(t)s AND id > %(fb0)s
            UNION SELECT lead_id FROM leads_activity
                  WHERE tenant_id = %(t)s AND id > %(act0)s AND lead_id IS NOT NULL
            UNION SELECT lead_id FROM kpis_tmp_hook
            {merge_sql}
            ON CONFLICT DO NOTHING
        """,  # nosec B608
            window,
        )
        if sweep:
            details["sweep_leads"] = _sweep_into_dirty(cursor, params)
        cursor.execute("ANALYZE kpis_tmp_dirty")  # temp tables have no statistics: the joins below need them
        cursor.execute("SELECT count(*) FROM kpis_tmp_dirty")
        dirty_count = cursor.fetchone()[0]
        if dirty_count > MAX_INCREMENTAL_LEADS:
            return _full_rebuild(tenant_id, tz, state, now)

        lap("detect")
        # 1. Facts of the dirty leads: old (as counted) and new (as they are now).
        cursor.execute(
            f"""
            CREATE TEMP TABLE kpis_tmp_old ON COMMIT DROP AS
            SELECT {", ".join(FACT_COLUMNS)} FROM kpis_leadfact
            WHERE tenant_id = %(t)s AND lead_id IN (SELECT lead_id FROM kpis_tmp_dirty)
        """,  # nosec B608
            params,
        )
        cursor.execute(
            f"""
            CREATE TEMP TABLE kpis_tmp_new ON COMMIT DROP AS
            SELECT * FROM ({_facts_sql(True)}) AS facts ({", ".join(FACT_COLUMNS)})
        """,  # nosec B608
            params,
        )

        cursor.execute("ANALYZE kpis_tmp_old")
        cursor.execute("ANALYZE kpis_tmp_new")
        lap("facts")
        # 2. Milestones: the difference between old and new facts, per day and dimensions.
        cursor.execute("DROP TABLE IF EXISTS kpis_tmp_delta")
        cursor.execute(
            f"""
            CREATE TEMP TABLE kpis_tmp_delta ON COMMIT DROP AS
            WITH ev AS (
                SELECT -1 AS sign, o.* FROM kpis_tmp_old o UNION ALL SELECT 1, n.* FROM kpis_tmp_new n
            )
            SELECT v.day, v.event::varchar AS event, f.channel, f.campaign, f.owner_id, sum(f.sign)::bigint AS dc,
                   sum(f.sign * v.value) AS dv
            FROM ev f {MILESTONE_VALUES_SQL}
            WHERE v.day IS NOT NULL
            GROUP BY 1, 2, 3, 4, 5
            HAVING sum(f.sign) <> 0 OR sum(f.sign * v.value) <> 0
            """,  # nosec B608
            params,
        )
        cursor.execute(
            """
            INSERT INTO kpis_dailyrollup AS d (tenant_id, day, event, channel, campaign, owner_id, count, value)
            SELECT %(t)s, day, event, channel, campaign, owner_id, dc, dv FROM kpis_tmp_delta
            ORDER BY 2, 3, 4, 5, 6
            ON CONFLICT ON CONSTRAINT dailyrollup_unique_key DO UPDATE
               SET count = d.count + EXCLUDED.count, value = d.value + EXCLUDED.value
            RETURNING day
            """,
            params,
        )
        milestone_days = {row[0] for row in cursor.fetchall()}
        if milestone_days:
            day_params = {**params, "days": sorted(milestone_days)}
            cursor.execute(
                """
                DELETE FROM kpis_dailyrollup
                WHERE tenant_id = %(t)s AND day = ANY(%(days)s::date[]) AND count = 0 AND value = 0
            """,
                day_params,
            )
            cursor.execute(
                """
                SELECT count(*) FROM kpis_dailyrollup
                WHERE tenant_id = %(t)s AND day = ANY(%(days)s::date[]) AND count < 0
            """,
                day_params,
            )
            if cursor.fetchone()[0]:
                # Snapshot and rollup disagree (edited by hand?): rebuild rather than show nonsense.
                logger.warning("kpis rollups drifted for tenant %s; rebuilding", tenant_id)
                return _full_rebuild(tenant_id, tz, state, now)

        # 3. Replace the facts.
        cursor.execute(
            """
            DELETE FROM kpis_leadfact WHERE tenant_id = %(t)s AND lead_id IN (SELECT lead_id FROM kpis_tmp_dirty)
        """,
            params,
        )
        cursor.execute(
            f"""
            INSERT INTO kpis_leadfact (tenant_id, {", ".join(FACT_COLUMNS)})
            SELECT %(t)s, {", ".join(FACT_COLUMNS)} FROM kpis_tmp_new
        """,  # nosec B608
            params,
        )

        # 4. Which dirty leads' rows are all accounted for? A lead's rows now must be its rows before
        #    plus its rows newer than the last refresh; otherwise rows arrived late, moved (merge) or
        #    vanished, and the days the lead spans are recounted.
        cursor.execute("DROP TABLE IF EXISTS kpis_tmp_newcount, kpis_tmp_recheck")
        cursor.execute(
            """
            CREATE TEMP TABLE kpis_tmp_newcount ON COMMIT DROP AS
            SELECT lead_id, sum(a)::bigint AS act, sum(f)::bigint AS fb FROM (
                SELECT lead_id, 1 AS a, 0 AS f FROM leads_activity
                WHERE tenant_id = %(t)s AND id > %(act1)s AND lead_id IS NOT NULL
                UNION ALL
                SELECT lead_id, 0, 1 FROM leads_leadfeedback WHERE tenant_id = %(t)s AND id > %(fb1)s
            ) AS x GROUP BY lead_id
            """,
            window,
        )
        cursor.execute(
            """
            CREATE TEMP TABLE kpis_tmp_recheck ON COMMIT DROP AS
            SELECT n.lead_id, LEAST(o.first_row_on, n.first_row_on) AS first_on,
                   GREATEST(o.last_row_on, n.last_row_on) AS last_on
            FROM kpis_tmp_new n LEFT JOIN kpis_tmp_old o USING (lead_id) LEFT JOIN kpis_tmp_newcount c USING (lead_id)
            WHERE n.activity_count <> COALESCE(o.activity_count, 0) + COALESCE(c.act, 0)
               OR n.feedback_count <> COALESCE(o.feedback_count, 0) + COALESCE(c.fb, 0)
            """
        )
        details["recheck_leads"] = cursor.rowcount

        # 5. Leads whose rows now count under other dimensions (owner / channel / campaign changed):
        #    move the rows counted before, per day, from the old to the new dimensions.
        moved_rows = _move_changed_leads(cursor, window)
        if moved_rows is None:
            logger.warning("kpis rollups drifted for tenant %s; rebuilding", tenant_id)
            return _full_rebuild(tenant_id, tz, state, now)
        details["moved_rows"] = moved_rows

        # 6. Rows newer than the last refresh: add them (append-only data, so no day is recounted).
        details["new_rows"] = _append_new_rows(cursor, window)

        # 7. Days recounted: the span of leads whose rows did not add up, and of leads that vanished
        #    (a merged lead's rows moved to its survivor, which is rechecked).
        cursor.execute(
            """
            SELECT generate_series(first_on, last_on, interval '1 day')::date FROM kpis_tmp_recheck
            WHERE first_on IS NOT NULL
            UNION SELECT generate_series(o.first_row_on, o.last_row_on, interval '1 day')::date
            FROM kpis_tmp_old o
            WHERE o.first_row_on IS NOT NULL AND o.lead_id NOT IN (SELECT lead_id FROM kpis_tmp_new)
                  AND o.lead_id NOT IN (SELECT lead_id FROM kpis_tmp_merged)
        """,
            window,
        )
        recount_days = {row[0] for row in cursor.fetchall()}
        lap("milestones_and_days")
        days = sorted(recount_days)
        if days:
            family = f"(event LIKE 'act:%%' OR event IN {FEEDBACK_EVENTS_SQL})"
            day_params = {**params, "days": days}
            # Old rows out of the periods, recount, new rows in.
            cursor.execute(
                f"""
                INSERT INTO kpis_tmp_delta SELECT day, event, channel, campaign, owner_id, -count, -value
                FROM kpis_dailyrollup WHERE tenant_id = %(t)s AND day = ANY(%(days)s::date[]) AND {family}
                """,  # nosec B608
                day_params,
            )
            cursor.execute(
                f"DELETE FROM kpis_dailyrollup WHERE tenant_id = %(t)s AND day = ANY(%(days)s::date[]) AND {family}",  # nosec B608
                day_params,
            )
            _insert_activity_days(cursor, params, days)
            _insert_feedback_days(cursor, params, days)
            cursor.execute(
                f"""
                INSERT INTO kpis_tmp_delta SELECT day, event, channel, campaign, owner_id, count, value
                FROM kpis_dailyrollup WHERE tenant_id = %(t)s AND day = ANY(%(days)s::date[]) AND {family}
                """,  # nosec B608
                day_params,
            )

        lap("recount")
        # 6. Weeks and months: add the differences.
        touched = sorted(milestone_days | recount_days)
        details["period_rows"] = _apply_period_delta(cursor, params)
        lap("periods")
        cursor.execute("DELETE FROM kpis_dirtylead WHERE tenant_id = %(t)s AND id <= %(dirty1)s", window)
        cursor.execute(
            "DROP TABLE IF EXISTS kpis_tmp_dirty, kpis_tmp_moved, kpis_tmp_merged, kpis_tmp_hook, "
            "kpis_tmp_old, kpis_tmp_new, kpis_tmp_delta, kpis_tmp_changed, kpis_tmp_rowdelta, kpis_tmp_newcount, "
            "kpis_tmp_recheck, kpis_tmp_append"
        )
    _store_watermarks(state, marks, now, overlap=True)
    details["recounted_days"] = len(recount_days)
    return RefreshStats(
        mode="sweep" if sweep else "incremental", dirty_leads=dirty_count, dirty_days=len(touched), details=details
    )


def _upsert_daily_delta(cursor, params: dict, table: str) -> list[dt.date] | None:
    """Add the rows of `table` (day, event, channel, campaign, owner_id, dc, dv) to the daily rollup
    and to kpis_tmp_delta (for the periods). Returns the days touched, None if a count went negative."""
    cursor.execute(
        f"""
        INSERT INTO kpis_dailyrollup AS d (tenant_id, day, event, channel, campaign, owner_id, count, value)
        SELECT %(t)s, day, event, channel, campaign, owner_id, dc, dv FROM {table}
        ORDER BY 2, 3, 4, 5, 6
        ON CONFLICT ON CONSTRAINT dailyrollup_unique_key DO UPDATE
           SET count = d.count + EXCLUDED.count, value = d.value + EXCLUDED.value
        RETURNING day
        """,  # nosec B608
        params,
    )
    days = sorted({row[0] for row in cursor.fetchall()})
    cursor.execute(f"INSERT INTO kpis_tmp_delta SELECT day, event, channel, campaign, owner_id, dc, dv FROM {table}")  # nosec B608
    if days:
        day_params = {**params, "days": days}
        cursor.execute(
            "DELETE FROM kpis_dailyrollup WHERE tenant_id = %(t)s AND day = ANY(%(days)s::date[]) "
            "AND count = 0 AND value = 0",
            day_params,
        )
        cursor.execute(
            "SELECT count(*) FROM kpis_dailyrollup WHERE tenant_id = %(t)s AND day = ANY(%(days)s::date[]) "
            "AND count < 0",
            day_params,
        )
        if cursor.fetchone()[0]:
            return None
    return days


def _append_new_rows(cursor, params: dict) -> int:
    """Count the activity and feedback rows newer than the last refresh into the daily rollup, under
    their lead's current dimensions. Reads only those rows (primary key range)."""
    cursor.execute("DROP TABLE IF EXISTS kpis_tmp_append")
    cursor.execute(
        f"""
        CREATE TEMP TABLE kpis_tmp_append ON COMMIT DROP AS
        SELECT (a.occurred_at AT TIME ZONE %(tz)s)::date AS day, ('act:' || a.type)::varchar AS event, f.channel,
               COALESCE(NULLIF(a.campaign, ''), f.campaign)::varchar AS campaign, f.owner_id,
               count(*)::bigint AS dc, 0::numeric AS dv
        FROM leads_activity a JOIN kpis_leadfact f ON f.tenant_id = %(t)s AND f.lead_id = a.lead_id
        WHERE a.tenant_id = %(t)s AND a.id > %(act1)s AND a.type IN {ACTIVITY_TYPES_SQL}
        GROUP BY 1, 2, 3, 4, 5
        UNION ALL
        SELECT (b.occurred_at AT TIME ZONE %(tz)s)::date, e.event, f.channel, f.campaign, f.owner_id, count(*),
               sum(e.value)
        FROM leads_leadfeedback b JOIN kpis_leadfact f ON f.tenant_id = %(t)s AND f.lead_id = b.lead_id
        {FEEDBACK_VALUES_SQL}
        WHERE b.tenant_id = %(t)s AND b.id > %(fb1)s AND e.hit
        GROUP BY 1, 2, 3, 4, 5
        """,  # nosec B608
        params,
    )
    appended = cursor.rowcount
    if appended:
        _upsert_daily_delta(cursor, params, "kpis_tmp_append")
    return appended


def _move_changed_leads(cursor, params: dict) -> int | None:
    """For leads whose dimensions changed, add to the daily rows the difference of their activity
    and feedback rows (those counted before: ids up to the last refresh's) under the new instead of
    the old dimensions. Cheap: it reads only those leads' rows (index on lead).
    Returns the number of daily rows changed, or None if a count went negative (drift)."""
    cursor.execute("DROP TABLE IF EXISTS kpis_tmp_changed, kpis_tmp_rowdelta")
    cursor.execute(
        """
        CREATE TEMP TABLE kpis_tmp_changed ON COMMIT DROP AS
        SELECT n.lead_id, o.channel AS oc, o.campaign AS oca, o.owner_id AS oo,
               n.channel AS nc, n.campaign AS nca, n.owner_id AS no
        FROM kpis_tmp_new n LEFT JOIN kpis_tmp_old o USING (lead_id)
        WHERE o.lead_id IS NOT NULL
          AND (o.channel, o.campaign, o.owner_id) IS DISTINCT FROM (n.channel, n.campaign, n.owner_id)
          AND n.lead_id NOT IN (SELECT lead_id FROM kpis_tmp_recheck)
        """
    )
    if not cursor.rowcount:
        return 0
    cursor.execute("ANALYZE kpis_tmp_changed")
    cursor.execute(
        f"""
        CREATE TEMP TABLE kpis_tmp_rowdelta ON COMMIT DROP AS
        WITH r AS (
            SELECT a.lead_id, (a.occurred_at AT TIME ZONE %(tz)s)::date AS day, 'act:' || a.type AS event,
                   a.campaign AS own_campaign, count(*) AS n, 0::numeric AS v
            FROM kpis_tmp_changed c JOIN leads_activity a ON a.tenant_id = %(t)s AND a.lead_id = c.lead_id
            WHERE a.type IN {ACTIVITY_TYPES_SQL} AND a.id <= %(act1)s
            GROUP BY 1, 2, 3, 4
            UNION ALL
            SELECT b.lead_id, (b.occurred_at AT TIME ZONE %(tz)s)::date, e.event, '', count(*), sum(e.value)
            FROM kpis_tmp_changed c JOIN leads_leadfeedback b ON b.tenant_id = %(t)s AND b.lead_id = c.lead_id
            {FEEDBACK_VALUES_SQL}
            WHERE e.hit AND b.id <= %(fb1)s
            GROUP BY 1, 2, 3, 4
        )
        SELECT r.day, r.event::varchar AS event, x.channel, x.campaign, x.owner_id, sum(x.sign * r.n)::bigint AS dc,
               sum(x.sign * r.v) AS dv
        FROM r JOIN kpis_tmp_changed c USING (lead_id)
        CROSS JOIN LATERAL (VALUES
            (-1, c.oc, COALESCE(NULLIF(r.own_campaign, ''), c.oca), c.oo),
            (1, c.nc, COALESCE(NULLIF(r.own_campaign, ''), c.nca), c.no)
        ) AS x(sign, channel, campaign, owner_id)
        WHERE x.channel IS NOT NULL
        GROUP BY 1, 2, 3, 4, 5
        HAVING sum(x.sign * r.n) <> 0 OR sum(x.sign * r.v) <> 0
        """,  # nosec B608
        params,
    )
    days = _upsert_daily_delta(cursor, params, "kpis_tmp_rowdelta")
    return None if days is None else len(days)


def _sweep_into_dirty(cursor, params: dict) -> int:
    """Every lead whose dimensions or stage/feedback milestones differ from its facts, and facts
    whose lead is gone: catches changes made without `updated_at` or a hook, and deletions."""
    cursor.execute(
        """
        WITH l AS (
            SELECT l.id AS lead_id, l.channel, l.campaign, COALESCE(l.owner_id, 0) AS owner_id,
                   (COALESCE(l.first_seen_at, l.created_at) AT TIME ZONE %(tz)s)::date AS acquired_on
            FROM leads_lead l WHERE l.tenant_id = %(t)s AND l.merged_into_id IS NULL
        ), fb AS (
            SELECT lead_id, count(*) AS n FROM leads_leadfeedback WHERE tenant_id = %(t)s GROUP BY lead_id
        ), sc AS (
            SELECT lead_id, count(*) AS n FROM leads_leadstagechange WHERE tenant_id = %(t)s GROUP BY lead_id
        ), cur AS (
            SELECT l.*, COALESCE(fb.n, 0) AS feedback_count, sc.n AS stage_changes
            FROM l LEFT JOIN fb USING (lead_id) LEFT JOIN sc USING (lead_id)
        )
        INSERT INTO kpis_tmp_dirty
        SELECT COALESCE(c.lead_id, f.lead_id)
        FROM cur c FULL JOIN (SELECT * FROM kpis_leadfact WHERE tenant_id = %(t)s) f ON f.lead_id = c.lead_id
        WHERE c.lead_id IS NULL OR f.lead_id IS NULL
           OR (c.channel, c.campaign, c.owner_id, c.acquired_on, c.feedback_count)
              IS DISTINCT FROM (f.channel, f.campaign, f.owner_id, f.acquired_on, f.feedback_count)
           OR (c.stage_changes IS NULL AND f.mql_on IS NOT NULL AND f.feedback_count = 0)
        ON CONFLICT DO NOTHING
    """,
        params,
    )
    return cursor.rowcount


# ================================================================================== ORM oracle (tests)


def _day(moment: dt.datetime | None, zone: ZoneInfo) -> dt.date | None:
    return moment.astimezone(zone).date() if moment is not None else None


def _days_between(start: dt.datetime, end: dt.datetime) -> Decimal:
    delta = end - start
    seconds = Decimal(delta.days * 86400 + delta.seconds) + Decimal(delta.microseconds) / Decimal(1_000_000)
    return (max(seconds, Decimal(0)) / Decimal(86400)).quantize(Decimal("0.01"), ROUND_HALF_UP)


def compute_facts(tz: str) -> dict[int, dict]:
    """Facts of every lead of the active tenant, computed with the ORM (independent of the SQL)."""
    zone = ZoneInfo(tz)
    leads = {}
    for lead_id, channel, campaign, owner_id, first_seen, created, merged in Lead.objects.values_list(
        "id", "channel", "campaign", "owner_id", "first_seen_at", "created_at", "merged_into_id"
    ):
        if merged is not None:
            continue
        leads[lead_id] = {
            "channel": channel,
            "campaign": campaign,
            "owner_id": owner_id or 0,
            "acquired_at": first_seen or created,
            "mql": None,
            "sql": None,
            "opp": None,
            "won": None,
            "meeting": None,
            "activity_count": 0,
            "feedback_count": 0,
            "first": None,
            "last": None,
        }

    def earliest(fact, key, moment):
        if fact[key] is None or moment < fact[key]:
            fact[key] = moment

    def span(fact, moment):
        earliest(fact, "first", moment)
        if fact["last"] is None or moment > fact["last"]:
            fact["last"] = moment

    for lead_id, stage, changed in LeadStageChange.objects.values_list("lead_id", "to_stage", "changed_at"):
        fact = leads.get(lead_id)
        if fact is None:
            continue
        if stage in MQL_OR_BEYOND:
            earliest(fact, "mql", changed)
        if stage in SQL_OR_BEYOND:
            earliest(fact, "sql", changed)
        if stage in OPP_OR_BEYOND:
            earliest(fact, "opp", changed)
        if stage == "customer":
            earliest(fact, "won", changed)
    for lead_id, outcome, occurred in LeadFeedback.objects.values_list("lead_id", "outcome", "occurred_at"):
        fact = leads.get(lead_id)
        if fact is None:
            continue
        fact["feedback_count"] += 1
        span(fact, occurred)
        if outcome in FB_SQL:
            earliest(fact, "mql", occurred)
            earliest(fact, "sql", occurred)
        if outcome in FB_OPP:
            earliest(fact, "opp", occurred)
        if outcome == "won":
            earliest(fact, "won", occurred)
    for lead_id, kind, occurred in (
        Activity.objects.filter(lead__isnull=False)
        .values_list("lead_id", "type", "occurred_at")
        .iterator(chunk_size=20_000)
    ):
        fact = leads.get(lead_id)
        if fact is None:
            continue
        fact["activity_count"] += 1
        span(fact, occurred)
        if kind == "meeting":
            earliest(fact, "meeting", occurred)
    facts = {}
    for lead_id, f in leads.items():
        facts[lead_id] = {
            "lead_id": lead_id,
            "channel": f["channel"],
            "campaign": f["campaign"],
            "owner_id": f["owner_id"],
            "acquired_on": _day(f["acquired_at"], zone),
            "mql_on": _day(f["mql"], zone),
            "sql_on": _day(f["sql"], zone),
            "opportunity_on": _day(f["opp"], zone),
            "won_on": _day(f["won"], zone),
            "meeting_on": _day(f["meeting"], zone),
            "nurture_days": _days_between(f["acquired_at"], f["won"]) if f["won"] is not None else None,
            "activity_count": f["activity_count"],
            "feedback_count": f["feedback_count"],
            "first_row_on": _day(f["first"], zone),
            "last_row_on": _day(f["last"], zone),
        }
    return facts


Key = tuple[dt.date, str, str, str, int]


def recount(tz: str | None = None, *, facts: dict[int, dict] | None = None) -> dict[Key, tuple[int, Decimal]]:
    """Daily rollup rows of the active tenant recounted from raw data with the ORM:
    {(day, event, channel, campaign, owner_id): (count, value)}."""
    tz = tz or _tenant_tz(require_tenant_id())
    zone = ZoneInfo(tz)
    facts = compute_facts(tz) if facts is None else facts
    rows: dict[Key, list] = defaultdict(lambda: [0, Decimal(0)])
    milestone_fields = (
        ("lead", "acquired_on"),
        ("mql", "mql_on"),
        ("sql", "sql_on"),
        ("opportunity", "opportunity_on"),
        ("customer", "won_on"),
        ("meeting_lead", "meeting_on"),
    )
    for f in facts.values():
        for event, column in milestone_fields:
            if f[column] is not None:
                row = rows[(f[column], event, f["channel"], f["campaign"], f["owner_id"])]
                row[0] += 1
                if event == "customer":
                    row[1] += f["nurture_days"] or 0
    for lead_id, outcome, amount, occurred in LeadFeedback.objects.values_list(
        "lead_id", "outcome", "amount", "occurred_at"
    ):
        f = facts.get(lead_id)
        if f is None:
            continue
        day = _day(occurred, zone)
        dims = (f["channel"], f["campaign"], f["owner_id"])
        if outcome == "won":
            row = rows[(day, "won", *dims)]
            row[0] += 1
            row[1] += amount or 0
            if amount is not None:
                rows[(day, "won_priced", *dims)][0] += 1
        elif outcome in ("lost", "rejected", "accepted"):
            rows[(day, outcome, *dims)][0] += 1
    for lead_id, kind, campaign, occurred in (
        Activity.objects.filter(lead__isnull=False, type__in=ACTIVITY_TYPES)
        .values_list("lead_id", "type", "campaign", "occurred_at")
        .iterator(chunk_size=20_000)
    ):
        f = facts.get(lead_id)
        if f is None:
            continue
        rows[(_day(occurred, zone), f"act:{kind}", f["channel"], campaign or f["campaign"], f["owner_id"])][0] += 1
    return {key: (count, Decimal(value)) for key, (count, value) in rows.items() if count or value}


def period_rows_from(rows: dict[Key, tuple[int, Decimal]]) -> dict[tuple, tuple[int, Decimal]]:
    """Week and month rows at every level from daily rows:
    {(period_type, start, level, event, channel, campaign, owner_id): (count, value)}."""
    out: dict[tuple, list] = defaultdict(lambda: [0, Decimal(0)])
    for (day, event, channel, campaign, owner), (count, value) in rows.items():
        for kind, start in (("week", day - dt.timedelta(days=day.weekday())), ("month", day.replace(day=1))):
            for level, dims in (
                (0, ("", "", 0)),
                (1, (channel, "", 0)),
                (2, ("", campaign, 0)),
                (3, ("", "", owner)),
                (4, (channel, campaign, owner)),
                (5, (channel, "", owner)),
            ):
                acc = out[(kind, start, level, event, *dims)]
                acc[0] += count
                acc[1] += value
    return {key: (c, Decimal(v)) for key, (c, v) in out.items() if c or v}


def snapshot() -> dict[Key, tuple[int, Decimal]]:
    """The active tenant's daily rollup rows, in the same shape as `recount()`."""
    return {
        (day, event, channel, campaign, owner): (count, Decimal(value))
        for day, event, channel, campaign, owner, count, value in DailyRollup.objects.values_list(
            "day", "event", "channel", "campaign", "owner_id", "count", "value"
        )
    }


def period_snapshot() -> dict[tuple, tuple[int, Decimal]]:
    return {
        (kind, start, level, event, channel, campaign, owner): (count, Decimal(value))
        for kind, start, level, event, channel, campaign, owner, count, value in PeriodRollup.objects.values_list(
            "period_type", "period_start", "level", "event", "channel", "campaign", "owner_id", "count", "value"
        )
    }
