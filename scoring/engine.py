"""The scoring engine: set-based SQL on PostgreSQL (the Python reference explains single leads).

One generated query scores any set of leads (a lead-id range for a full recompute, a list
of ids for an incremental rescore, a sample for the impact preview): a single pass over the
tenant's activities aggregates every behaviour rule with `FILTER` clauses, frequency rules use
`lag(occurred_at, N-1)` over the lead's matching activities (no self-join, no `RANGE` frame),
decay is computed in float8, fit rules are `CASE` expressions on normalised lead columns.

Writing results (`_APPLY_SQL`) is one statement that updates the leads, records segment
transitions and creates hot-lead alerts (unique per transition, `ON CONFLICT DO NOTHING`).

Full recompute: chunks are staged in `scoring_score_stage` under the run id (each chunk
commits with the run's progress, so a re-delivered task resumes), then swapped into the leads
in one transaction under an exclusive per-tenant advisory lock, so readers see the old scores
or the new ones, never half a tenant. Incremental rescores take the shared lock and lock their
lead rows before computing, so a concurrent rescore can never write an older snapshot.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from leads.models import Activity, Lead
from tenants.context import activate_in_transaction, require_tenant_id

from . import evaluate
from .evaluate import BehaviourSpec, FitSpec, ModelSpec, Score, SegmentSpec, keyword_pattern, normalize_text
from .models import (
    ModelStatus,
    RunKind,
    RunStatus,
    ScoreRun,
    ScoringModel,
    ScoringSettings,
)

logger = logging.getLogger("ondo.scoring")

# Lead-id span of one staged chunk. Large enough that a small tenant is one chunk (the query
# count of a recompute does not grow with the tenant), small enough to show progress.
CHUNK_IDS = 250_000
# Tenants this large stage their chunks in parallel database sessions (the machine has 2 cores).
PARALLEL_MIN_LEADS = 200_000
STAGE_SESSIONS = 2
# Advisory lock namespace for "scores of tenant N are being written".
LOCK_NAMESPACE = 0x5C0E
TEXT_FIELDS = {
    "title",
    "department",
    "size_band",
    "industry",
    "company",
    "channel",
    "campaign",
    "authority",
    "need",
    "budget",
    "timing",
}
NUMBER_FIELDS = {"employee_count"}
LEAD_FIELDS_FOR_FIT = sorted(TEXT_FIELDS | NUMBER_FIELDS | {"email", "custom_fields"})


# --------------------------------------------------------------------------------------------
# Specs from the database
# --------------------------------------------------------------------------------------------


# Published versions never change, so their specs are kept per process (drafts are read each time).
_PUBLISHED_SPECS: dict[tuple[int, int, int], ModelSpec] = {}


def spec_for(model: ScoringModel) -> ModelSpec:
    """An immutable snapshot of a saved scoring model."""
    if model.status == ModelStatus.DRAFT:
        return _load_spec(model)
    key = (model.tenant_id, model.pk, model.version)
    spec = _PUBLISHED_SPECS.get(key)
    if spec is None:
        if len(_PUBLISHED_SPECS) > 1000:
            _PUBLISHED_SPECS.clear()
        spec = _PUBLISHED_SPECS[key] = _load_spec(model)
    return spec


def _load_spec(model: ScoringModel) -> ModelSpec:
    return ModelSpec(
        version=model.version,
        behaviour=tuple(
            BehaviourSpec(
                id=r.id,
                label=r.label,
                activity_type=r.activity_type,
                points=r.points,
                url_match=r.url_match,
                url_value=r.url_value,
                content_id=r.content_id,
                campaign=r.campaign,
                count_mode=r.count_mode,
                max_count=r.max_count,
                min_count=r.min_count,
                window_days=r.window_days,
                recency_days=r.recency_days,
                half_life_days=r.half_life_days,
            )
            for r in model.behaviour_rules.all()
        ),
        fit=tuple(
            FitSpec(
                id=r.id,
                label=r.label,
                field=r.field,
                operator=r.operator,
                points=r.points,
                values=tuple(str(v) for v in (r.values or [])),
                number_min=r.number_min,
                number_max=r.number_max,
                group=r.group,
            )
            for r in model.fit_rules.all()
        ),
        segments=tuple(
            SegmentSpec(key=s.key, label=s.label, min_total=s.min_total, colour=s.colour) for s in model.segments.all()
        ),
        behaviour_cap=model.behaviour_cap,
        fit_cap=model.fit_cap,
    )


def active_model() -> ScoringModel | None:
    return ScoringModel.objects.filter(status=ModelStatus.ACTIVE).first()


DEFAULT_FOLLOW_UP_HOURS = 48
# The seed sheet's top segment: used only when a model defines no segments at all.
DEFAULT_TOP_SEGMENT = "hot"


def follow_up_hours() -> int:
    settings_row = ScoringSettings.objects.first()
    return settings_row.follow_up_hours if settings_row else DEFAULT_FOLLOW_UP_HOURS


# --------------------------------------------------------------------------------------------
# SQL generation
# --------------------------------------------------------------------------------------------


class _Params:
    def __init__(self) -> None:
        self.values: dict[str, object] = {}

    def add(self, value: object) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f"%({name})s"


@dataclass
class ScoreQuery:
    sql: str
    params: dict[str, object]


def _age_days_sql(column: str, asof: str) -> str:
    # float8 throughout: numeric decay math is several times slower at this volume.
    return f"(GREATEST(EXTRACT(EPOCH FROM ({asof}::timestamptz - {column}))::float8, 0.0) / 86400.0)"


def _activity_condition(rule: BehaviourSpec, p: _Params, asof: str) -> str:
    parts = [f"a.type = {p.add(rule.activity_type)}"]
    if rule.url_match == "contains":
        parts.append(f"strpos(a.url, {p.add(rule.url_value)}) > 0")
    elif rule.url_match == "equals":
        parts.append(f"a.url = {p.add(rule.url_value)}")
    if rule.content_id:
        parts.append(f"(a.properties ->> 'content_id') = {p.add(rule.content_id)}")
    if rule.campaign:
        parts.append(f"a.campaign = {p.add(rule.campaign)}")
    if rule.recency_days:
        parts.append(f"a.occurred_at >= {asof}::timestamptz - make_interval(days => {int(rule.recency_days)})")
    return " AND ".join(parts)


def _field_sql(field_name: str, p: _Params) -> tuple[str, str]:
    """(raw SQL expression, kind) of a lead field; kind is 'number' or 'text'."""
    if field_name in NUMBER_FIELDS:
        return f"l.{field_name}", "number"
    if field_name in TEXT_FIELDS:
        return f"l.{field_name}", "text"
    if field_name == "email_domain":
        return "split_part(l.email, '@', 2)", "text"
    if field_name.startswith("custom:"):
        return f"(l.custom_fields ->> {p.add(field_name[len('custom:') :])})", "text"
    raise ValueError(f"unknown fit field {field_name!r}")


def _norm_sql(expression: str) -> str:
    return f"btrim(lower(normalize(coalesce({expression}::text, ''), NFKC)), E' \\t\\n\\r')"


def _fit_condition(rule: FitSpec, p: _Params, value: str | None = None) -> str:
    """SQL condition of a fit rule, on the lead column or on `value` (a distinct value of it)."""
    raw, kind = _field_sql(rule.field, p)
    if value is not None:
        raw = value
    norm = _norm_sql(raw)
    if rule.operator == "is_set":
        return f"({norm} <> '')" if kind == "text" else f"({raw} IS NOT NULL)"
    if rule.operator == "is_empty":
        return f"({norm} = '')" if kind == "text" else f"({raw} IS NULL)"
    if rule.operator == "range":
        if kind == "number":
            number = f"{raw}::float8"
        else:
            number = f"(CASE WHEN {norm} ~ '^-?[0-9]+(\\.[0-9]+)?$' THEN ({norm})::float8 END)"
        parts = [f"{number} IS NOT NULL"]
        if rule.number_min is not None:
            parts.append(f"{number} >= {p.add(float(rule.number_min))}")
        if rule.number_max is not None:
            parts.append(f"{number} <= {p.add(float(rule.number_max))}")
        return "(" + " AND ".join(parts) + ")"
    values = list(rule.normalized_values)
    if not values:
        return "FALSE"
    if rule.operator == "equals":
        return f"({norm} <> '' AND {norm} = {p.add(values[0])})"
    if rule.operator == "in":
        return f"({norm} <> '' AND {norm} = ANY({p.add(values)}))"
    if rule.operator == "contains_any":
        # One regex per rule (alternatives), evaluated once per distinct value of the field.
        return f"({norm} ~ {p.add('|'.join(f'({keyword_pattern(v)})' for v in values))})"
    raise ValueError(f"unknown operator {rule.operator!r}")


def build_score_query(
    spec: ModelSpec, *, tenant_id: int, as_of: datetime, scope: str, scope_params: dict
) -> ScoreQuery:
    """SQL returning (lead_id, score_behaviour, score_fit, score_total, segment) for the leads
    selected by `scope` (a condition on `{lead}` — the lead id column — e.g. a range or ANY)."""
    p = _Params()
    tenant = p.add(tenant_id)
    asof = p.add(as_of)
    for key, value in scope_params.items():
        p.values[key] = value
    lead_scope = scope.format(lead="l.id")
    activity_scope = scope.format(lead="a.lead_id")

    ctes: list[str] = []
    joins: list[str] = []
    agg_columns: list[str] = []
    window_columns: list[str] = []
    rule_values: list[str] = []
    simple_types: set[str] = set()

    for index, rule in enumerate(spec.behaviour):
        cond = _activity_condition(rule, p, asof)
        points = int(rule.points)
        hl = int(rule.half_life_days or 0)
        base = f"a.tenant_id = {tenant} AND a.lead_id IS NOT NULL AND {activity_scope}"
        if rule.is_frequency:
            # N matching activities within D days: a moving count over the lead's activities in
            # time order (the same single pass as the other rules, in the covering index's order).
            simple_types.add(rule.activity_type)
            window_columns.append(
                # sum(CASE) rather than count(*) FILTER: it has a moving-aggregate form, so each row costs
                # O(1) instead of re-counting its 7-day frame (the "N times within any window" trap).
                f"sum(CASE WHEN {cond} THEN 1 ELSE 0 END) OVER (PARTITION BY a.lead_id ORDER BY a.occurred_at "
                f"RANGE BETWEEN '{int(rule.window_days)} days'::interval PRECEDING AND CURRENT ROW) AS w{index}"
            )
            agg_columns.append(
                f"max(a.occurred_at) FILTER (WHERE {cond} AND a.w{index} >= {int(rule.min_count)}) AS f{index}"
            )
            if hl:
                value = (
                    f"(CASE WHEN agg.f{index} IS NULL THEN 0 ELSE floor({points} * power(0.5, "
                    f"{_age_days_sql(f'agg.f{index}', asof)} / {hl}) + 0.5)::int END)"
                )
            else:
                value = f"(CASE WHEN agg.f{index} IS NULL THEN 0 ELSE {points} END)"
            rule_values.append(value)
            continue
        cap = rule.count_cap
        if hl and cap is not None and cap > 1:
            # At most N with decay: the N most recent matching activities.
            name = f"rk{index}"
            ctes.append(
                f"{name} AS (SELECT x.lead_id, "  # nosec B608
                f"sum({points} * power(0.5, {_age_days_sql('x.occurred_at', asof)} / {hl}))"
                f" AS s FROM (SELECT a.lead_id, a.occurred_at, row_number() OVER (PARTITION BY a.lead_id "
                f"ORDER BY a.occurred_at DESC) AS rn FROM leads_activity a WHERE {base} AND {cond}) x "
                f"WHERE x.rn <= {int(cap)} GROUP BY x.lead_id)"
            )
            joins.append(f"LEFT JOIN {name} ON {name}.lead_id = l.id")
            rule_values.append(f"COALESCE(floor({name}.s + 0.5)::int, 0)")
            continue
        simple_types.add(rule.activity_type)
        if hl and cap == 1:
            agg_columns.append(f"max(a.occurred_at) FILTER (WHERE {cond}) AS m{index}")
            rule_values.append(
                f"(CASE WHEN agg.m{index} IS NULL THEN 0 ELSE floor({points} * power(0.5, "
                f"{_age_days_sql(f'agg.m{index}', asof)} / {hl}) + 0.5)::int END)"
            )
        elif hl:
            agg_columns.append(
                f"sum({points} * power(0.5, {_age_days_sql('a.occurred_at', asof)} / {hl})) "
                f"FILTER (WHERE {cond}) AS s{index}"
            )
            rule_values.append(f"COALESCE(floor(agg.s{index} + 0.5)::int, 0)")
        else:
            agg_columns.append(f"count(*) FILTER (WHERE {cond}) AS n{index}")
            counted = f"COALESCE(agg.n{index}, 0)" if cap is None else f"LEAST(COALESCE(agg.n{index}, 0), {int(cap)})"
            rule_values.append(f"({points} * {counted})")

    if agg_columns:
        base = f"a.tenant_id = {tenant} AND a.lead_id IS NOT NULL AND {activity_scope}"
        types = p.add(sorted(simple_types))
        if window_columns:
            needed = ["a.lead_id", "a.type", "a.occurred_at"]
            if any(r.url_match for r in spec.behaviour):
                needed.append("a.url")
            if any(r.campaign for r in spec.behaviour):
                needed.append("a.campaign")
            if any(r.content_id for r in spec.behaviour):
                needed.append("a.properties")
            source = (
                f"(SELECT {', '.join(needed)}, {', '.join(window_columns)} FROM leads_activity a "  # nosec B608
                f"WHERE {base} AND a.type = ANY({types})) a"
            )
            where = "TRUE"
        else:
            source = "leads_activity a"
            where = f"{base} AND a.type = ANY({types})"
        ctes.insert(
            0,
            f"agg AS (SELECT a.lead_id, {', '.join(agg_columns)} FROM {source} WHERE {where} GROUP BY a.lead_id)",  # nosec B608
        )
        joins.insert(0, "LEFT JOIN agg ON agg.lead_id = l.id")

    behaviour = " + ".join(rule_values) if rule_values else "0"
    # Fit rules on text fields are evaluated once per distinct value of the field (a tenant has
    # far fewer distinct titles or industries than leads), then joined back by value.
    ungrouped: list[str] = []
    groups: dict[str, list[str]] = {}
    by_field: dict[str, list[tuple[int, FitSpec]]] = {}
    for index, rule in enumerate(spec.fit):
        _raw, kind = _field_sql(rule.field, _Params())
        if kind == "text":
            by_field.setdefault(rule.field, []).append((index, rule))
    field_alias: dict[str, str] = {}
    for number, (field_name, rules) in enumerate(by_field.items()):
        alias = f"fv{number}"
        field_alias[field_name] = alias
        raw, _kind = _field_sql(field_name, p)
        columns = ", ".join(f"{_fit_condition(rule, p, value='d.v')} AS m{index}" for index, rule in rules)
        ctes.append(
            f"{alias} AS (SELECT d.v, {columns} FROM (SELECT DISTINCT coalesce({raw}::text, '') AS v "  # nosec B608
            f"FROM leads_lead l WHERE l.tenant_id = {tenant} AND {lead_scope}) d)"
        )
        joins.append(f"JOIN {alias} ON {alias}.v = coalesce({raw}::text, '')")
    for index, rule in enumerate(spec.fit):
        if rule.field in field_alias:
            condition = f"{field_alias[rule.field]}.m{index}"
        else:
            condition = _fit_condition(rule, p)
        case = f"CASE WHEN {condition} THEN {int(rule.points)} END"
        if rule.group:
            groups.setdefault(rule.group, []).append(case)
        else:
            ungrouped.append(f"COALESCE({case}, 0)")
    fit_terms = ungrouped + [f"COALESCE(GREATEST({', '.join(cases)}), 0)" for cases in groups.values()]
    fit = " + ".join(fit_terms) if fit_terms else "0"
    if spec.behaviour_cap is not None:
        behaviour = f"LEAST({behaviour}, {int(spec.behaviour_cap)})"
    if spec.fit_cap is not None:
        fit = f"LEAST({fit}, {int(spec.fit_cap)})"

    segment_cases = []
    ordered = spec.ordered_segments
    for segment in ordered:
        if segment.min_total is None or segment is ordered[-1]:
            segment_cases.append(f"ELSE {p.add(segment.key)}")
            break
        segment_cases.append(f"WHEN s.b + s.f >= {int(segment.min_total)} THEN {p.add(segment.key)}")
    segment_sql = f"(CASE {' '.join(segment_cases)} END)" if segment_cases else "''"

    with_sql = ("WITH " + ", ".join(ctes) + " ") if ctes else ""
    sql = (
        f"{with_sql}SELECT s.lead_id, s.b AS score_behaviour, s.f AS score_fit, s.b + s.f AS score_total, "  # nosec B608
        f"{segment_sql}::varchar(20) AS segment FROM ("
        f"SELECT l.id AS lead_id, ({behaviour})::int AS b, ({fit})::int AS f "
        # OFFSET 0 keeps the subquery from being flattened (which would evaluate b and f once
        # per reference in the outer expressions).
        f"FROM leads_lead l {' '.join(joins)} WHERE l.tenant_id = {tenant} AND {lead_scope} OFFSET 0) s"
    )
    return ScoreQuery(sql=sql, params=p.values)


# Writes scores for the leads of `src` (lead_id, score_*, segment), records transitions and
# creates hot-lead alerts, in one statement. `{src}` is a subquery; `{fresh}` an extra
# condition on the lead row. Returns (leads updated, transitions, new alert ids).
_APPLY_SQL = """
WITH src AS ({src}),
changed AS (
    SELECT src.*, l.segment AS old_segment
    FROM src JOIN leads_lead l ON l.id = src.lead_id AND l.tenant_id = %(tenant)s
    WHERE {fresh} AND ({touch_all} OR (l.score_behaviour, l.score_fit, l.score_total, l.segment, l.score_model_version)
          IS DISTINCT FROM (src.score_behaviour, src.score_fit, src.score_total, src.segment, %(version)s))
),
upd AS (
    UPDATE leads_lead l SET score_behaviour = c.score_behaviour, score_fit = c.score_fit,
        score_total = c.score_total, segment = c.segment, score_model_version = %(version)s, scored_at = %(as_of)s
    FROM changed c WHERE l.id = c.lead_id AND l.tenant_id = %(tenant)s
    RETURNING l.id
),
tr AS (
    INSERT INTO scoring_segmenttransition (tenant_id, lead_id, from_segment, to_segment, score_total, model_version,
                                           occurred_at)
    SELECT %(tenant)s, c.lead_id, c.old_segment, c.segment, c.score_total, %(version)s, %(now)s
    FROM changed c WHERE c.old_segment IS DISTINCT FROM c.segment
    RETURNING id, lead_id, to_segment
),
al AS (
    INSERT INTO scoring_hotleadalert (tenant_id, transition_id, lead_id, created_at, due_at, notified_at,
                                      webhook_status, webhook_attempts, webhook_last_error)
    SELECT %(tenant)s, tr.id, tr.lead_id, %(now)s,
           %(now)s + make_interval(hours => coalesce(
               (SELECT st.follow_up_hours FROM scoring_scoringsettings st WHERE st.tenant_id = %(tenant)s),
               %(default_hours)s
           )),
           CASE WHEN %(bulk)s THEN %(now)s END, '', 0, ''
    FROM tr WHERE tr.to_segment = %(hot)s
    ON CONFLICT (tenant_id, transition_id) DO NOTHING
    RETURNING id
)
SELECT (SELECT count(*) FROM upd), (SELECT count(*) FROM tr),
       (SELECT CASE WHEN %(bulk)s THEN ARRAY[count(*)]::bigint[] ELSE coalesce(array_agg(id), '{{}}') END FROM al)
