"""KPI pages: dashboard (+ review meeting mode), planner, KPI tree, targets, spend, review rules,
CSV exports. Thin: forms parse, selectors read, services write."""

from __future__ import annotations

import datetime as dt
import functools
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tenants.decorators import render_htmx, tenant_permission_required
from tenants.params import safe_next_url

from . import charts, exports, selectors, services
from .catalog import KPIS, PLANNED, SHARED, kpi_choices
from .forms import (
    DashboardForm,
    KpiSettingsForm,
    KsfForm,
    PlannerForm,
    PlanPeriodForm,
    ReviewEntryForm,
    ReviewRuleForm,
    ReviewStatusForm,
    SpendForm,
    TargetForm,
    format_amount,
)
from .models import Ksf, ReviewAlert, ReviewLogEntry
from .periods import Period, last_closed, local_today
from .planning import (
    CHANNEL_CPA_REFERENCE,
    DEFAULT_ASSUMPTIONS,
    RATE_FIELDS,
    REFERENCE_RANGES,
    PlanInputs,
    breakdown,
    reverse_plan,
)

DEFAULT_CHANNELS = ["seo", "listing", "webinar", "email", "event", "referral"]


def _today() -> dt.date:
    return local_today(selectors.tenant_timezone())


def _fiscal() -> int:
    return selectors.kpi_settings().fiscal_year_start_month


def _period_nav(request, period: Period, url_name: str) -> dict:
    base = reverse(url_name, args=[request.tenant.slug])
    params = request.GET.copy()

    def link(p: Period) -> str:
        q = params.copy()
        q["period"], q["date"] = p.kind, p.start.isoformat()
        return f"{base}?{q.urlencode()}"

    today = _today()
    anchor = today if period.contains(today) else period.start  # switching kind keeps "now" when we are in it
    kinds = []
    for kind, label in (("week", _("Week")), ("month", _("Month")), ("quarter", _("Quarter")), ("year", _("Year"))):
        kinds.append(
            {
                "kind": kind,
                "label": label,
                "url": link(Period.containing(kind, anchor, period.fiscal_start_month)),
                "current": kind == period.kind,
            }
        )
    this_label = {
        "week": _("This week"),
        "month": _("This month"),
        "quarter": _("This quarter"),
        "year": _("This fiscal year"),
    }[period.kind]
    return {
        "prev_url": link(period.previous()),
        "next_url": link(period.next()),
        "kinds": kinds,
        "this_url": link(Period.containing(period.kind, today, period.fiscal_start_month)),
        "this_label": this_label,
        "is_current": period.contains(today),
    }


# ============================================================================================ dashboard


def _dashboard_inputs(request):
    """The dashboard form (period + filters) from the query string. Invalid input: the current month,
    no filters, and `valid` False (the page answers 400 and shows the errors)."""
    members = selectors.members()
    form = DashboardForm(
        request.GET or None, today=_today(), fiscal_start_month=_fiscal(), member_ids={m.pk for m in members}
    )
    valid = form.is_valid() if request.GET else True
    if request.GET and valid:
        data = form.cleaned_data
        period = form.period_value()
        filters = selectors.Filters(
            channel=data.get("channel") or "", campaign=data.get("campaign") or "", owner_id=data.get("owner")
        )
    else:
        period = Period.containing("month", _today(), _fiscal())
        filters = selectors.NO_FILTERS
    return form, valid, period, filters, members


def _funnel_rates() -> list[tuple[str, str]]:
    return [
        ("lead_to_mql_rate", _("Lead → MQL")),
        ("mql_to_sql_rate", _("MQL → SQL")),
        ("sql_to_opportunity_rate", _("SQL → opportunity")),
        ("win_rate", _("Opportunity → won")),
    ]


def _export_tables() -> list[tuple[str, str]]:
    return [
        ("kpis", _("All KPIs")),
        ("funnel", _("Funnel")),
        ("trend", _("Target vs actual trend")),
        ("channels", _("Channels")),
        ("campaigns", _("Campaigns")),
        ("nurturing", _("Nurturing KPIs and cost")),
        ("hot_leads", _("Hot leads awaiting follow-up")),
        ("review_log", _("Review log")),
        ("targets", _("Targets of the fiscal year")),
        ("spend", _("Channel spend of the fiscal year")),
    ]


