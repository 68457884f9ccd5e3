"""Chart data for static/js/ondo.js (Chart.js 4), passed in <script type="application/json"> blocks.

Shapes (docs/ui.md): line/bar {"unit", "labels", "series": [{"label", "data", "kind": "target"?}]},
funnel {"unit", "rate_label", "stages": [{"label", "value"}]}.
"""

from __future__ import annotations

from decimal import Decimal

from django.utils.translation import gettext as _


def _f(value) -> float | None:
    if value is None:
        return None
    return round(float(Decimal(value)), 2)


def _has(values) -> bool:
    return any(v is not None for v in values)


def _line(trend: list[dict], key: str, label: str, unit: str, extra: list[tuple[str, str]] = ()) -> dict:
    series = [{"label": label, "data": [_f(row[key]) for row in trend]}]
    for extra_key, extra_label in extra:
        series.append({"label": extra_label, "data": [_f(row[extra_key]) for row in trend]})
    target = [_f(row.get(f"t_{key}")) for row in trend]
    if _has(target):
        series.append({"label": _("Target"), "data": target, "kind": "target"})
    return {"unit": unit, "labels": [row["label"] for row in trend], "series": series}


def dashboard_charts(data) -> dict:
    values = data.values
    funnel = {
        "unit": "count",
        "rate_label": _("Conversion"),
        "stages": [
            {"label": _("Inquiries"), "value": _f(values["leads"])},
            {"label": _("MQL"), "value": _f(values["mqls"])},
            {"label": _("SQL"), "value": _f(values["sqls"])},
            {"label": _("Opportunities"), "value": _f(values["opportunities"])},
            {"label": _("Won"), "value": _f(values["won_deals"])},
        ],
    }
    if not any(stage["value"] for stage in funnel["stages"]):
        funnel["stages"] = []
    trend = data.trend
    mql = _line(trend, "mqls", _("MQLs"), "count")
    return {
        "funnel": funnel,
        "mqls": mql,
        "sql_rate": _line(trend, "mql_to_sql_rate", _("SQL rate"), "percent"),
        "opportunities": _line(trend, "opportunities", _("Opportunities"), "count"),
        "revenue": _line(trend, "revenue", _("Revenue won"), "yen"),
        "channels": {
            "unit": "count",
            "horizontal": True,
            "stacked": False,
            "labels": [row["label"] for row in data.channels],
            "series": [
                {"label": _("Inquiries"), "data": [row["leads"] for row in data.channels]},
                {"label": _("MQL"), "data": [row["mqls"] for row in data.channels]},
                {"label": _("SQL"), "data": [row["sqls"] for row in data.channels]},
            ],
        },
    }


def plan_chart(result) -> dict:
    """The plan as a funnel (what the goal needs at each stage)."""
    stages = [
        (_("Leads"), result.leads),
        (_("MQL"), result.mqls),
        (_("SQL"), result.sqls),
        (_("Opportunities"), result.opportunities),
        (_("Won deals"), result.won_deals),
    ]
    return {
        "unit": "count",
        "rate_label": _("Conversion"),
        "stages": [{"label": label, "value": value} for label, value in stages if value is not None],
    }
