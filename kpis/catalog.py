"""The KPIs Ondo measures: codes, labels, units, which direction is good, and how each one is
computed from rollup event totals. Pure (no database): `compute()` takes totals and returns values.

Rates are in percent (18.5 means 18.5 %); amounts in JPY; periods in days.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext_lazy as _

COUNT, YEN, PERCENT, DAYS = "count", "yen", "percent", "days"
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class KpiDef:
    code: str
    label: str
    unit: str
    higher_is_better: bool | None  # None: neither (e.g. spend)
    additive: bool  # a period's value is the sum of its sub-periods'
    group: str
    help: str = ""


KPIS: dict[str, KpiDef] = {
    k.code: k
    for k in [
        KpiDef("leads", _("Inquiries (leads acquired)"), COUNT, True, True, "funnel", _("New leads by first touch.")),
        KpiDef("mqls", _("MQLs"), COUNT, True, True, "funnel", _("Leads that first became MQL (or beyond).")),
        KpiDef("sqls", _("SQLs"), COUNT, True, True, "funnel", _("Leads sales first accepted (SQL or beyond).")),
        KpiDef(
            "opportunities",
            _("Opportunities"),
            COUNT,
            True,
            True,
            "funnel",
            _("Leads that first became an opportunity."),
        ),
        KpiDef("won_deals", _("Won deals"), COUNT, True, True, "funnel", _("Deals recorded as won.")),
        KpiDef("revenue", _("Revenue won"), YEN, True, True, "funnel", _("Sum of the amounts of won deals.")),
        KpiDef("lead_to_mql_rate", _("Lead → MQL rate"), PERCENT, True, False, "funnel", _("MQLs ÷ leads.")),
        KpiDef("mql_to_sql_rate", _("SQL rate (MQL → SQL)"), PERCENT, True, False, "funnel", _("SQLs ÷ MQLs.")),
        KpiDef(
            "sql_to_opportunity_rate",
            _("Opportunity rate (SQL → opportunity)"),
            PERCENT,
            True,
            False,
            "funnel",
            _("Opportunities ÷ SQLs."),
        ),
        KpiDef("win_rate", _("Win rate"), PERCENT, True, False, "funnel", _("Won deals ÷ opportunities.")),
        KpiDef(
            "avg_deal_size",
            _("Average deal size"),
            YEN,
            True,
            False,
            "funnel",
            _("Revenue ÷ won deals with an amount."),
        ),
        KpiDef(
            "nurture_days",
            _("Average nurturing period"),
            DAYS,
            False,
            False,
            "funnel",
            _("Days from first touch to the first won deal."),
        ),
        KpiDef(
            "ltv",
            _("LTV (revenue per customer, all time)"),
            YEN,
            True,
            False,
            "funnel",
            _("All won amounts ÷ customers, where amounts are entered."),
        ),
        KpiDef(
            "email_open_rate",
            _("Email open rate"),
            PERCENT,
            True,
            False,
            "nurturing",
            _("Opens ÷ emails sent (needs sends to be ingested)."),
        ),
        KpiDef(
            "email_click_rate",
            _("Email click rate"),
            PERCENT,
            True,
            False,
            "nurturing",
            _("Clicks ÷ emails sent (needs sends to be ingested)."),
        ),
        KpiDef("downloads", _("Downloads"), COUNT, True, True, "nurturing", _("White papers and other downloads.")),
        KpiDef(
            "document_requests",
            _("Document requests & inquiries"),
            COUNT,
            True,
            True,
            "nurturing",
            _("Submitted forms, document and demo requests."),
        ),
        KpiDef(
            "webinar_attendance_rate",
            _("Webinar attendance rate"),
            PERCENT,
            True,
            False,
            "nurturing",
            _("Attended ÷ registered."),
        ),
        KpiDef(
            "survey_response_rate",
            _("Survey response rate"),
            PERCENT,
            True,
            False,
            "nurturing",
            _("Survey answers ÷ webinar attendances."),
        ),
        KpiDef(
            "meeting_rate",
            _("Meeting rate"),
            PERCENT,
            True,
            False,
            "nurturing",
            _("Leads with a first meeting ÷ leads acquired."),
        ),
        KpiDef("spend", _("Spend"), YEN, None, True, "cost", _("Entered per channel and month.")),
        KpiDef("cpa", _("CPA (cost per lead)"), YEN, False, False, "cost", _("Spend ÷ leads.")),
        KpiDef("cost_per_sql", _("Cost per SQL"), YEN, False, False, "cost", _("Spend ÷ SQLs.")),
        KpiDef("cost_per_won", _("Cost per won deal"), YEN, False, False, "cost", _("Spend ÷ won deals.")),
    ]
}

FUNNEL_COUNTS = ["leads", "mqls", "sqls", "opportunities", "won_deals"]
FUNNEL_RATES = ["lead_to_mql_rate", "mql_to_sql_rate", "sql_to_opportunity_rate", "win_rate"]
NURTURING = [
    "email_open_rate",
    "email_click_rate",
    "downloads",
    "document_requests",
    "webinar_attendance_rate",
    "survey_response_rate",
    "meeting_rate",
    "win_rate",
    "nurture_days",
    "ltv",
]
SHARED = ["leads", "mqls", "mql_to_sql_rate", "opportunities", "revenue"]
PLANNED = [
    "revenue",
    "won_deals",
    "opportunities",
    "sqls",
    "mqls",
    "leads",
    "avg_deal_size",
    "win_rate",
    "sql_to_opportunity_rate",
    "mql_to_sql_rate",
    "lead_to_mql_rate",
    "spend",
]

# Activity types counted by the rollups (others are ignored to keep the rollups small).
ACTIVITY_TYPES = (
    "email_send",
    "email_open",
    "email_click",
    "download",
    "page_view",
    "pricing_view",
    "form_start",
    "form_submit",
    "document_request",
    "webinar_register",
    "webinar_attend",
    "survey_answer",
    "demo_request",
    "meeting",
)
DOCUMENT_REQUEST_TYPES = ("form_submit", "document_request", "demo_request")


def kpi_choices() -> list[tuple[str, str]]:
    return [(k.code, k.label) for k in KPIS.values()]


def is_good_change(code: str, change: Decimal | None) -> bool | None:
    """Is a change of this KPI good news? None when neutral or unknown."""
    kpi = KPIS.get(code)
    if kpi is None or change is None or change == 0 or kpi.higher_is_better is None:
        return None
    return (change > 0) == kpi.higher_is_better


def _ratio(numerator, denominator, scale: Decimal = HUNDRED) -> Decimal | None:
    if not denominator:
        return None
    return Decimal(numerator) * scale / Decimal(denominator)


Totals = Mapping[str, tuple[int, Decimal]]


def compute(
    totals: Totals, *, spend: Decimal | None = None, lifetime: Totals | None = None
) -> dict[str, Decimal | None]:
    """KPI values from event totals `{event: (count, value)}` of one period.

    `spend` is the entered spend for the same period and filters (None: nothing entered);
    `lifetime` are all-time totals for LTV.
    """

    def c(event: str) -> int:
        return int(totals.get(event, (0, 0))[0])

    def v(event: str) -> Decimal:
        return Decimal(totals.get(event, (0, 0))[1])

    leads, mqls, sqls, opps, won = c("lead"), c("mql"), c("sql"), c("opportunity"), c("won")
    revenue = v("won")
    sends = c("act:email_send")
    out: dict[str, Decimal | None] = {
        "leads": Decimal(leads),
        "mqls": Decimal(mqls),
        "sqls": Decimal(sqls),
        "opportunities": Decimal(opps),
        "won_deals": Decimal(won),
        "revenue": revenue,
        "lead_to_mql_rate": _ratio(mqls, leads),
        "mql_to_sql_rate": _ratio(sqls, mqls),
        "sql_to_opportunity_rate": _ratio(opps, sqls),
        "win_rate": _ratio(won, opps),
        "avg_deal_size": _ratio(revenue, c("won_priced"), Decimal(1)),
        "nurture_days": _ratio(v("customer"), c("customer"), Decimal(1)),
        "email_open_rate": _ratio(c("act:email_open"), sends),
        "email_click_rate": _ratio(c("act:email_click"), sends),
        "downloads": Decimal(c("act:download")),
        "document_requests": Decimal(sum(c(f"act:{t}") for t in DOCUMENT_REQUEST_TYPES)),
        "webinar_attendance_rate": _ratio(c("act:webinar_attend"), c("act:webinar_register")),
        "survey_response_rate": _ratio(c("act:survey_answer"), c("act:webinar_attend")),
        "meeting_rate": _ratio(c("meeting_lead"), leads),
        "spend": spend,
        "cpa": _ratio(spend, leads, Decimal(1)) if spend is not None else None,
        "cost_per_sql": _ratio(spend, sqls, Decimal(1)) if spend is not None else None,
        "cost_per_won": _ratio(spend, won, Decimal(1)) if spend is not None else None,
        "ltv": None,
    }
    if lifetime is not None:
        customers = int(lifetime.get("customer", (0, 0))[0])
        priced = int(lifetime.get("won_priced", (0, 0))[0])
        if priced:
            out["ltv"] = _ratio(Decimal(lifetime.get("won", (0, 0))[1]), customers, Decimal(1))
    return out


def attainment(code: str, actual: Decimal | None, target: Decimal | None) -> Decimal | None:
    """Actual as a percentage of target (inverted for KPIs where lower is better)."""
    if actual is None or target is None:
        return None
    kpi = KPIS.get(code)
    if kpi is not None and kpi.higher_is_better is False:
        if not actual:
            return None
        return Decimal(target) * HUNDRED / Decimal(actual)
    if not target:
        return None
    return Decimal(actual) * HUNDRED / Decimal(target)


def change(code: str, now: Decimal | None, before: Decimal | None) -> tuple[Decimal | None, str]:
    """Change from the previous period: points for rates ("pt"), percent otherwise ("%")."""
    if now is None or before is None:
        return None, ""
    kpi = KPIS.get(code)
    if kpi is not None and kpi.unit == PERCENT:
        return Decimal(now) - Decimal(before), "pt"
    if not before:
        return None, "%"
    return (Decimal(now) - Decimal(before)) * HUNDRED / Decimal(before), "%"