def _with_titles(alert_list):
    from .alerts import alert_headline, alert_text

    for alert in alert_list:
        alert.title_text, alert.body_text = alert_text(alert)
        alert.headline = alert_headline(alert)
    return alert_list


REVIEW_CODES = [
    "leads",
    "mqls",
    "lead_to_mql_rate",
    "sqls",
    "mql_to_sql_rate",
    "opportunities",
    "sql_to_opportunity_rate",
    "won_deals",
    "win_rate",
    "revenue",
    "avg_deal_size",
    "cpa",
]


def _label_entries(entries, fiscal: int):
    for entry in entries:
        entry.kpi_label = str(KPIS[entry.kpi].label) if entry.kpi in KPIS else ""
        entry.period_label = Period(entry.period_type, entry.period_start, fiscal).label
    return entries


@tenant_permission_required("view")
def dashboard(request, slug):
    form, valid, period, filters, members = _dashboard_inputs(request)
    data = selectors.dashboard(period, filters)
    _with_titles(data.alerts)
    context = {
        "export_tables": _export_tables(),
        "funnel_rates": _funnel_rates(),
        "form": form,
        "form_valid": valid,
        "period": period,
        "filters": filters,
        "data": data,
        "members": members,
        "dimensions": selectors.dimension_values(),
        "nav": _period_nav(request, period, "kpis:dashboard"),
        "charts": charts.dashboard_charts(data),
        "shared": _shared_cards(data),
        "rollup": selectors.rollup_status(),
        "query": request.GET.urlencode(),
        "today": _today(),
    }
    return render_htmx(request, "kpis/dashboard.html", context, fragment="panels", status=200 if valid else 400)


def _shared_cards(data) -> list[dict]:
    """The four shared KPIs (seed 004): inquiries & MQLs, SQL rate, opportunities, revenue won."""
    lines = data.lines
    return [
        {
            "code": "leads",
            "label": _("Inquiries & MQLs"),
            "main": lines["leads"],
            "second": lines["mqls"],
            "second_label": _("MQL"),
            "goal": lines["mqls"] if lines["mqls"].target is not None else lines["leads"],
        },
        {
            "code": "mql_to_sql_rate",
            "label": _("SQL rate"),
            "main": lines["mql_to_sql_rate"],
            "caption": _("SQLs ÷ MQLs"),
            "goal": lines["mql_to_sql_rate"],
        },
        {
            "code": "opportunities",
            "label": _("Opportunities"),
            "main": lines["opportunities"],
            "goal": lines["opportunities"],
        },
        {
            "code": "revenue",
            "label": _("Revenue won"),
            "main": lines["revenue"],
            "compact": True,
            "second": lines["won_deals"],
            "second_label": _("Won deals"),
            "goal": lines["revenue"],
        },
    ]


@tenant_permission_required("view")
def review(request, slug):
    """Review meeting mode: the last closed period's numbers, the decisions taken, the open actions."""
    form, valid, period, filters, members = _dashboard_inputs(request)
    if valid and not request.GET.get("date"):
        period = last_closed(period.kind, _today(), _fiscal())
    entry_form = ReviewEntryForm(request.POST or None, members=members, initial={"alert": request.GET.get("alert")})
    status = 200 if valid else 400
    if request.method == "POST":
        if not _can(request, "review_kpis"):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        if entry_form.is_valid():
            try:
                alert = None
                if entry_form.cleaned_data.get("alert"):
                    alert = ReviewAlert.objects.filter(pk=entry_form.cleaned_data["alert"]).first()
                services.review_entry_create(
                    period=period,
                    kpi=entry_form.cleaned_data.get("kpi") or "",
                    finding=entry_form.cleaned_data.get("finding") or "",
                    action=entry_form.cleaned_data["action"],
                    owner=entry_form.cleaned_data.get("owner"),
                    due_on=entry_form.cleaned_data.get("due_on"),
                    alert=alert,
                    actor=request.user,
                )
            except ValidationError as error:
                _attach(entry_form, error)
            else:
                messages.success(request, _("The decision was added to the review log."))
                return HttpResponseRedirect(request.get_full_path())
        status = 400
    data = selectors.dashboard(period, filters, trend_count=6)
    context = {
        "form": form,
        "period": period,
        "filters": filters,
        "data": data,
        "members": members,
        "nav": _period_nav(request, period, "kpis:review"),
        "shared": _shared_cards(data),
        "entry_form": entry_form,
        "log": _label_entries(selectors.review_log(period), _fiscal()),
        "open_actions": _label_entries(selectors.open_actions(), _fiscal()),
        "alerts": _with_titles(selectors.open_alerts()),
        "query": request.GET.urlencode(),
        "today": _today(),
        "dimensions": selectors.dimension_values(),
        "review_codes": REVIEW_CODES,
        "rollup": selectors.rollup_status(),
    }
    return render_htmx(request, "kpis/review.html", context, status=status)


