"""CSV exports of every KPI table: UTF-8 with BOM (Excel opens it correctly in Japanese), cells
that a spreadsheet would run as a formula prefixed with an apostrophe (tenants.csvutil.escape_formula)."""

from __future__ import annotations

import csv
from decimal import Decimal

from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from tenants.csvutil import escape_formula

from . import selectors
from .catalog import KPIS
from .periods import Period

TABLES = (
    "kpis",
    "funnel",
    "trend",
    "channels",
    "campaigns",
    "nurturing",
    "hot_leads",
    "review_log",
    "targets",
    "spend",
)


def safe(value) -> object:
    """A CSV cell: numbers stay numbers; text that starts like a formula is neutralised."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral_value() else f"{value:.4f}".rstrip("0")
    return escape_formula(value)


def _number(value):
    if value is None:
        return None
    return Decimal(value).quantize(Decimal("0.01")) if not isinstance(value, int) else value


def response(table: str, *, period: Period, filters, request) -> HttpResponse:
    rows = list(_ROWS[table](period, filters, request))
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    filename = f"ondo-kpis-{table}-{period.start:%Y%m%d}-{stamp}.csv"
    http = HttpResponse(content_type="text/csv; charset=utf-8")
    http["Content-Disposition"] = f'attachment; filename="{filename}"'
    http.write("\ufeff")
    writer = csv.writer(http, lineterminator="\r\n")
    for row in rows:
        writer.writerow([safe(cell) for cell in row])
    return http


def _lines(period, filters, request):
    data = selectors.dashboard(period, filters)
    yield [
        _("Period"),
        _("KPI"),
        _("Code"),
        _("Actual"),
        _("Previous period"),
        _("Change"),
        _("Change unit"),
        _("Target"),
        _("Attainment (%)"),
    ]
    for code, line in data.lines.items():
        yield [
            period.label,
            line.label,
            code,
            _number(line.actual),
            _number(line.previous),
            _number(line.change),
            line.change_unit,
            _number(line.target),
            _number(line.attainment),
        ]


def _funnel(period, filters, request):
    data = selectors.dashboard(period, filters)
    yield [_("Period"), _("Stage"), _("Actual"), _("Target"), _("Conversion from the stage before (%)")]
    previous = None
    for code, label in (
        ("leads", _("Inquiries")),
        ("mqls", _("MQL")),
        ("sqls", _("SQL")),
        ("opportunities", _("Opportunities")),
        ("won_deals", _("Won deals")),
    ):
        line = data.lines[code]
        rate = (Decimal(line.actual) * 100 / Decimal(previous)) if previous and line.actual is not None else None
        yield [period.label, label, _number(line.actual), _number(line.target), _number(rate)]
        previous = line.actual


def _trend(period, filters, request):
    data = selectors.dashboard(period, filters)
    yield [
        _("Period"),
        _("Inquiries"),
        _("MQLs"),
        _("MQL target"),
        _("SQL rate (%)"),
        _("SQL rate target (%)"),
        _("Opportunities"),
        _("Opportunity target"),
        _("Revenue won"),
        _("Revenue target"),
    ]
    for row in data.trend:
        yield [
            row["period"].label,
            row["leads"],
            row["mqls"],
            _number(row["t_mqls"]),
            _number(row["mql_to_sql_rate"]),
            _number(row["t_mql_to_sql_rate"]),
            row["opportunities"],
            _number(row["t_opportunities"]),
            _number(row["revenue"]),
            _number(row["t_revenue"]),
        ]


def _table(rows, period, key_label):
    yield [
        _("Period"),
        key_label,
        _("Inquiries"),
        _("MQLs"),
        _("SQLs"),
        _("Opportunities"),
        _("Won deals"),
        _("Revenue won"),
        _("SQL rate (%)"),
        _("Win rate (%)"),
        _("Spend"),
        _("CPA"),
        _("Cost per SQL"),
        _("Cost per won deal"),
    ]
    for r in rows:
        yield [
            period.label,
            r["label"],
            r["leads"],
            r["mqls"],
            r["sqls"],
            r["opportunities"],
            r["won"],
            _number(r["revenue"]),
            _number(r["mql_to_sql_rate"]),
            _number(r["win_rate"]),
            _number(r["spend"]),
            _number(r["cpa"]),
            _number(r["cost_per_sql"]),
            _number(r["cost_per_won"]),
        ]


def _channels(period, filters, request):
    yield from _table(selectors.dashboard(period, filters).channels, period, _("Channel"))


def _campaigns(period, filters, request):
    yield from _table(selectors.dashboard(period, filters).extra["all_campaigns"], period, _("Campaign"))


def _nurturing(period, filters, request):
    data = selectors.dashboard(period, filters)
    yield [_("Period"), _("KPI"), _("Actual"), _("Previous period"), _("Change"), _("Change unit"), _("Target")]
    for line in [*data.nurturing, *data.costs]:
        yield [
            period.label,
            line.label,
            _number(line.actual),
            _number(line.previous),
            _number(line.change),
            line.change_unit,
            _number(line.target),
        ]


def _hot_leads(period, filters, request):
    hot = selectors.hot_leads_awaiting(filters, limit=5000)
    yield [
        _("Lead"),
        _("Company"),
        _("Email"),
        _("Channel"),
        _("Campaign"),
        _("Owner"),
        _("Score"),
        _("MQL since"),
        _("Follow-up deadline"),
        _("Overdue"),
    ]
    for item in hot["items"]:
        lead = item["lead"]
        yield [
            lead.name,
            lead.company,
            lead.email,
            lead.channel,
            lead.campaign,
            lead.owner.display_name if lead.owner else "",
            lead.score_total,
            timezone.localtime(item["since"]).strftime("%Y/%m/%d %H:%M"),
            timezone.localtime(item["deadline"]).strftime("%Y/%m/%d %H:%M"),
            item["overdue"],
        ]


def _review_log(period, filters, request):
    yield [
        _("Period"),
        _("KPI"),
        _("What we found"),
        _("Decided action"),
        _("Owner"),
        _("Due date"),
        _("Status"),
        _("Recorded by"),
        _("Recorded at"),
    ]
    for entry in selectors.review_log(None, limit=10000):
        entry_period = Period(entry.period_type, entry.period_start, period.fiscal_start_month)
        yield [
            entry_period.label,
            str(KPIS[entry.kpi].label) if entry.kpi in KPIS else "",
            entry.finding,
            entry.action,
            entry.owner.display_name if entry.owner else "",
            entry.due_on.strftime("%Y/%m/%d") if entry.due_on else "",
            entry.get_status_display(),
            entry.created_by.display_name if entry.created_by else "",
            timezone.localtime(entry.created_at).strftime("%Y/%m/%d %H:%M"),
        ]


def _targets(period, filters, request):
    from .models import KpiTarget

    yield [_("Period type"), _("Period start"), _("KPI"), _("Code"), _("Channel"), _("Target"), _("Source")]
    container = Period.containing("year", period.start, period.fiscal_start_month)
    rows = KpiTarget.objects.filter(period_start__gte=container.start, period_start__lt=container.end).order_by(
        "period_type", "period_start", "kpi", "channel"
    )
    for t in rows:
        yield [
            t.get_period_type_display(),
            t.period_start.strftime("%Y/%m/%d"),
            str(KPIS[t.kpi].label) if t.kpi in KPIS else t.kpi,
            t.kpi,
            t.channel,
            _number(t.target_value),
            t.get_source_display(),
        ]


def _spend(period, filters, request):
    from .models import ChannelSpend

    yield [_("Month"), _("Channel"), _("Spend"), _("Note")]
    container = Period.containing("year", period.start, period.fiscal_start_month)
    for row in ChannelSpend.objects.filter(month__gte=container.start, month__lt=container.end).order_by(
        "month", "channel"
    ):
        yield [row.month.strftime("%Y/%m"), row.channel, _number(row.amount), row.note]


_ROWS = {
    "kpis": _lines,
    "funnel": _funnel,
    "trend": _trend,
    "channels": _channels,
    "campaigns": _campaigns,
    "nurturing": _nurturing,
    "hot_leads": _hot_leads,
    "review_log": _review_log,
    "targets": _targets,
    "spend": _spend,
}
