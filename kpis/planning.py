"""Reverse calculation from the goal (KGI) down to leads and budget. Pure functions, no database.

    revenue ÷ average deal size          → won deals
    won deals ÷ win rate                  → opportunities
    opportunities ÷ SQL→opportunity rate  → SQLs
    SQLs ÷ MQL→SQL rate                   → MQLs
    MQLs ÷ lead→MQL rate                  → leads
    leads × channel share × channel CPA   → budget per channel

Counts are rounded up at every step (a plan needs whole deals). Rates are percentages. The seeds'
worked examples hold exactly: 10 wins at a 10 % win rate need 100 opportunities, and 100
opportunities at a 10 % rate need 1,000 leads in the stage before; ¥50億 with 1 % from the web is
¥5,000万 a year, ¥1,250万 a quarter.

Missing or zero rates never raise: the step and everything above it read "—" and `errors` says
which input to fix, in the user's language.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal, InvalidOperation

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .periods import Period

HUNDRED = Decimal(100)
MAX_COUNT = Decimal(10) ** 12  # beyond this a plan is a typo, not a plan
MAX_AMOUNT = Decimal(10) ** 15

RATE_FIELDS = ("win_rate", "sql_to_opportunity_rate", "mql_to_sql_rate", "lead_to_mql_rate")

# Assumptions when the tenant has too little history (editable in the planner).
DEFAULT_ASSUMPTIONS: dict[str, Decimal] = {
    "win_rate": Decimal("10"),  # seed 003's worked example
    "sql_to_opportunity_rate": Decimal("50"),
    "mql_to_sql_rate": Decimal("20"),  # middle of the 10–30 % reference range (seed 001)
    "lead_to_mql_rate": Decimal("20"),
}

# Reference values shown next to the inputs (seed articles 001, 003, 004).
REFERENCE_RANGES: dict[str, dict] = {
    "mql_to_sql_rate": {
        "low": Decimal("10"),
        "high": Decimal("30"),
        "text": gettext_lazy("Industry reference: 10–30 % (varies by industry and MQL definition)"),
    },
    "win_rate": {
        "low": None,
        "high": None,
        "example": Decimal("10"),
        "text": gettext_lazy("Worked example: 10 wins at 10 % need 100 opportunities"),
    },
    "sql_to_opportunity_rate": {
        "low": None,
        "high": None,
        "example": Decimal("10"),
        "text": gettext_lazy("Worked example: 100 opportunities at 10 % need 1,000 leads handed to sales"),
    },
    "lead_to_mql_rate": {"low": None, "high": None, "text": gettext_lazy("No common reference: use your own history")},
    "email_open_rate": {
        "low": None,
        "high": None,
        "example": Decimal("20"),
        "text": gettext_lazy("B2B newsletters: around 20 %"),
    },
    "cpa": {
        "low": Decimal("900"),
        "high": Decimal("15000"),
        "text": gettext_lazy("About ¥900–¥15,000 per lead depending on the channel"),
    },
    "web_share": {
        "low": None,
        "high": None,
        "example": Decimal("10"),
        "text": gettext_lazy(
            "About a tenth of company revenue from digital counts as a success (after about three years)"
        ),
    },
}

# Reference CPA per common channel key (seed 001's channel table); None = "varies / hard to measure".
CHANNEL_CPA_REFERENCE: dict[str, tuple[Decimal | None, Decimal | None, str]] = {
    "webinar": (
        Decimal("10000"),
        Decimal("15000"),
        gettext_lazy("Webinars: ¥10,000–¥15,000 per lead (co-hosting lowers it)"),
    ),
    "event": (Decimal("900"), None, gettext_lazy("Online conferences: ¥900 per lead in a successful case")),
    "conference": (Decimal("900"), None, gettext_lazy("Online conferences: ¥900 per lead in a successful case")),
    "ads": (None, None, gettext_lazy("Paid search: varies by industry")),
    "listing": (None, None, gettext_lazy("Paid search: varies by industry")),
    "seo": (None, None, gettext_lazy("SEO / content: hard to measure per lead (builds up over time)")),
    "email": (None, None, gettext_lazy("Email: low cost with your existing list")),
    "sns": (None, None, gettext_lazy("Social media: varies by campaign")),
    "social": (None, None, gettext_lazy("Social media: varies by campaign")),
}


@dataclass
class ChannelInput:
    channel: str
    share_percent: Decimal | None = None
    cpa: Decimal | None = None
    label: str = ""


@dataclass
class PlanInputs:
    goal_type: str = "revenue"  # "revenue" | "won_deals"
    revenue_target: Decimal | None = None
    company_revenue: Decimal | None = None
    web_share_percent: Decimal | None = None
    won_deals_target: Decimal | None = None
    avg_deal_size: Decimal | None = None
    win_rate: Decimal | None = None
    sql_to_opportunity_rate: Decimal | None = None
    mql_to_sql_rate: Decimal | None = None
    lead_to_mql_rate: Decimal | None = None
    channels: list[ChannelInput] = field(default_factory=list)

    def to_json(self) -> dict:
        def s(value):
            return None if value is None else str(value)

        return {
            "goal_type": self.goal_type,
            "revenue_target": s(self.revenue_target),
            "company_revenue": s(self.company_revenue),
            "web_share_percent": s(self.web_share_percent),
            "won_deals_target": s(self.won_deals_target),
            "avg_deal_size": s(self.avg_deal_size),
            **{name: s(getattr(self, name)) for name in RATE_FIELDS},
            "channels": [
                {"channel": c.channel, "label": c.label, "share_percent": s(c.share_percent), "cpa": s(c.cpa)}
                for c in self.channels
            ],
        }

    @classmethod
    def from_json(cls, data: dict) -> PlanInputs:
        def d(value):
            if value in (None, ""):
                return None
            try:
                return Decimal(str(value))
            except (InvalidOperation, ValueError):
                return None

        return cls(
            goal_type=data.get("goal_type") or "revenue",
            revenue_target=d(data.get("revenue_target")),
            company_revenue=d(data.get("company_revenue")),
            web_share_percent=d(data.get("web_share_percent")),
            won_deals_target=d(data.get("won_deals_target")),
            avg_deal_size=d(data.get("avg_deal_size")),
            **{name: d(data.get(name)) for name in RATE_FIELDS},
            channels=[
                ChannelInput(
                    channel=c.get("channel", ""),
                    label=c.get("label", ""),
                    share_percent=d(c.get("share_percent")),
                    cpa=d(c.get("cpa")),
                )
                for c in data.get("channels", [])
                if c.get("channel")
            ],
        )


@dataclass
class ChannelPlan:
    channel: str
    label: str
    share_percent: Decimal | None
    leads: int | None
    cpa: Decimal | None
    budget: Decimal | None


@dataclass
class PlanResult:
    revenue: Decimal | None = None
    won_deals: int | None = None
    opportunities: int | None = None
    sqls: int | None = None
    mqls: int | None = None
    leads: int | None = None
    avg_deal_size: Decimal | None = None
    rates: dict[str, Decimal | None] = field(default_factory=dict)
    channels: list[ChannelPlan] = field(default_factory=list)
    budget: Decimal | None = None
    share_total: Decimal | None = None
    errors: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def mql_to_opportunity_rate(self) -> Decimal | None:
        """The combined rate from MQL (hot lead) to opportunity, for the seed's "商談化率"."""
        a, b = self.rates.get("mql_to_sql_rate"), self.rates.get("sql_to_opportunity_rate")
        if a is None or b is None:
            return None
        return a * b / HUNDRED

    def targets(self) -> dict[str, Decimal]:
        """The KPI targets this plan sets for its whole period (only the computed ones)."""
        out: dict[str, Decimal] = {}
        for code, value in [
            ("revenue", self.revenue),
            ("won_deals", self.won_deals),
            ("opportunities", self.opportunities),
            ("sqls", self.sqls),
            ("mqls", self.mqls),
            ("leads", self.leads),
            ("avg_deal_size", self.avg_deal_size),
            ("spend", self.budget),
        ]:
            if value is not None:
                out[code] = Decimal(value)
        for code in RATE_FIELDS:
            if self.rates.get(code) is not None:
                out[code] = Decimal(self.rates[code])
        return out


