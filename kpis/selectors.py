"""Reads: actuals from the rollup tables, targets, spend, review log; and the dashboard assembled
from them. Nothing here reads raw leads or activities except the hot-lead list (an indexed query).

Run inside a tenant scope.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q, Sum
from django.utils import timezone

from leads import selectors as leads_selectors
from leads.models import Lead
from tenants.context import require_tenant_id
from tenants.models import Tenant

from . import catalog
from .catalog import KPIS, PERCENT, SHARED
from .models import (
    ChannelSpend,
    Kgi,
    KpiSettings,
    KpiTarget,
    Ksf,
    PeriodRollup,
    ReviewAlert,
    ReviewLogEntry,
    ReviewRule,
    RollupLevel,
    RollupState,
)
from .periods import Period, local_today

Totals = dict[str, tuple[int, Decimal]]
ZERO = Decimal(0)


@dataclass(frozen=True)
class Filters:
    """Dashboard filters. `owner_id` 0 = unassigned, None = everyone."""

    channel: str = ""
    campaign: str = ""
    owner_id: int | None = None

    @property
    def any(self) -> bool:
        return bool(self.channel or self.campaign or self.owner_id is not None)

    def q(self, group_by: str | None = None) -> Q:
        """Rollup rows for these filters, at the cheapest pre-aggregated level that answers them
        (optionally grouped by one more dimension)."""
        dims = {
            name
            for name, on in (
                ("channel", bool(self.channel)),
                ("campaign", bool(self.campaign)),
                ("owner_id", self.owner_id is not None),
            )
            if on
        }
        if group_by:
            dims.add(group_by)
        q = Q(level=LEVEL_FOR_DIMENSIONS.get(frozenset(dims), RollupLevel.DETAIL))
        if self.channel:
            q &= Q(channel=self.channel)
        if self.campaign:
            q &= Q(campaign=self.campaign)
        if self.owner_id is not None:
            q &= Q(owner_id=self.owner_id)
        return q


NO_FILTERS = Filters()
LEVEL_FOR_DIMENSIONS = {
    frozenset(): RollupLevel.TOTAL,
    frozenset({"channel"}): RollupLevel.CHANNEL,
    frozenset({"campaign"}): RollupLevel.CAMPAIGN,
    frozenset({"owner_id"}): RollupLevel.OWNER,
    frozenset({"channel", "owner_id"}): RollupLevel.CHANNEL_OWNER,
}


# ----------------------------------------------------------------------------------------- settings

_memo: contextvars.ContextVar[dict | None] = contextvars.ContextVar("kpis_memo", default=None)


@contextlib.contextmanager
def request_cache():
    """Within the block, settings and timezone are read once (a page asks for them many times)."""
    token = _memo.set({})
    try:
        yield
    finally:
        _memo.reset(token)


def _memoized(key: str, compute):
    memo = _memo.get()
    if memo is None:
        return compute()
    full_key = (require_tenant_id(), key)
    if full_key not in memo:
        memo[full_key] = compute()
    return memo[full_key]


def kpi_settings() -> KpiSettings:
    """The tenant's KPI settings (defaults when none were saved)."""
    return _memoized("settings", lambda: KpiSettings.objects.first() or KpiSettings(tenant_id=require_tenant_id()))


def tenant_timezone() -> str:
    return _memoized(
        "timezone",
        lambda: Tenant.objects.only("timezone").get(pk=require_tenant_id()).timezone or settings.TIME_ZONE,
    )


def current_period(kind: str = "month", *, today: dt.date | None = None) -> Period:
    fiscal = kpi_settings().fiscal_year_start_month
    return Period.containing(kind, today or local_today(tenant_timezone()), fiscal)


# ----------------------------------------------------------------------------------------- actuals


def _rollup_keys(period: Period) -> list[tuple[str, dt.date]]:
    """Which PeriodRollup rows make up a period: its week, its month, or the months of a quarter/year."""
    if period.kind == "week":
        return [("week", period.start)]
    return [("month", m) for m in period.months()]