"""


def hot_key(spec: ModelSpec) -> str:
    """The top segment (the one that triggers hot-lead alerts)."""
    ordered = spec.ordered_segments
    return ordered[0].key if ordered else DEFAULT_TOP_SEGMENT


def _apply(
    cursor,
    *,
    src_sql: str,
    params: dict,
    spec: ModelSpec,
    tenant_id: int,
    as_of: datetime,
    fresh: str = "TRUE",
    touch_all: bool = False,
    bulk: bool = False,
    prepare: bool | None = None,
) -> tuple[int, int, list[int]]:
    """Returns (updated, transitions, new alert ids) — with `bulk`, alerts are marked announced
    (a summary notification follows) and the last item is `[number of new alerts]`."""
    now = timezone.now()
    all_params = {
        **params,
        "tenant": tenant_id,
        "version": spec.version,
        "as_of": as_of,
        "now": now,
        # The follow-up deadline is read inside the statement (one round trip less per rescore).
        "default_hours": DEFAULT_FOLLOW_UP_HOURS,
        "hot": hot_key(spec),
        "bulk": bulk,
    }
    sql = _APPLY_SQL.format(src=src_sql, fresh=fresh, touch_all="TRUE" if touch_all else "FALSE")
    if prepare:
        cursor.execute(sql, all_params, prepare=True)  # a psycopg cursor with server-side binding
    else:
        cursor.execute(sql, all_params)
    updated, transitions, alert_ids = cursor.fetchone()
    return int(updated), int(transitions), list(alert_ids or [])


def _lock(cursor, tenant_id: int, *, shared: bool) -> None:
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    cursor.execute(f"SELECT {function}(%s, %s)", [LOCK_NAMESPACE, tenant_id])


# --------------------------------------------------------------------------------------------
# Incremental rescore (a few leads, right after their activities or attributes changed)
# --------------------------------------------------------------------------------------------


@dataclass
class RescoreResult:
    updated: int
    transitions: int
    alert_ids: list[int]


# Run after the tenant's shared lock is held (its own snapshot): locks the leads' rows, so the score is computed from
# a snapshot taken after any concurrent rescore of them committed, and reads the active model in the same round trip,
# so a model published and swapped in while this waited for the lock is the one used.
_LOCK_LEADS_SQL = """
SELECT m.id, m.version, (
    SELECT count(*) FROM (
        SELECT id FROM leads_lead WHERE tenant_id = %(tenant)s AND id = ANY(%(ids)s::bigint[]) ORDER BY id FOR UPDATE
    ) AS locked
)
FROM scoring_scoringmodel m WHERE m.tenant_id = %(tenant)s AND m.status = %(active)s
"""


def rescore_leads(lead_ids: list[int], *, as_of: datetime | None = None) -> RescoreResult:
    """Rescore these leads of the active tenant now (call inside a transaction)."""
    from leads.ingest import pg_cursor

    tenant_id = require_tenant_id()
    ids = sorted({int(i) for i in lead_ids})
    if not ids:
        return RescoreResult(0, 0, [])
    as_of = as_of or timezone.now()
    # Server-side binding: the score statement's text is the same for every lead, so it is prepared once per
    # connection (settings: DB_PREPARED_STATEMENTS) and PostgreSQL skips planning it, about half of its cost.
    # No savepoint: inside a caller's transaction an error aborts it anyway; two round trips less.
    with transaction.atomic(savepoint=False), pg_cursor() as cursor:
        _lock(cursor, tenant_id, shared=True)
        cursor.execute(_LOCK_LEADS_SQL, {"tenant": tenant_id, "ids": ids, "active": ModelStatus.ACTIVE.value})
        row = cursor.fetchone()
        if row is None:
            return RescoreResult(0, 0, [])
        spec = _published_spec(tenant_id, model_id=row[0], version=row[1])
        query = build_score_query(
            spec, tenant_id=tenant_id, as_of=as_of, scope="{lead} = ANY(%(ids)s::bigint[])", scope_params={"ids": ids}
        )
        updated, transitions, alert_ids = _apply(
            cursor, src_sql=query.sql, params=query.params, spec=spec, tenant_id=tenant_id, as_of=as_of, prepare=True
        )
    _after_alerts(alert_ids)
    return RescoreResult(updated, transitions, alert_ids)


def _published_spec(tenant_id: int, *, model_id: int, version: int) -> ModelSpec:
    spec = _PUBLISHED_SPECS.get((tenant_id, model_id, version))
    return spec if spec is not None else spec_for(ScoringModel.objects.get(pk=model_id))


def _after_alerts(alert_ids: list[int]) -> None:
    if alert_ids:
        from .alerts import enqueue_delivery

        enqueue_delivery(alert_ids)


# --------------------------------------------------------------------------------------------
# Full recompute (set-based, staged, swapped in atomically)
# --------------------------------------------------------------------------------------------


def run_create(*, kind: str = RunKind.FULL, requested_by=None) -> ScoreRun | None:
    model = active_model()
    if model is None:
        return None
    now = timezone.now()
    return ScoreRun.objects.create(
        kind=kind, model_version=model.version, as_of=now, requested_by=requested_by, heartbeat_at=now
    )


def run_execute(run_id: int) -> ScoreRun:
    """Execute (or resume) a recompute run. Idempotent: a finished run is left alone, an
    interrupted one resumes after its last committed chunk, a run whose model is no longer
    active is marked superseded."""
    tenant_id = require_tenant_id()
    with transaction.atomic():
        activate_in_transaction()
        run = ScoreRun.objects.select_for_update().get(pk=run_id)
        if run.is_finished:
            return run
        model = active_model()
        if model is None or model.version != run.model_version:
            run.status = RunStatus.SUPERSEDED
            run.finished_at = timezone.now()
            run.save(update_fields=["status", "finished_at"])
            return run
        run.status = RunStatus.RUNNING
        run.started_at = run.started_at or timezone.now()
        run.heartbeat_at = timezone.now()
        run.save(update_fields=["status", "started_at", "heartbeat_at"])
        # Inside the tenant's transaction: under row-level security the rules are invisible outside it, and
        # an empty spec would be cached for the process (every lead scored 0, its explanation crediting points).
        spec = spec_for(model)
    try:
        _run_sql(run, spec, tenant_id)
    except Exception as error:
        with transaction.atomic():
            activate_in_transaction()
            ScoreRun.objects.filter(pk=run.pk).update(
                status=RunStatus.FAILED, error=str(error)[:2000], finished_at=timezone.now()
            )
        raise
    with transaction.atomic():
        activate_in_transaction()  # the task runs outside a transaction: without it, RLS shows no run
        run.refresh_from_db()
    return run


def _chunks(tenant_id: int) -> tuple[int, int, int]:
    with transaction.atomic(), connection.cursor() as cursor:
        activate_in_transaction()  # under row-level security a query outside the tenant's transaction sees no lead
        cursor.execute("SELECT min(id), max(id), count(*) FROM leads_lead WHERE tenant_id = %s", [tenant_id])
        low, high, count = cursor.fetchone()
    return (low or 0), (high or 0), int(count or 0)


def _run_sql(run: ScoreRun, spec: ModelSpec, tenant_id: int) -> None:
    started = time.monotonic()
    low, high, count = _chunks(tenant_id)
    total_chunks = max(1, (high - low) // CHUNK_IDS + 1) if count else 0
    with transaction.atomic():
        activate_in_transaction()
        with connection.cursor() as cursor:
            # Rows of finished or abandoned runs (a crash between swap and cleanup) go first.
            cursor.execute(
                "DELETE FROM scoring_score_stage s WHERE s.tenant_id = %s AND s.run_id <> %s AND NOT EXISTS "
                "(SELECT 1 FROM scoring_scorerun r WHERE r.id = s.run_id AND r.status IN ('queued', 'running'))",
                [tenant_id, run.pk],
            )
        ScoreRun.objects.filter(pk=run.pk).update(total_chunks=total_chunks, leads_total=count)
    bounds = [(low + i * CHUNK_IDS, low + (i + 1) * CHUNK_IDS) for i in range(total_chunks)]
    if run.done_chunks:
        # A re-delivered task: keep the chunks that were fully staged before the interruption.
        bounds = [b for b in bounds if not _chunk_staged(run.pk, tenant_id, *b)]
    if count >= PARALLEL_MIN_LEADS and len(bounds) > 1:
        # Large tenants: two database sessions stage chunks side by side (committed data only).
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=STAGE_SESSIONS) as pool:
            for future in [pool.submit(_stage_chunk_in_thread, run, spec, tenant_id, lo, hi) for lo, hi in bounds]:
                future.result()
    else:
        for lo, hi in bounds:
            _stage_chunk(run, spec, tenant_id, lo, hi)
    with transaction.atomic():
        activate_in_transaction()
        ScoreRun.objects.filter(pk=run.pk).update(compute_seconds=time.monotonic() - started)
    _swap(run, spec, tenant_id)


def _chunk_staged(run_id: int, tenant_id: int, lo: int, hi: int) -> bool:
    with transaction.atomic(), connection.cursor() as cursor:
        activate_in_transaction()
        cursor.execute(
            "SELECT (SELECT count(*) FROM scoring_score_stage WHERE tenant_id = %(t)s AND run_id = %(r)s "
            "AND lead_id >= %(lo)s "
            "AND lead_id < %(hi)s) = (SELECT count(*) FROM leads_lead WHERE tenant_id = %(t)s AND id >= %(lo)s "
            "AND id < %(hi)s)",
            {"r": run_id, "t": tenant_id, "lo": lo, "hi": hi},
        )
        return bool(cursor.fetchone()[0])


def _stage_chunk(run: ScoreRun, spec: ModelSpec, tenant_id: int, lo: int, hi: int, *, parallel: bool = False) -> None:
    """Score the leads with ids in [lo, hi) into the staging table; commits with the progress."""
    query = build_score_query(
        spec,
        tenant_id=tenant_id,
        as_of=run.as_of,
        scope="{lead} >= %(lo)s AND {lead} < %(hi)s",
        scope_params={"lo": lo, "hi": hi},
    )
    with transaction.atomic():
        activate_in_transaction()
        if not parallel:
            # The heartbeat first: the run's row stays locked while the chunk is scored, so the stale-run
            # check (which skips locked rows) sees a live worker however long the chunk takes.
            ScoreRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now())
        with connection.cursor() as cursor:
            # Sorted aggregation and windows over the covering index stay in memory.
            cursor.execute("SET LOCAL work_mem = '256MB'")
            cursor.execute(
                "DELETE FROM scoring_score_stage WHERE tenant_id = %s AND run_id = %s "
                "AND lead_id >= %s AND lead_id < %s",
                [tenant_id, run.pk, lo, hi],
            )
            cursor.execute(
                "INSERT INTO scoring_score_stage (run_id, tenant_id, lead_id, score_behaviour, score_fit, "  # nosec B608
                f"score_total, segment) SELECT {int(run.pk)}, {int(tenant_id)}, q.* FROM ({query.sql}) q",
                query.params,
            )
        ScoreRun.objects.filter(pk=run.pk).update(done_chunks=F("done_chunks") + 1, heartbeat_at=timezone.now())


def _stage_chunk_in_thread(run: ScoreRun, spec: ModelSpec, tenant_id: int, lo: int, hi: int) -> None:
    from tenants.context import tenant_scope

    try:
        with tenant_scope(tenant_id, atomic=False):
            _stage_chunk(run, spec, tenant_id, lo, hi, parallel=True)
    finally:
        connection.close()


def _swap(run: ScoreRun, spec: ModelSpec, tenant_id: int) -> None:
    alert_ids: list[int] = []
    summary_count = 0
    started = time.monotonic()
    with transaction.atomic():
        activate_in_transaction()
        # Heartbeat, and the run's row stays locked through the swap (see _stage_chunk).
        ScoreRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now())
        with connection.cursor() as cursor:
            _lock(cursor, tenant_id, shared=False)
            current = active_model()
            if current is None or current.version != run.model_version:
                ScoreRun.objects.filter(pk=run.pk).update(status=RunStatus.SUPERSEDED, finished_at=timezone.now())
            else:
                # Leads rescored incrementally after this run's snapshot keep their fresher score.
                # After a model change (full run) many leads may turn hot at once: one summary.
                bulk = run.kind == RunKind.FULL
                updated, transitions, stage_alerts = _apply(
                    cursor,
                    src_sql="SELECT lead_id, score_behaviour, score_fit, score_total, segment FROM scoring_score_stage "
                    "WHERE tenant_id = %(tenant)s AND run_id = %(run)s",
                    params={"run": run.pk, "tenant": tenant_id},
                    spec=spec,
                    tenant_id=tenant_id,
                    as_of=run.as_of,
                    fresh="(l.scored_at IS NULL OR l.scored_at <= %(as_of)s OR l.score_model_version "
                    "IS DISTINCT FROM %(version)s)",
                    bulk=bulk,
                )
                summary_count = int(stage_alerts[0]) if bulk and stage_alerts else 0
                alert_ids = [] if bulk else stage_alerts
                # Leads that changed after the snapshot (new activity, edited attributes) are scored
                # again now, inside the swap, so no staged value older than them survives.
                catch_up = _changed_since(cursor, tenant_id, run.as_of)
                if catch_up:
                    now = timezone.now()
                    query = build_score_query(
                        spec,
                        tenant_id=tenant_id,
                        as_of=now,
                        scope="{lead} = ANY(%(ids)s)",
                        scope_params={"ids": catch_up},
                    )
                    more_updated, more_transitions, more_alerts = _apply(
                        cursor, src_sql=query.sql, params=query.params, spec=spec, tenant_id=tenant_id, as_of=now
                    )
                    updated, transitions = updated + more_updated, transitions + more_transitions
                    alert_ids = alert_ids + more_alerts
                ScoreRun.objects.filter(pk=run.pk).update(
                    status=RunStatus.SUCCEEDED,
                    finished_at=timezone.now(),
                    leads_changed=updated,
                    transitions=transitions,
                    done_chunks=F("total_chunks"),
                    swap_seconds=time.monotonic() - started,
                )
    with transaction.atomic():
        activate_in_transaction()
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM scoring_score_stage WHERE tenant_id = %s AND run_id = %s", [tenant_id, run.pk])
    _after_run_alerts(run, alert_ids, summary_count)


CHANGED_SINCE_SQL = """
SELECT a.lead_id FROM leads_activity a
WHERE a.tenant_id = %(t)s AND a.lead_id IS NOT NULL AND a.occurred_at >= %(since)s - interval '2 days'
  AND a.received_at > %(since)s