# ------------------------------------------------------------------------------------------ steps


def ceil_int(value: Decimal) -> int:
    return int(Decimal(value).to_integral_value(rounding=ROUND_CEILING))


def revenue_from_share(company_revenue: Decimal, share_percent: Decimal) -> Decimal:
    """The web's part of the company goal: ¥50億 × 1 % = ¥5,000万."""
    return (Decimal(company_revenue) * Decimal(share_percent) / HUNDRED).quantize(Decimal(1), ROUND_HALF_UP)


def split_evenly(total: Decimal, parts: int) -> Decimal:
    """A period's target spread evenly over its sub-periods: ¥5,000万 ÷ 4 quarters = ¥1,250万."""
    return Decimal(total) / Decimal(parts)


def wins_needed(revenue: Decimal, avg_deal_size: Decimal) -> int:
    """Won deals needed for a revenue goal (rounded up)."""
    return ceil_int(Decimal(revenue) / Decimal(avg_deal_size))


def upstream(count: int | Decimal, rate_percent: Decimal) -> int:
    """How many are needed in the stage before, when `rate_percent` of them convert: 10 at 10 % → 100."""
    return ceil_int(Decimal(count) * HUNDRED / Decimal(rate_percent))


def channel_budget(leads: int, cpa: Decimal) -> Decimal:
    return Decimal(leads) * Decimal(cpa)


