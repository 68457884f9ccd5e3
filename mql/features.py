"""Feature matrices for calibration, computed set-based from the database.

- Rule features: one column per rule of the scoring model — a behaviour rule's counted
  activities (its count cap applied; 0/1 for once and frequency rules), a fit rule's 0/1
  indicator (only the best match of a group counts, like the engine). One generated query
  aggregates every rule with FILTER clauses (the engine's own conditions); `_rule_matrix_python`,
  the engine's reference semantics per lead, is what the tests compare it with.
- Attribute features for the data-driven model: the lead's categorical attributes, numeric
  attributes, custom fields, and activity counts per type (one GROUP BY over activities).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from django.db import connection

from leads.models import Lead
from tenants.context import require_tenant_id

from .evaluation import email_domain_expression


@dataclass(frozen=True)
class RuleColumn:
    key: str  # "b:<rule id>" / "f:<rule id>"
    kind: str  # behaviour | fit
    rule_id: int | None
    label: str
    points: int
    detail: str = ""


def rule_columns(spec) -> list[RuleColumn]:
    columns = []
    for rule in spec.behaviour:
        detail = rule.activity_type
        if rule.is_frequency:
            detail += f" ≥{rule.min_count}/{rule.window_days}d"
        columns.append(RuleColumn(f"b:{rule.id}", "behaviour", rule.id, rule.label, int(rule.points), detail))
    for rule in spec.fit:
        columns.append(RuleColumn(f"f:{rule.id}", "fit", rule.id, rule.label, int(rule.points), rule.field))
    return columns


def _fit_winners(spec) -> dict[int, list]:
    """For each grouped fit rule: the rules of its group that take precedence over it."""
    ahead: dict[int, list] = {}
    ordered = list(spec.fit)
    for index, rule in enumerate(ordered):
        if not rule.group:
            continue
        ahead[index] = [
            other
            for j, other in enumerate(ordered)
            if other.group == rule.group
            and j != index
            and (other.points > rule.points or (other.points == rule.points and j < index))
        ]
    return ahead


def rule_feature_matrix(spec, lead_ids: list[int], *, as_of: datetime) -> np.ndarray:
    """(len(lead_ids) × rules) float matrix in the order of `rule_columns(spec)`."""
    n_rules = len(spec.behaviour) + len(spec.fit)
    if not lead_ids or not n_rules:
        return np.zeros((len(lead_ids), n_rules))
    return _rule_matrix_sql(spec, lead_ids, as_of)


def _rule_matrix_sql(spec, lead_ids: list[int], as_of: datetime) -> np.ndarray:
    # Generated SQL: every value is a bind parameter (scoring's _Params); only fixed fragments,
    # integers and the engine's own conditions are inlined (hence the nosec markers below).
    from scoring import engine

    p = engine._Params()
    tenant = p.add(require_tenant_id())
    asof = p.add(as_of)
    ids = p.add(list(lead_ids))
    ctes, joins, agg_columns, columns = [], [], [], []
    types: set[str] = set()
    base = f"a.tenant_id = {tenant} AND a.lead_id = ANY({ids}::bigint[])"
    for index, rule in enumerate(spec.behaviour):
        cond = engine._activity_condition(rule, p, asof)
        if rule.is_frequency:
            name = f"fr{index}"
            ctes.append(
                f"{name} AS (SELECT DISTINCT x.lead_id FROM (SELECT a.lead_id, a.occurred_at, "  # nosec B608
                f"lag(a.occurred_at, {int(rule.min_count) - 1}) OVER (PARTITION BY a.lead_id ORDER BY a.occurred_at)"
                f" AS prev FROM leads_activity a WHERE {base} AND {cond}) x "
                f"WHERE x.occurred_at - x.prev <= make_interval(days => {int(rule.window_days)}))"
            )
            joins.append(f"LEFT JOIN {name} ON {name}.lead_id = l.id")
            columns.append(f"(CASE WHEN {name}.lead_id IS NULL THEN 0 ELSE 1 END)")
            continue
        types.add(rule.activity_type)
        agg_columns.append(f"count(*) FILTER (WHERE {cond}) AS n{index}")
        cap = rule.count_cap
        counted = f"COALESCE(agg.n{index}, 0)"
        columns.append(counted if cap is None else f"LEAST({counted}, {int(cap)})")
    if agg_columns:
        ctes.insert(
            0,
            f"agg AS (SELECT a.lead_id, {', '.join(agg_columns)} FROM leads_activity a WHERE {base} "  # nosec B608
            f"AND a.type = ANY({p.add(sorted(types))}) GROUP BY a.lead_id)",
        )
        joins.insert(0, "LEFT JOIN agg ON agg.lead_id = l.id")
    ahead = _fit_winners(spec)
    for index, rule in enumerate(spec.fit):
        cond = engine._fit_condition(rule, p)
        blockers = [engine._fit_condition(other, p) for other in ahead.get(index, [])]
        if blockers:
            cond = f"({cond}) AND NOT ({' OR '.join(f'coalesce({b}, FALSE)' for b in blockers)})"
        columns.append(f"(CASE WHEN {cond} THEN 1 ELSE 0 END)")
    with_sql = ("WITH " + ", ".join(ctes) + " ") if ctes else ""
    sql = (
        f"{with_sql}SELECT l.id, {', '.join(columns)} FROM leads_lead l {' '.join(joins)} "  # nosec B608
        f"WHERE l.tenant_id = {tenant} AND l.id = ANY({ids}::bigint[])"
    )
    position = {lead_id: row for row, lead_id in enumerate(lead_ids)}
    matrix = np.zeros((len(lead_ids), len(columns)))
    with connection.cursor() as cursor:
        cursor.execute(sql, p.values)
        for record in cursor.fetchall():
            matrix[position[record[0]]] = record[1:]
    return matrix


def _rule_matrix_python(spec, lead_ids: list[int], as_of: datetime) -> np.ndarray:
    from scoring import engine, evaluate

    position = {lead_id: row for row, lead_id in enumerate(lead_ids)}
    n_behaviour = len(spec.behaviour)
    matrix = np.zeros((len(lead_ids), n_behaviour + len(spec.fit)))
    ahead = _fit_winners(spec)
    for start in range(0, len(lead_ids), 1000):
        batch = lead_ids[start : start + 1000]
        leads = {row["id"]: row for row in Lead.objects.filter(pk__in=batch).values("id", *engine.LEAD_FIELDS_FOR_FIT)}
        activities = engine._activities_by_lead(spec, list(leads))
        for lead_id, lead in leads.items():
            row = position[lead_id]
            for index, rule in enumerate(spec.behaviour):
                _value, _raw, count = evaluate.behaviour_rule_value(rule, activities[lead_id], as_of)
                matrix[row, index] = count
            matched = [evaluate.fit_rule_match(rule, lead)[0] for rule in spec.fit]
            for index in range(len(spec.fit)):
                if matched[index] and not any(matched[spec.fit.index(other)] for other in ahead.get(index, [])):
                    matrix[row, n_behaviour + index] = 1
    return matrix


# ----------------------------------------------------------------------------- attributes

CATEGORICAL_FIELDS = ["channel", "campaign", "industry", "size_band", "authority", "budget", "timing", "department"]
MAX_CUSTOM_CATEGORIES = 60
NUMERIC_PROPERTY_KEYS = ["duration_seconds"]


@dataclass
class AttributeMatrix:
    categorical: list[list[str]]  # rows × categorical columns
    categorical_names: list[str]
    numeric: np.ndarray  # rows × numeric columns
    numeric_names: list[str]


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def attribute_matrix(lead_ids: list[int], *, free_mail_domains: set[str]) -> AttributeMatrix:
    """The data-driven model's inputs: attributes, custom fields and activity counts per type."""
    position = {lead_id: row for row, lead_id in enumerate(lead_ids)}
    n = len(lead_ids)
    rows: list[dict] = [{} for _ in range(n)]
    custom_values: dict[str, dict[int, object]] = defaultdict(dict)
    fields = [
        "id",
        *CATEGORICAL_FIELDS,
        "employee_count",
        "need",
        "unsubscribed",
        "email_consent",
        "custom_fields",
        "mql_domain",
    ]
    queryset = Lead.objects.annotate(mql_domain=email_domain_expression())
    for start in range(0, n, 20000):
        batch = lead_ids[start : start + 20000]
        for record in queryset.filter(pk__in=batch).values(*fields):
            row = position[record["id"]]
            rows[row] = record
            for key, value in (record["custom_fields"] or {}).items():
                if isinstance(value, str | int | float | bool) and value not in ("", None):
                    custom_values[str(key)][row] = value
    categorical_names = list(CATEGORICAL_FIELDS) + ["email_type"]
    numeric_names = ["employee_count_log", "employee_count_missing", "need_known", "unsubscribed", "no_email_consent"]
    numeric_columns: list[np.ndarray] = []
    employees = np.array([rows[i].get("employee_count") or 0 for i in range(n)], dtype=float)
    numeric_columns += [
        np.log1p(employees),
        np.array([rows[i].get("employee_count") is None for i in range(n)], dtype=float),
        np.array([bool((rows[i].get("need") or "").strip()) for i in range(n)], dtype=float),
        np.array([bool(rows[i].get("unsubscribed")) for i in range(n)], dtype=float),
        np.array([rows[i].get("email_consent") is False for i in range(n)], dtype=float),
    ]
    categorical = [
        [str(rows[i].get(name) or "") for name in CATEGORICAL_FIELDS]
        + ["free" if (rows[i].get("mql_domain") or "") in free_mail_domains else "business"]
        for i in range(n)
    ]
    for key in sorted(custom_values):
        values = custom_values[key]
        if all(_is_number(v) for v in values.values()):
            column = np.zeros(n)
            present = np.zeros(n)
            for row, value in values.items():
                column[row] = max(float(value), 0.0)
                present[row] = 1.0
            numeric_columns += [column, np.log1p(column), present]
            numeric_names += [f"custom:{key}", f"custom:{key}_log", f"custom:{key}_known"]
        elif len({str(v) for v in values.values()}) <= MAX_CUSTOM_CATEGORIES * 20:
            categorical_names.append(f"custom:{key}")
            for row in range(n):
                categorical[row].append(str(values.get(row, "")))
    counts, type_names, property_sums = activity_counts(lead_ids)
    # Counts and sums enter both as they are and log-scaled: engagement is often close to linear
    # in the raw number (time on site), while counts of rare events saturate.
    for index, name in enumerate(type_names):
        numeric_columns += [counts[:, index], np.log1p(counts[:, index])]
        numeric_names += [f"activity:{name}", f"activity:{name}_log"]
    for key, column in property_sums.items():
        column = np.maximum(column, 0.0)
        numeric_columns += [column, np.log1p(column)]
        numeric_names += [f"activity_sum:{key}", f"activity_sum:{key}_log"]
    numeric = np.column_stack(numeric_columns) if numeric_columns else np.zeros((n, 0))
    return AttributeMatrix(categorical, categorical_names, numeric, numeric_names)