def _can(request, capability: str) -> bool:
    from tenants.roles import can

    return can(request.user, request.tenant, capability)


@require_POST
@tenant_permission_required("review_kpis")
def review_status(request, slug, pk):
    entry = get_object_or_404(ReviewLogEntry, pk=pk)
    form = ReviewStatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose open or done."))
        return HttpResponseRedirect(reverse("kpis:review", args=[slug]), status=303)
    services.review_entry_set_status(entry=entry, status=form.cleaned_data["status"], actor=request.user)
    target = safe_next_url(request, request.POST.get("next"), default=reverse("kpis:review", args=[slug]))
    return HttpResponseRedirect(target)


# ============================================================================================ exports


@tenant_permission_required("export")
def export(request, slug, table):
    if table not in exports.TABLES:
        raise Http404
    form, valid, period, filters, _members = _dashboard_inputs(request)
    if not valid:
        from django.http import HttpResponseBadRequest

        errors = "; ".join(str(e) for errs in form.errors.values() for e in errs)
        return HttpResponseBadRequest(errors, content_type="text/plain; charset=utf-8")
    return exports.response(table, period=period, filters=filters, request=request)


# ============================================================================================ planner


def _planner_channels(kgi_inputs: PlanInputs | None, history: list[dict]) -> list[dict]:
    labels = selectors.channel_labels()
    rows: dict[str, dict] = {}
    if kgi_inputs is not None and kgi_inputs.channels:
        for c in kgi_inputs.channels:
            rows[c.channel] = {
                "channel": c.channel,
                "label": labels.get(c.channel, c.label or c.channel),
                "share": c.share_percent,
                "cpa": c.cpa,
            }
    for h in history:
        if h["channel"] and h["channel"] not in rows:
            rows[h["channel"]] = {
                "channel": h["channel"],
                "label": labels.get(h["channel"], h["channel"]),
                "share": None if kgi_inputs else h["share"],
                "cpa": None if kgi_inputs else h["cpa"],
            }
    if not rows:
        for key in list(labels) or DEFAULT_CHANNELS:
            rows[key] = {"channel": key, "label": labels.get(key, key), "share": None, "cpa": None}
    history_by = {h["channel"]: h for h in history}
    for key, row in rows.items():
        low, high, text = CHANNEL_CPA_REFERENCE.get(key, (None, None, ""))
        row["reference"] = text
        row["measured"] = history_by.get(key)
    return list(rows.values())