RATE_NAMES = {
    "win_rate": gettext_lazy("win rate"),
    "sql_to_opportunity_rate": gettext_lazy("opportunity rate (SQL → opportunity)"),
    "mql_to_sql_rate": gettext_lazy("MQL → SQL rate"),
    "lead_to_mql_rate": gettext_lazy("lead → MQL rate"),
}
RATE_UPSTREAM = {
    "win_rate": gettext_lazy("opportunities"),
    "sql_to_opportunity_rate": gettext_lazy("SQLs"),
    "mql_to_sql_rate": gettext_lazy("MQLs"),
    "lead_to_mql_rate": gettext_lazy("leads"),
}


def _rate_error(name: str, value: Decimal | None) -> str | None:
    if value is None:
        return _("Enter the %(rate)s.") % {"rate": RATE_NAMES[name]}
    if value <= 0:
        return _("The %(rate)s must be above 0 %% — at 0 %% no number of %(stage)s reaches the goal.") % {
            "rate": RATE_NAMES[name],
            "stage": RATE_UPSTREAM[name],
        }
    if value > HUNDRED:
        return _("The %(rate)s cannot be above 100 %%.") % {"rate": RATE_NAMES[name]}
    return None


def reverse_plan(inputs: PlanInputs) -> PlanResult:
    """The whole tree from the goal down to leads and budget. Never raises on bad numbers."""
    result = PlanResult()
    errors = result.errors

    # 1. The goal: revenue (direct, or company revenue × web share) or a number of won deals.
    if inputs.goal_type == "won_deals":
        wins = inputs.won_deals_target
        if wins is None:
            errors["won_deals_target"] = _("Enter the number of won deals to reach.")
        elif wins <= 0:
            errors["won_deals_target"] = _("The number of won deals must be above 0.")
        elif wins > MAX_COUNT:
            errors["won_deals_target"] = _("The number of won deals is too large.")
        else:
            result.won_deals = ceil_int(wins)
        if inputs.avg_deal_size is not None and inputs.avg_deal_size > 0 and result.won_deals is not None:
            result.avg_deal_size = inputs.avg_deal_size
            result.revenue = Decimal(result.won_deals) * inputs.avg_deal_size
    else:
        revenue = inputs.revenue_target
        if inputs.company_revenue is not None or inputs.web_share_percent is not None:
            if inputs.company_revenue is None or inputs.company_revenue <= 0:
                errors["company_revenue"] = _("Enter the company's revenue target (above ¥0).")
            elif inputs.web_share_percent is None or not (0 < inputs.web_share_percent <= 100):
                errors["web_share_percent"] = _("Enter the web's share of company revenue (above 0 %, at most 100 %).")
            else:
                revenue = revenue_from_share(inputs.company_revenue, inputs.web_share_percent)
        if revenue is None and not errors:
            errors["revenue_target"] = _("Enter the revenue target (or the company target and the web's share).")
        elif revenue is not None and revenue <= 0:
            errors["revenue_target"] = _("The revenue target must be above ¥0.")
        elif revenue is not None and revenue > MAX_AMOUNT:
            errors["revenue_target"] = _("The revenue target is too large.")
        elif revenue is not None:
            result.revenue = revenue
        if inputs.avg_deal_size is None:
            errors["avg_deal_size"] = _("Enter the average deal size.")
        elif inputs.avg_deal_size <= 0:
            errors["avg_deal_size"] = _("The average deal size must be above ¥0.")
        elif inputs.avg_deal_size > MAX_AMOUNT:
            errors["avg_deal_size"] = _("The average deal size is too large.")
        else:
            result.avg_deal_size = inputs.avg_deal_size
            if result.revenue is not None:
                result.won_deals = wins_needed(result.revenue, inputs.avg_deal_size)

    # 2. Up the funnel, one rate at a time; a bad rate stops the chain above it.
    chain = [
        ("win_rate", "won_deals", "opportunities"),
        ("sql_to_opportunity_rate", "opportunities", "sqls"),
        ("mql_to_sql_rate", "sqls", "mqls"),
        ("lead_to_mql_rate", "mqls", "leads"),
    ]
    for rate_name, below, above in chain:
        rate = getattr(inputs, rate_name)
        problem = _rate_error(rate_name, rate)
        if problem:
            errors[rate_name] = problem
            result.rates[rate_name] = None
        else:
            result.rates[rate_name] = rate
        count = getattr(result, below)
        if problem or count is None:
            continue
        needed = upstream(count, rate)
        if needed > MAX_COUNT:
            errors[rate_name] = _(
                "With this %(rate)s the plan needs more than a trillion %(stage)s; check the rate."
            ) % {"rate": RATE_NAMES[rate_name], "stage": RATE_UPSTREAM[rate_name]}
            continue
        setattr(result, above, needed)

    # 3. Channels: share of the leads and cost per lead → budget.
    _plan_channels(inputs, result)
    return result