def totals_many(
    periods: list[Period], filters: Filters = NO_FILTERS, events: list[str] | None = None
) -> dict[Period, Totals]:
    """Event totals of several periods in one query."""
    owners: dict[tuple[str, dt.date], list[Period]] = defaultdict(list)
    for period in periods:
        for key in _rollup_keys(period):
            owners[key].append(period)
    out: dict[Period, Totals] = {p: {} for p in periods}
    if not owners:
        return out
    weeks = sorted({start for kind, start in owners if kind == "week"})
    months = sorted({start for kind, start in owners if kind == "month"})
    where = Q()
    if weeks:
        where |= Q(period_type="week", period_start__in=weeks)
    if months:
        where |= Q(period_type="month", period_start__in=months)
    rows = PeriodRollup.objects.filter(where).filter(filters.q())
    if events is not None:
        rows = rows.filter(event__in=events)
    for kind, start, event, count, value in (
        rows.values_list("period_type", "period_start", "event")
        .annotate(c=Sum("count"), v=Sum("value"))
        .values_list("period_type", "period_start", "event", "c", "v")
    ):
        for period in owners[(kind, start)]:
            c, v = out[period].get(event, (0, ZERO))
            out[period][event] = (c + int(count), v + Decimal(value))
    return out


def totals(period: Period, filters: Filters = NO_FILTERS) -> Totals:
    return totals_many([period], filters)[period]


def totals_by(
    period: Period, dimension: str, filters: Filters = NO_FILTERS, events: list[str] | None = None
) -> dict[str, Totals]:
    """Event totals of one period grouped by `channel` or `campaign` (or `owner_id`)."""
    keys = _rollup_keys(period)
    where = Q()
    for kind, start in keys:
        where |= Q(period_type=kind, period_start=start)
    rows = PeriodRollup.objects.filter(where).filter(filters.q(group_by=dimension))
    if events is not None:
        rows = rows.filter(event__in=events)
    out: dict[str, Totals] = defaultdict(dict)
    for dim, event, count, value in (
        rows.values_list(dimension, "event")
        .annotate(c=Sum("count"), v=Sum("value"))
        .values_list(dimension, "event", "c", "v")
    ):
        c, v = out[dim].get(event, (0, ZERO))
        out[dim][event] = (c + int(count), v + Decimal(value))
    return dict(out)


def lifetime_totals(filters: Filters = NO_FILTERS) -> Totals:
    """All-time totals of the events LTV needs."""
    rows = (
        PeriodRollup.objects.filter(period_type="month", event__in=["customer", "won", "won_priced"])
        .filter(filters.q())
        .values_list("event")
        .annotate(c=Sum("count"), v=Sum("value"))
        .values_list("event", "c", "v")
    )
    return {event: (int(c), Decimal(v)) for event, c, v in rows}


# ----------------------------------------------------------------------------------------- spend


def _spend_rows(months: list[dt.date], filters: Filters):
    rows = ChannelSpend.objects.filter(month__in=months)
    if filters.channel:
        rows = rows.filter(channel=filters.channel)
    return rows


def _prorate(period: Period, month: dt.date, amount: Decimal) -> Decimal:
    """A month's spend attributed to a period: all of it, or a week's share by days."""
    if period.kind != "week":
        return amount
    month_period = Period("month", month)
    days = sum(1 for i in range(7) if month_period.contains(period.start + dt.timedelta(days=i)))
    return amount * Decimal(days) / Decimal(month_period.days)


def spend_many(periods: list[Period], filters: Filters = NO_FILTERS) -> dict[Period, Decimal | None]:
    """Entered spend per period (None when nothing was entered, or when filtering by campaign or
    owner, which spend is not recorded against)."""
    if filters.campaign or filters.owner_id is not None:
        return {p: None for p in periods}
    months = sorted({m for p in periods for m in p.months()})
    by_month: dict[dt.date, Decimal] = defaultdict(lambda: ZERO)
    seen = set()
    for month, amount in _spend_rows(months, filters).values_list("month", "amount"):
        by_month[month] += amount
        seen.add(month)
    out = {}
    for period in periods:
        entered = [m for m in period.months() if m in seen]
        out[period] = sum((_prorate(period, m, by_month[m]) for m in entered), ZERO) if entered else None
    return out