def activity_counts(lead_ids: list[int], *, max_types: int = 40) -> tuple[np.ndarray, list[str], dict[str, np.ndarray]]:
    """Activity counts per (lead, type) for the most common types, plus sums of numeric
    engagement properties (e.g. a page view's `duration_seconds`). One GROUP BY each."""
    position = {lead_id: row for row, lead_id in enumerate(lead_ids)}
    n = len(lead_ids)
    per_lead: list[tuple[int, str, int]] = []
    sums: dict[str, np.ndarray] = {}
    tenant_id = require_tenant_id()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.lead_id, a.type, count(*) FROM leads_activity a WHERE a.tenant_id = %s "
            "AND a.lead_id = ANY(%s::bigint[]) GROUP BY a.lead_id, a.type",
            [tenant_id, list(lead_ids)],
        )
        per_lead = cursor.fetchall()
        for key in NUMERIC_PROPERTY_KEYS:
            cursor.execute(
                "SELECT a.lead_id, sum((a.properties ->> %s)::float8) FROM leads_activity a "
                "WHERE a.tenant_id = %s AND a.lead_id = ANY(%s::bigint[]) "
                "AND jsonb_typeof(a.properties -> %s) = 'number' GROUP BY a.lead_id",
                [key, tenant_id, list(lead_ids), key],
            )
            found = cursor.fetchall()
            if found:
                column = np.zeros(n)
                for lead_id, total in found:
                    column[position[lead_id]] = float(total or 0)
                sums[key] = column
    totals: dict[str, int] = defaultdict(int)
    for _lead, type_name, count in per_lead:
        totals[type_name] += count
    type_names = [name for name, _total in sorted(totals.items(), key=lambda kv: -kv[1])[:max_types]]
    column_of = {name: index for index, name in enumerate(type_names)}
    counts = np.zeros((n, len(type_names)))
    for lead_id, type_name, count in per_lead:
        if type_name in column_of:
            counts[position[lead_id], column_of[type_name]] = count
    return counts, type_names, sums