def _planner_context(request, period: Period, form: PlannerForm, inputs: PlanInputs | None, measured: dict) -> dict:
    result = reverse_plan(inputs) if inputs is not None else None
    quarter_rows, month_rows = [], []
    if result is not None:
        values = {
            "revenue": result.revenue,
            "won_deals": result.won_deals,
            "opportunities": result.opportunities,
            "sqls": result.sqls,
            "mqls": result.mqls,
            "leads": result.leads,
            "spend": result.budget,
        }
        for kind, bucket in (("quarter", quarter_rows), ("month", month_rows)):
            if period.kind == "year" or (period.kind == "quarter" and kind == "month"):
                parts = {code: dict(breakdown(v, period, kind)) for code, v in values.items() if v is not None}
                for sub in period.sub_periods(kind):
                    bucket.append({"period": sub, **{code: parts[code].get(sub) for code in parts}})
    field_errors = {name: [str(e) for e in form.errors.get(name, [])] for name in form.fields}
    if result is not None:
        for key, message in result.errors.items():
            if key in field_errors and message not in field_errors[key]:
                field_errors[key].append(message)
    return {
        "period": period,
        "form": form,
        "result": result,
        "quarters": quarter_rows,
        "months": month_rows,
        "measured": measured,
        "references": REFERENCE_RANGES,
        "assumptions": DEFAULT_ASSUMPTIONS,
        "rate_fields": RATE_FIELDS,
        "field_errors": field_errors,
        "general_errors": [str(e) for e in form.non_field_errors()]
        + ([result.errors["channels"]] if result is not None and "channels" in result.errors else []),
        "kgi": selectors.kgi_for(period),
        "nav": _period_nav(request, period, "kpis:planner"),
        "plan_chart": charts.plan_chart(result) if result is not None else None,
    }


def _initial_inputs(kgi, measured: dict, channels: list[dict]) -> tuple[dict, PlanInputs]:
    if kgi is not None and kgi.plan_inputs:
        inputs = PlanInputs.from_json(kgi.plan_inputs)
        initial = {"title": kgi.title, "goal_type": inputs.goal_type}
    else:
        inputs = PlanInputs(
            revenue_target=None,
            avg_deal_size=measured["avg_deal_size"]["value"] if measured["avg_deal_size"]["enough"] else None,
            **{
                name: (measured[name]["value"] if measured[name]["enough"] else DEFAULT_ASSUMPTIONS[name])
                for name in RATE_FIELDS
            },
        )
        initial = {"goal_type": "revenue"}
    for name in ("revenue_target", "company_revenue", "avg_deal_size"):
        initial[name] = format_amount(getattr(inputs, name))
    for name in ("web_share_percent", "won_deals_target", *RATE_FIELDS):
        initial[name] = _plain(getattr(inputs, name))
    for index, row in enumerate(channels):
        initial[f"channel-{index}-key"] = row["channel"]
        initial[f"channel-{index}-share_percent"] = _plain(row.get("share"))
        initial[f"channel-{index}-cpa"] = format_amount(row.get("cpa"))
    return initial, inputs


def _plain(value) -> str:
    if value is None:
        return ""
    text = f"{Decimal(value):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _plan_period(request, data=None) -> tuple[PlanPeriodForm, Period]:
    form = PlanPeriodForm(
        data if data is not None else (request.GET or None),
        today=_today(),
        fiscal_start_month=_fiscal(),
        default_kind="year",
    )
    if form.is_bound and form.is_valid():
        return form, form.period_value()
    return form, Period.containing("year", _today(), _fiscal())


@tenant_permission_required("view")
def planner(request, slug):
    period_form, period = _plan_period(request)
    measured = selectors.measured_rates()
    kgi = selectors.kgi_for(period)
    saved = PlanInputs.from_json(kgi.plan_inputs) if kgi is not None and kgi.plan_inputs else None
    channels = _planner_channels(saved, selectors.channel_history())
    initial, inputs = _initial_inputs(kgi, measured, channels)
    form = PlannerForm(initial=initial, channels=channels)
    context = _planner_context(request, period, form, inputs if kgi is not None else inputs, measured)
    context["period_form"] = period_form
    context["can_plan"] = _can(request, "plan_kpis")
    status = 400 if period_form.is_bound and not period_form.is_valid() else 200
    return render_htmx(request, "kpis/planner.html", context, status=status)


def _bound_planner(request):
    _period_form, period = _plan_period(request, request.POST)
    measured = selectors.measured_rates()
    kgi = selectors.kgi_for(period)
    saved = PlanInputs.from_json(kgi.plan_inputs) if kgi is not None and kgi.plan_inputs else None
    channels = _planner_channels(saved, selectors.channel_history())
    form = PlannerForm(request.POST, channels=channels)
    inputs = form.plan_inputs() if form.is_valid() else None
    return period, form, inputs, measured