def spend_by_channel(period: Period) -> dict[str, Decimal]:
    out: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for channel, month, amount in ChannelSpend.objects.filter(month__in=period.months()).values_list(
        "channel", "month", "amount"
    ):
        out[channel] += _prorate(period, month, amount)
    return dict(out)


# ----------------------------------------------------------------------------------------- KPI values


def kpi_values_many(periods: list[Period], filters: Filters = NO_FILTERS) -> dict[Period, dict[str, Decimal | None]]:
    all_totals = totals_many(periods, filters)
    spends = spend_many(periods, filters)
    return {p: catalog.compute(all_totals[p], spend=spends[p]) for p in periods}


def kpi_values(period: Period, filters: Filters = NO_FILTERS) -> dict[str, Decimal | None]:
    return kpi_values_many([period], filters)[period]


# ----------------------------------------------------------------------------------------- targets


def targets_many(periods: list[Period], channel: str = "") -> dict[Period, dict[str, Decimal]]:
    """Targets per period: the saved row for the period, else (additive KPIs) the sum of its
    months or weeks when all of them have one, else (rates) the target of the month, quarter or
    year containing it."""
    if not periods:
        return {}
    fiscal = periods[0].fiscal_start_month
    first = min(p.start for p in periods)
    last = max(p.end for p in periods)
    lo = Period.containing("year", first, fiscal).start
    rows = KpiTarget.objects.filter(channel=channel, period_start__gte=lo, period_start__lt=last).values_list(
        "kpi", "period_type", "period_start", "target_value"
    )
    saved: dict[tuple[str, dt.date], dict[str, Decimal]] = defaultdict(dict)
    for kpi, kind, start, value in rows:
        saved[(kind, start)][kpi] = value
    out: dict[Period, dict[str, Decimal]] = {}
    for period in periods:
        values = dict(saved.get((period.kind, period.start), {}))
        subs = period.sub_periods("month") if period.kind in ("quarter", "year") else []
        for code, kpi in KPIS.items():
            if code in values:
                continue
            if kpi.additive and subs:
                parts = [saved.get(("month", s.start), {}).get(code) for s in subs]
                if parts and all(p is not None for p in parts):
                    values[code] = sum(parts, ZERO)
            elif not kpi.additive:
                for kind in ("month", "quarter", "year"):
                    container = Period.containing(kind, period.start, fiscal)
                    value = saved.get((kind, container.start), {}).get(code)
                    if value is not None and kind != period.kind:
                        values[code] = value
                        break
        out[period] = values
    return out


def targets(period: Period, channel: str = "") -> dict[str, Decimal]:
    return targets_many([period], channel)[period]


def current_targets_summary(*, now: dt.datetime | None = None) -> dict:
    """For diagnostics: how many KPI targets the current month has, and how many of the shared
    KPIs (inquiries, MQLs, SQL rate, opportunities, revenue) are among them."""
    today = (now or timezone.now()).astimezone(ZoneInfo(tenant_timezone())).date()
    period = current_period("month", today=today)
    values = targets(period)
    return {
        "targets": len(values),
        "shared_kpis_with_target": sum(1 for code in SHARED if code in values),
        "shared_kpis_total": len(SHARED),
        "period": period.label,
    }


def nurture_period_days() -> int | None:
    """For diagnostics: the designed nurturing period = the target of the average nurturing period."""
    value = targets(current_period("month")).get("nurture_days")
    return int(value) if value is not None else None


# ----------------------------------------------------------------------------------------- plan, tree


def kgi_for(period: Period) -> Kgi | None:
    return _memoized(
        f"kgi:{period.key}", lambda: Kgi.objects.filter(period_type=period.kind, period_start=period.start).first()
    )


def kgi_covering(period: Period) -> Kgi | None:
    """The KGI of this period, else of the month, quarter or year containing it."""
    candidates = [period] + [
        Period.containing(kind, period.start, period.fiscal_start_month)
        for kind in ("month", "quarter", "year")
        if kind != period.kind
    ]
    for candidate in candidates:
        if candidate.start <= period.start and period.end <= candidate.end:
            kgi = kgi_for(candidate)
            if kgi is not None:
                return kgi
    return None