UNION
SELECT l.id FROM leads_lead l WHERE l.tenant_id = %(t)s AND l.updated_at > %(since)s
"""


def _changed_since(cursor, tenant_id: int, since: datetime) -> list[int]:
    cursor.execute(CHANGED_SINCE_SQL, {"t": tenant_id, "since": since})
    return sorted(row[0] for row in cursor.fetchall())


def _after_run_alerts(run: ScoreRun, alert_ids: list[int], summary_count: int) -> None:
    # Delivery is a task of its own, so a recompute issues the same queries whatever it finds.
    if alert_ids or summary_count:
        from tenants.tasking import enqueue_on_commit

        from .tasks import deliver_run_alerts

        enqueue_on_commit(deliver_run_alerts, require_tenant_id(), run.pk, alert_ids, summary_count)


# --------------------------------------------------------------------------------------------
# The Python reference: explanations of single leads, and what the SQL is tested against
# --------------------------------------------------------------------------------------------

ACTIVITY_FIELDS = ("lead_id", "type", "occurred_at", "url", "campaign", "properties")


def _activities_by_lead(spec: ModelSpec, lead_ids: list[int]) -> dict[int, list[dict]]:
    types = {r.activity_type for r in spec.behaviour}
    by_lead: dict[int, list[dict]] = {i: [] for i in lead_ids}
    if not types:
        return by_lead
    for index in range(0, len(lead_ids), 500):
        batch = lead_ids[index : index + 500]
        for row in Activity.objects.filter(lead_id__in=batch, type__in=types).values(*ACTIVITY_FIELDS):
            by_lead[row["lead_id"]].append(row)
    return by_lead


def score_python(spec: ModelSpec, lead_ids: list[int], as_of: datetime) -> dict[int, Score]:
    leads = {row["id"]: row for row in Lead.objects.filter(pk__in=lead_ids).values("id", *LEAD_FIELDS_FOR_FIT)}
    activities = _activities_by_lead(spec, list(leads))
    return {lead_id: evaluate.score_lead(spec, lead, activities[lead_id], as_of) for lead_id, lead in leads.items()}


# --------------------------------------------------------------------------------------------
# Reads used by the preview, explanations and reconciliation
# --------------------------------------------------------------------------------------------


def segment_counts_for(spec: ModelSpec, *, sample_every: int = 1, as_of: datetime | None = None) -> dict[str, int]:
    """How many of the tenant's leads each segment would hold under `spec` (every
    `sample_every`-th lead id when sampling a large tenant)."""
    tenant_id = require_tenant_id()
    as_of = as_of or timezone.now()
    scope = "{lead} %% %(every)s = 0" if sample_every > 1 else "TRUE"
    query = build_score_query(
        spec,
        tenant_id=tenant_id,
        as_of=as_of,
        scope=scope,
        scope_params={"every": sample_every} if sample_every > 1 else {},
    )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT q.segment, count(*) FROM ({query.sql}) q GROUP BY q.segment", query.params)  # nosec B608
        return {segment: int(count) for segment, count in cursor.fetchall()}


def explain(lead: Lead, *, spec: ModelSpec | None = None, as_of: datetime | None = None) -> Score | None:
    """The rules that fired for this lead (as of its last scoring, with the model it was scored with)."""
    if spec is None:
        model = None
        if lead.score_model_version is not None:
            model = ScoringModel.objects.filter(version=lead.score_model_version).first()
        model = model or active_model()
        if model is None:
            return None
        spec = spec_for(model)
    as_of = as_of or lead.scored_at or timezone.now()
    return score_python(spec, [lead.pk], as_of).get(lead.pk)


def normalized(value) -> str:
    return normalize_text(value)