@require_POST
@tenant_permission_required("plan_kpis")
def planner_calculate(request, slug):
    """Live recalculation (htmx): the whole tree for the current inputs. Nothing is saved."""
    period, form, inputs, measured = _bound_planner(request)
    context = _planner_context(request, period, form, inputs, measured)
    context["oob_errors"] = True
    bad = not form.is_valid() or (context["result"] is not None and not context["result"].ok)
    return render_htmx(request, "kpis/planner.html", context, fragment="plan-result", status=400 if bad else 200)


@require_POST
@tenant_permission_required("plan_kpis")
def planner_save(request, slug):
    period, form, inputs, measured = _bound_planner(request)
    if inputs is not None:
        try:
            services.plan_save(
                period=period, inputs=inputs, actor=request.user, title=form.cleaned_data.get("title") or ""
            )
        except ValidationError as error:
            form.add_plan_errors(error.message_dict if hasattr(error, "error_dict") else {"__all__": error.messages})
        else:
            messages.success(request, _("Saved as the targets of %(period)s.") % {"period": period.label})
            return HttpResponseRedirect(
                reverse("kpis:tree", args=[slug]) + f"?period={period.kind}&date={period.start.isoformat()}"
            )
    context = _planner_context(request, period, form, inputs, measured)
    context["period_form"], _p = _plan_period(request, request.POST)
    context["can_plan"] = True
    context["save_failed"] = True
    return render_htmx(request, "kpis/planner.html", context, status=400)


# ============================================================================================ tree & targets


def _kgi_period(request) -> tuple[PlanPeriodForm, Period]:
    form, period = _plan_period(request)
    if not request.GET.get("date") and selectors.kgi_for(period) is None:
        latest = next(iter(selectors.kgis()), None)
        if latest is not None:
            period = Period(latest.period_type, latest.period_start, _fiscal())
    return form, period


@tenant_permission_required("view")
def tree(request, slug):
    period_form, period = _kgi_period(request)
    kgi = selectors.kgi_for(period)
    values = selectors.kpi_values(period)
    goals = selectors.targets(period)
    lines = {code: selectors.kpi_line(code, values, {}, goals) for code in KPIS}
    ksf_items = []
    used = set()
    for ksf in selectors.ksfs(kgi) if kgi else []:
        ksf_items.append(
            {
                "ksf": ksf,
                "lines": [lines[c] for c in ksf.kpis if c in lines],
                "form": KsfForm(
                    initial={"title": ksf.title, "description": ksf.description, "kpis": ksf.kpis},
                    prefix=f"ksf{ksf.pk}",
                ),
            }
        )
        used.update(ksf.kpis)
    funnel = [lines[c] for c in ("won_deals", "opportunities", "sqls", "mqls", "leads") if c in goals]
    rates = [
        lines[c] for c in ("win_rate", "sql_to_opportunity_rate", "mql_to_sql_rate", "lead_to_mql_rate") if c in goals
    ]
    other = [
        lines[c]
        for c in goals
        if c not in used
        and c
        not in {
            "revenue",
            "won_deals",
            "opportunities",
            "sqls",
            "mqls",
            "leads",
            "win_rate",
            "sql_to_opportunity_rate",
            "mql_to_sql_rate",
            "lead_to_mql_rate",
        }
    ]
    today = _today()
    elapsed = None
    if period.start <= today < period.end:
        elapsed = Decimal((today - period.start).days + 1) * 100 / Decimal(period.days)
    elif today >= period.end:
        elapsed = Decimal(100)
    goal_line = lines["won_deals"] if kgi is not None and kgi.goal_type == "won_deals" else lines["revenue"]
    context = {
        "period": period,
        "period_form": period_form,
        "kgi": kgi,
        "goal_line": goal_line,
        "ksfs": ksf_items,
        "funnel": funnel,
        "rates": rates,
        "other": other,
        "elapsed": elapsed,
        "new_ksf_form": KsfForm(prefix="new"),
        "kgis": selectors.kgis(),
        "can_plan": _can(request, "plan_kpis"),
        "nav": _period_nav(request, period, "kpis:tree"),
    }
    return render_htmx(request, "kpis/tree.html", context)