def _plan_channels(inputs: PlanInputs, result: PlanResult) -> None:
    channels = [c for c in inputs.channels if c.channel]
    if not channels:
        return
    shares = [c.share_percent for c in channels if c.share_percent is not None]
    total = sum(shares, Decimal(0))
    result.share_total = total
    for index, c in enumerate(channels):
        if c.share_percent is not None and not (0 <= c.share_percent <= 100):
            result.errors[f"channel-{index}-share_percent"] = _("A share is between 0 % and 100 %.")
        if c.cpa is not None and (c.cpa < 0 or c.cpa > MAX_AMOUNT):
            result.errors[f"channel-{index}-cpa"] = _("Enter a cost per lead of ¥0 or more.")
    if shares and total != HUNDRED:
        result.errors["channels"] = _("Channel shares add up to %(total)s %%; make them add up to 100 %%.") % {
            "total": _number(total)
        }
    budget = Decimal(0)
    any_budget = False
    missing_cpa = []
    for c in channels:
        leads = None
        if result.leads is not None and c.share_percent is not None and 0 <= c.share_percent <= 100:
            leads = ceil_int(Decimal(result.leads) * c.share_percent / HUNDRED)
        cost = None
        if leads is not None and c.cpa is not None and c.cpa >= 0:
            cost = channel_budget(leads, c.cpa)
            budget += cost
            any_budget = True
        elif leads and c.cpa is None:
            missing_cpa.append(c.label or c.channel)
        result.channels.append(
            ChannelPlan(
                channel=c.channel,
                label=c.label or c.channel,
                share_percent=c.share_percent,
                leads=leads,
                cpa=c.cpa,
                budget=cost,
            )
        )
    if any_budget:
        result.budget = budget
    if missing_cpa:
        result.warnings.append(
            _("The budget leaves out channels without a cost per lead: %(channels)s.")
            % {"channels": "、".join(missing_cpa)}
        )


def _number(value: Decimal) -> str:
    text = f"{Decimal(value):,.1f}"
    return text[:-2] if text.endswith(".0") else text


# ------------------------------------------------------------------------------------------ breakdown


def breakdown(total: Decimal, period: Period, kind: str) -> list[tuple[Period, Decimal]]:
    """Spread an additive target of `period` over its sub-periods of `kind`.

    Months (and quarters) get equal shares — ¥5,000万 a year is ¥1,250万 a quarter. Weeks get the
    sum of their days' shares of the month they fall in, counting only days inside `period`, so
    weeks straddling the edges get a part and all weeks add up to the total.
    """
    total = Decimal(total)
    if kind == period.kind:
        return [(period, total)]
    if kind in ("quarter", "month"):
        parts = period.sub_periods(kind)
        return [(p, split_evenly(total, len(parts))) for p in parts]
    if kind != "week":
        raise ValueError(kind)
    months = period.sub_periods("month") if period.kind != "week" else [Period("month", period.start.replace(day=1))]
    per_month = split_evenly(total, len(months))
    daily = {m.start: per_month / Decimal(m.days) for m in months}
    out = []
    for week in period.sub_periods("week"):
        amount = Decimal(0)
        for offset in range(7):
            day = week.start + dt.timedelta(days=offset)
            if period.contains(day):
                amount += daily[day.replace(day=1)]
        out.append((week, amount))
    return out


def week_share_of_months(week: Period, month_targets: dict[dt.date, Decimal]) -> Decimal | None:
    """A week's part of the monthly targets it touches (each day = month target ÷ days in month).

    Returns None when a month the week touches has no target.
    """
    amount = Decimal(0)
    for offset in range(7):
        day = week.start + dt.timedelta(days=offset)
        month = Period("month", day.replace(day=1))
        if month.start not in month_targets:
            return None
        amount += Decimal(month_targets[month.start]) / Decimal(month.days)
    return amount