def kgis() -> list[Kgi]:
    return list(Kgi.objects.order_by("-period_start", "period_type")[:50])


def ksfs(kgi: Kgi) -> list[Ksf]:
    return list(Ksf.objects.filter(kgi=kgi).order_by("position", "id"))


def measured_rates(*, months: int = 12, minimum: int = 30, today: dt.date | None = None) -> dict[str, dict]:
    """The tenant's own conversion rates and deal size over the last `months` full months, with
    the sample they rest on; `enough` is False when the denominator is below `minimum`."""
    current = current_period("month", today=today)
    periods = [current.shift(-i) for i in range(1, months + 1)]
    merged: Totals = {}
    for totals_of in totals_many(periods).values():
        for event, (c, v) in totals_of.items():
            pc, pv = merged.get(event, (0, ZERO))
            merged[event] = (pc + c, pv + v)

    def count(event):
        return merged.get(event, (0, ZERO))[0]

    def rate(num, den):
        n, d = count(num), count(den)
        return {
            "value": (Decimal(n) * 100 / d).quantize(Decimal("0.1")) if d else None,
            "sample": d,
            "enough": d >= minimum,
        }

    revenue = merged.get("won", (0, ZERO))[1]
    priced = count("won_priced")
    return {
        "win_rate": rate("won", "opportunity"),
        "sql_to_opportunity_rate": rate("opportunity", "sql"),
        "mql_to_sql_rate": rate("sql", "mql"),
        "lead_to_mql_rate": rate("mql", "lead"),
        "avg_deal_size": {
            "value": (revenue / priced).quantize(Decimal(1)) if priced else None,
            "sample": priced,
            "enough": priced >= max(5, minimum // 6),
        },
        "months": months,
    }


def channel_history(*, months: int = 12, today: dt.date | None = None) -> list[dict]:
    """Each channel's share of leads and its cost per lead over the last `months` full months."""
    current = current_period("month", today=today)
    start = current.shift(-months).start
    rows = (
        PeriodRollup.objects.filter(
            period_type="month",
            level=RollupLevel.CHANNEL,
            event="lead",
            period_start__gte=start,
            period_start__lt=current.start,
        )
        .values_list("channel")
        .annotate(c=Sum("count"))
        .values_list("channel", "c")
    )
    leads = {channel: int(c) for channel, c in rows}
    total = sum(leads.values())
    spend = defaultdict(lambda: ZERO)
    spend_months = defaultdict(set)
    for channel, month, amount in ChannelSpend.objects.filter(month__gte=start, month__lt=current.start).values_list(
        "channel", "month", "amount"
    ):
        spend[channel] += amount
        spend_months[channel].add(month)
    out = []
    for channel in sorted(set(leads) | set(spend), key=lambda c: -leads.get(c, 0)):
        n = leads.get(channel, 0)
        # CPA only from months with spend entered (leads of those months).
        out.append(
            {
                "channel": channel,
                "leads": n,
                "share": (Decimal(n) * 100 / total).quantize(Decimal("0.1")) if total else None,
                "cpa": (spend[channel] / n).quantize(Decimal(1)) if n and spend[channel] else None,
            }
        )
    return out


def channel_labels() -> dict[str, str]:
    """Channel keys → labels (the tenant's channels, the default labels for keys it does not define)."""
    return leads_selectors.channel_display_labels()


def dimension_values(*, months: int = 24) -> dict[str, list[str]]:
    """Channels and campaigns seen in the last `months` months (for filter menus)."""
    start = current_period("month").shift(-months).start
    base = PeriodRollup.objects.filter(period_type="month", period_start__gte=start, event="lead")
    channels = sorted(
        c for c in base.filter(level=RollupLevel.CHANNEL).values_list("channel", flat=True).distinct() if c
    )
    campaigns = sorted(
        c for c in base.filter(level=RollupLevel.CAMPAIGN).values_list("campaign", flat=True).distinct() if c
    )
    return {"channels": channels, "campaigns": campaigns}


def members() -> list:
    from tenants.models import User

    return list(
        User.objects.filter(memberships__tenant_id=require_tenant_id(), is_active=True).order_by("name", "email")
    )


# ----------------------------------------------------------------------------------------- hot leads


HOT_CANDIDATES = 30
HOT_COUNT_CAP = 100
HOT_CACHE_SECONDS = 60


def hot_leads_awaiting(filters: Filters = NO_FILTERS, *, limit: int = 8, candidates: int = HOT_CANDIDATES) -> dict:
    """Hot leads in stage MQL (handed over to sales, not yet accepted) with their follow-up deadline.

    One query reads the hottest leads in score order through the segment index (fast with a million
    leads); the `candidates` hottest are shown most urgent first, and the count stops at
    HOT_COUNT_CAP (`capped`). Cached for a minute per tenant and filter, like the rollups' freshness.
    """
    # Filter values are free text (Japanese campaign names): hashed, so the key is safe for any cache backend.
    digest = hashlib.sha256(f"{filters.channel}\0{filters.campaign}\0{filters.owner_id}\0{limit}".encode()).hexdigest()
    key = f"kpis:hot:{require_tenant_id()}:{digest[:32]}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    hours = kpi_settings().follow_up_hours
    rows = Lead.objects.filter(segment="hot", stage="mql")
    if filters.channel:
        rows = rows.filter(channel=filters.channel)
    if filters.campaign:
        rows = rows.filter(campaign=filters.campaign)
    if filters.owner_id is not None:
        rows = rows.filter(owner_id=filters.owner_id or None)
    fields = (
        "id",
        "name",
        "email",
        "company",
        "channel",
        "campaign",
        "score_total",
        "stage_changed_at",
        "first_seen_at",
        "created_at",
        "owner__id",
        "owner__name",
        "owner__email",
    )
    found = list(rows.select_related("owner").only(*fields).order_by("-score_total", "-id")[: HOT_COUNT_CAP + 1])
    now = timezone.now()
    items = []
    for lead in found[:candidates]:
        since = lead.stage_changed_at or lead.first_seen_at or lead.created_at
        deadline = since + dt.timedelta(hours=hours)
        items.append(
            {
                "lead": lead,
                "since": since,
                "deadline": deadline,
                "overdue": deadline < now,
                "soon": now <= deadline < now + dt.timedelta(hours=12),
            }
        )
    items.sort(key=lambda item: (item["deadline"], -item["lead"].score_total))
    result = {
        "items": items[:limit],
        "total": min(len(found), HOT_COUNT_CAP),
        "capped": len(found) > HOT_COUNT_CAP,
        "hours": hours,
    }
    cache.set(key, result, HOT_CACHE_SECONDS)
    return result


# ----------------------------------------------------------------------------------------- review


def review_log(period: Period | None = None, *, limit: int = 200) -> list[ReviewLogEntry]:
    rows = ReviewLogEntry.objects.select_related("owner", "created_by")
    if period is not None:
        rows = rows.filter(period_type=period.kind, period_start=period.start)
    return list(rows.order_by("-created_at", "-id")[:limit])


def open_actions(*, limit: int = 50) -> list[ReviewLogEntry]:
    return list(ReviewLogEntry.objects.filter(status="open").select_related("owner").order_by("due_on", "id")[:limit])


def review_log_summary(*, since: dt.datetime, until: dt.datetime) -> dict:
    """For diagnostics: how many review decisions were logged in the window, and the latest."""
    rows = ReviewLogEntry.objects.filter(created_at__gte=since, created_at__lt=until)
    latest = rows.order_by("-created_at").values_list("created_at", flat=True).first()
    meetings = rows.values_list("period_type", "period_start").distinct().count()
    return {"reviews": meetings, "entries": rows.count(), "latest": latest}


def open_alerts(*, limit: int = 20) -> list[ReviewAlert]:
    return list(ReviewAlert.objects.filter(resolved_at__isnull=True).order_by("-created_at")[:limit])


def review_rules() -> list[ReviewRule]:
    return list(ReviewRule.objects.order_by("kind", "id"))


def rollup_status() -> RollupState | None:
    return RollupState.objects.first()


# ----------------------------------------------------------------------------------------- dashboard


@dataclass
class KpiLine:
    code: str
    label: str
    unit: str
    actual: Decimal | None
    previous: Decimal | None
    target: Decimal | None
    attainment: Decimal | None
    change: Decimal | None
    change_unit: str
    good: bool | None
    help: str = ""


def kpi_line(code: str, now: dict, before: dict, target: dict) -> KpiLine:
    kpi = KPIS[code]
    actual, previous, goal = now.get(code), before.get(code), target.get(code)
    change, unit = catalog.change(code, actual, previous)
    return KpiLine(
        code=code,
        label=str(kpi.label),
        unit=kpi.unit,
        actual=actual,
        previous=previous,
        target=goal,
        attainment=catalog.attainment(code, actual, goal),
        change=change,
        change_unit=unit,
        good=catalog.is_good_change(code, change),
        help=str(kpi.help),
    )


@dataclass
class Dashboard:
    period: Period
    previous: Period
    filters: Filters
    values: dict[str, Decimal | None]
    previous_values: dict[str, Decimal | None]
    targets: dict[str, Decimal]
    lines: dict[str, KpiLine]
    trend: list[dict]
    trend_kind: str
    channels: list[dict]
    campaigns: list[dict]
    nurturing: list[KpiLine]
    costs: list[KpiLine]
    benchmarks: list[dict]
    hot: dict
    alerts: list
    kgi: Kgi | None
    ltv: Decimal | None
    extra: dict = field(default_factory=dict)


def _row(label: str, key: str, t: Totals, spend: Decimal | None) -> dict:
    values = catalog.compute(t, spend=spend)
    return {
        "key": key,
        "label": label,
        "leads": int(values["leads"]),
        "mqls": int(values["mqls"]),
        "sqls": int(values["sqls"]),
        "opportunities": int(values["opportunities"]),
        "won": int(values["won_deals"]),
        "revenue": values["revenue"],
        "mql_to_sql_rate": values["mql_to_sql_rate"],
        "win_rate": values["win_rate"],
        "spend": spend,
        "cpa": values["cpa"],
        "cost_per_sql": values["cost_per_sql"],
        "cost_per_won": values["cost_per_won"],
    }


def dashboard(period: Period, filters: Filters = NO_FILTERS, *, trend_count: int = 12) -> Dashboard:
    """Everything the dashboard page shows, from the rollups (a handful of indexed queries)."""
    previous = period.previous()
    trend_kind = "week" if period.kind == "week" else "month"
    last_sub = Period.containing(trend_kind, period.end - dt.timedelta(days=1), period.fiscal_start_month)
    trend_periods = [last_sub.shift(-i) for i in range(trend_count - 1, -1, -1)]
    wanted = list(dict.fromkeys([period, previous, *trend_periods]))
    all_totals = totals_many(wanted, filters)
    spends = spend_many(wanted, filters)
    values_of = {p: catalog.compute(all_totals[p], spend=spends[p]) for p in wanted}
    lifetime = lifetime_totals(filters)
    ltv = catalog.compute({}, lifetime=lifetime)["ltv"]
    values_of[period]["ltv"] = ltv
    channel = filters.channel
    target_of = targets_many(list(dict.fromkeys([period, previous, *trend_periods])), channel=channel)
    now, before, goal = values_of[period], values_of[previous], target_of.get(period, {})
    lines = {code: kpi_line(code, now, before, goal) for code in KPIS}

    trend = []
    for p in trend_periods:
        v, t = values_of[p], target_of.get(p, {})
        trend.append(
            {
                "label": p.axis_label,
                "period": p,
                "leads": v["leads"],
                "mqls": v["mqls"],
                "mql_to_sql_rate": v["mql_to_sql_rate"],
                "opportunities": v["opportunities"],
                "revenue": v["revenue"],
                "t_mqls": t.get("mqls"),
                "t_leads": t.get("leads"),
                "t_mql_to_sql_rate": t.get("mql_to_sql_rate"),
                "t_opportunities": t.get("opportunities"),
                "t_revenue": t.get("revenue"),
            }
        )

    funnel_events = ["lead", "mql", "sql", "opportunity", "won", "won_priced"]
    labels = channel_labels()
    by_channel = totals_by(period, "channel", filters, events=funnel_events)
    spend_channels = spend_by_channel(period) if not (filters.campaign or filters.owner_id is not None) else {}
    if filters.channel:
        spend_channels = {k: v for k, v in spend_channels.items() if k == filters.channel}
    channel_rows = [
        _row(labels.get(key, key) or "—", key, by_channel.get(key, {}), spend_channels.get(key))
        for key in sorted(
            set(by_channel) | set(spend_channels), key=lambda k: -by_channel.get(k, {}).get("lead", (0,))[0]
        )
    ]
    by_campaign = totals_by(period, "campaign", filters, events=funnel_events)
    campaign_rows = sorted(
        (_row(key or "—", key, t, None) for key, t in by_campaign.items()),
        key=lambda r: (-r["leads"], -r["mqls"], r["label"]),
    )

    nurturing = [lines[c] for c in catalog.NURTURING if c != "ltv"]
    ltv_line = lines["ltv"]
    ltv_line.actual = ltv
    nurturing.append(ltv_line)
    costs = [lines[c] for c in ("spend", "cpa", "cost_per_sql", "cost_per_won")]
    return Dashboard(
        period=period,
        previous=previous,
        filters=filters,
        values=now,
        previous_values=before,
        targets=goal,
        lines=lines,
        trend=trend,
        trend_kind=trend_kind,
        channels=channel_rows,
        campaigns=campaign_rows[:15],
        nurturing=nurturing,
        costs=costs,
        benchmarks=benchmarks(now),
        hot=hot_leads_awaiting(filters),
        alerts=open_alerts(limit=5),
        kgi=kgi_covering(period),
        ltv=ltv,
        extra={"all_campaigns": campaign_rows},
    )


def benchmarks(values: dict[str, Decimal | None]) -> list[dict]:
    """The tenant's figures against the seeds' reference values, scaled for a band chart."""
    from .planning import REFERENCE_RANGES

    def band(code, label, unit, low, high, scale_max, example=None, text=""):
        value = values.get(code)

        def pos(x):
            return float(min(Decimal(x), scale_max) * 100 / scale_max) if x is not None else None

        inside = None
        if value is not None and low is not None and high is not None:
            inside = low <= value <= high
        elif value is not None and example is not None:
            inside = value >= example if KPIS[code].higher_is_better else value <= example
        return {
            "code": code,
            "label": label,
            "unit": unit,
            "value": value,
            "low": low,
            "high": high,
            "example": example,
            "text": text,
            "value_pos": pos(value),
            "low_pos": pos(low),
            "band_width": (pos(high) - pos(low)) if low is not None and high is not None else None,
            "example_pos": pos(example),
            "inside": inside,
            "scale_max": scale_max,
        }

    return [
        band(
            "mql_to_sql_rate",
            KPIS["mql_to_sql_rate"].label,
            PERCENT,
            Decimal(10),
            Decimal(30),
            Decimal(50),
            text=REFERENCE_RANGES["mql_to_sql_rate"]["text"],
        ),
        band(
            "email_open_rate",
            KPIS["email_open_rate"].label,
            PERCENT,
            Decimal(15),
            Decimal(25),
            Decimal(50),
            example=Decimal(20),
            text=REFERENCE_RANGES["email_open_rate"]["text"],
        ),
        band(
            "win_rate",
            KPIS["win_rate"].label,
            PERCENT,
            None,
            None,
            Decimal(50),
            example=Decimal(10),
            text=REFERENCE_RANGES["win_rate"]["text"],
        ),
        band(
            "cpa",
            KPIS["cpa"].label,
            "yen",
            Decimal(900),
            Decimal(15000),
            Decimal(20000),
            text=REFERENCE_RANGES["cpa"]["text"],
        ),
    ]