@require_POST
@tenant_permission_required("plan_kpis")
def ksf_save(request, slug, pk=None):
    _form, period = _plan_period(request, request.POST)
    kgi = selectors.kgi_for(period)
    if kgi is None:
        raise Http404
    ksf = get_object_or_404(Ksf, pk=pk, kgi=kgi) if pk else None
    form = KsfForm(request.POST, prefix=f"ksf{pk}" if pk else "new")
    back = reverse("kpis:tree", args=[slug]) + f"?period={period.kind}&date={period.start.isoformat()}"
    if form.is_valid():
        try:
            services.ksf_save(
                kgi=kgi,
                ksf=ksf,
                title=form.cleaned_data["title"],
                description=form.cleaned_data.get("description") or "",
                kpis=form.cleaned_data.get("kpis") or [],
                actor=request.user,
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
            return HttpResponseRedirect(back, status=303)
        messages.success(request, _("The key success factor was saved."))
        return HttpResponseRedirect(back)
    messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
    response = HttpResponseRedirect(back)
    return response


@require_POST
@tenant_permission_required("plan_kpis")
def ksf_delete(request, slug, pk):
    ksf = get_object_or_404(Ksf, pk=pk)
    period = Period(ksf.kgi.period_type, ksf.kgi.period_start, _fiscal())
    services.ksf_delete(ksf=ksf, actor=request.user)
    messages.success(request, _("The key success factor was deleted."))
    return HttpResponseRedirect(
        reverse("kpis:tree", args=[slug]) + f"?period={period.kind}&date={period.start.isoformat()}"
    )


@tenant_permission_required("view")
def targets(request, slug):
    period_form, period = _kgi_period(request)
    view = "weeks" if request.GET.get("view") == "weeks" else "months"
    columns = period.sub_periods("week" if view == "weeks" else "month")
    goals = selectors.targets_many([period, *columns])
    actuals = selectors.kpi_values_many([period, *columns])
    codes = [c for c in PLANNED if any(c in goals[p] for p in [period, *columns])]
    codes += [c for c in KPIS if c not in codes and any(c in goals[p] for p in [period, *columns])]
    today = _today()
    for p in columns:
        if p.start > today:
            actuals[p] = {}  # not happened yet
    rows = [
        {
            "kpi": KPIS[c],
            "total": goals[period].get(c),
            "total_actual": actuals[period].get(c),
            "cells": [{"target": goals[p].get(c), "actual": actuals[p].get(c)} for p in columns],
        }
        for c in codes
    ]
    target_form = TargetForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if not _can(request, "plan_kpis"):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        if target_form.is_valid():
            try:
                services.target_set(
                    kpi=target_form.cleaned_data["kpi"],
                    period=period,
                    value=target_form.cleaned_data.get("value"),
                    actor=request.user,
                    kgi=selectors.kgi_for(period),
                )
            except ValidationError as error:
                _attach(target_form, error)
            else:
                messages.success(request, _("Target saved."))
                return HttpResponseRedirect(request.get_full_path())
        status = 400
    context = {
        "period": period,
        "period_form": period_form,
        "view": view,
        "columns": columns,
        "rows": rows,
        "target_form": target_form,
        "can_plan": _can(request, "plan_kpis"),
        "kgi": selectors.kgi_for(period),
        "nav": _period_nav(request, period, "kpis:targets"),
        "query": request.GET.urlencode(),
    }
    return render_htmx(request, "kpis/targets.html", context, status=status)


# ============================================================================================ spend, rules


@tenant_permission_required("view")
def spend(request, slug):
    period_form, period = _plan_period(request)
    months = [p.start for p in period.sub_periods("month")]
    from .models import ChannelSpend

    raw = {
        (c, m): a for c, m, a in ChannelSpend.objects.filter(month__in=months).values_list("channel", "month", "amount")
    }
    amounts = {key: format_amount(value) for key, value in raw.items()}
    known = [h["channel"] for h in selectors.channel_history(months=24) if h["channel"]]
    channels = list(
        dict.fromkeys(
            [
                *known,
                *sorted({c for c, _m in amounts}),
                *(
                    [request.POST.get("new_channel").strip()]
                    if request.method == "POST" and (request.POST.get("new_channel") or "").strip()
                    else []
                ),
            ]
        )
    )
    if not channels:
        channels = list(selectors.channel_labels()) or DEFAULT_CHANNELS
    form = SpendForm(request.POST or None, channels=channels, months=months, initial_amounts=amounts)
    status = 200
    if request.method == "POST":
        if not _can(request, "plan_kpis"):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        if form.is_valid():
            try:
                changed = services.spend_save(entries=form.entries(), actor=request.user)
            except ValidationError as error:
                _attach(form, error)
            else:
                messages.success(request, _("Spend saved (%(count)s changes).") % {"count": changed})
                return HttpResponseRedirect(request.get_full_path())
        status = 400
    totals = {}
    for channel in channels:
        totals[channel] = sum((raw.get((channel, m)) or Decimal(0) for m in months), Decimal(0))
    context = {
        "period": period,
        "period_form": period_form,
        "form": form,
        "months": months,
        "totals": totals,
        "labels": selectors.channel_labels(),
        "can_plan": _can(request, "plan_kpis"),
        "nav": _period_nav(request, period, "kpis:spend"),
    }
    return render_htmx(request, "kpis/spend.html", context, status=status)


@tenant_permission_required("view")
def rules(request, slug):
    services.review_rules_ensure_defaults()
    rule_forms = []
    status = 200
    posted_rule = request.POST.get("rule") if request.method == "POST" else None
    current = selectors.kpi_settings()
    settings_form = KpiSettingsForm(
        request.POST if request.method == "POST" and request.POST.get("form") == "settings" else None,
        initial={
            "fiscal_year_start_month": current.fiscal_year_start_month,
            "follow_up_hours": current.follow_up_hours,
        },
    )
    if request.method == "POST" and not _can(request, "plan_kpis"):
        from django.core.exceptions import PermissionDenied

        raise PermissionDenied
    if settings_form.is_bound:
        if settings_form.is_valid():
            services.kpi_settings_update(actor=request.user, **settings_form.cleaned_data)
            messages.success(request, _("Settings saved."))
            return HttpResponseRedirect(request.path)
        status = 400
    for rule in selectors.review_rules():
        bound = posted_rule == str(rule.pk)
        form = ReviewRuleForm(
            request.POST if bound else None,
            prefix=f"rule{rule.pk}",
            initial={
                "is_active": rule.is_active,
                "period_type": rule.period_type,
                "consecutive_periods": rule.consecutive_periods,
                "change_percent": rule.change_percent,
                "kpis": rule.kpis,
                "notify_roles": rule.notify_roles,
            },
        )
        if bound:
            if form.is_valid():
                try:
                    services.review_rule_update(rule=rule, actor=request.user, **form.cleaned_data)
                except ValidationError as error:
                    _attach(form, error)
                    status = 400
                else:
                    messages.success(request, _("Review rule saved."))
                    return HttpResponseRedirect(request.path)
            else:
                status = 400
        rule_forms.append((rule, form))
    if posted_rule and not any(str(r.pk) == posted_rule for r, _f in rule_forms):
        raise Http404
    context = {
        "rule_forms": rule_forms,
        "settings_form": settings_form,
        "can_plan": _can(request, "plan_kpis"),
        "alerts": selectors.open_alerts(limit=20),
        "shared": SHARED,
        "kpi_choices": kpi_choices(),
        "rollup": selectors.rollup_status(),
    }
    return render_htmx(request, "kpis/rules.html", context, status=status)


def _attach(form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, messages_ in error.message_dict.items():
            for message in messages_:
                form.add_error(field if field in form.fields else None, message)
    else:
        for message in error.messages:
            form.add_error(None, message)


def _with_request_cache(view):
    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        with selectors.request_cache():
            return view(request, *args, **kwargs)

    return wrapped


for _name in (
    "dashboard",
    "review",
    "review_status",
    "export",
    "planner",
    "planner_calculate",
    "planner_save",
    "tree",
    "ksf_save",
    "ksf_delete",
    "targets",
    "spend",
    "rules",
):
    globals()[_name] = _with_request_cache(globals()[_name])
