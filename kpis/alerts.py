"""Review rules, evaluated on closed periods (Celery beat, daily).

- "missed": a KPI below its target (above, where lower is better) for N consecutive closed periods
  → "review this KPI". One occurrence per streak: it fires when the streak reaches N and not again
  while the streak lasts; a new streak after a hit fires again.
- "moved": a KPI that changed by the threshold or more against the period before → "analyse the
  cause". One occurrence per KPI and period.

An occurrence is a `ReviewAlert` row (unique per rule, KPI and occurrence start), so a retried or
duplicated run notifies nobody twice; `tenants.services.notify` adds its own dedupe key as well.
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.urls import NoReverseMatch, reverse
from django.utils import translation
from django.utils.translation import gettext as _

from tenants.context import require_tenant_id
from tenants.models import Tenant
from tenants.services import members_with_role, notify

from . import selectors
from .catalog import KPIS, PERCENT, SHARED
from .models import ReviewAlert, ReviewRule, RuleKind
from .periods import Period, last_closed, local_today
from .services import review_rules_ensure_defaults

logger = logging.getLogger("ondo.kpis")
MAX_STREAK = 24


def _format(code: str, value: Decimal | None) -> str:
    if value is None:
        return "—"
    unit = KPIS[code].unit
    if unit == PERCENT:
        return f"{value:.1f}%"
    if unit == "yen":
        return f"¥{value:,.0f}"
    if unit == "days":
        return _("%(days)s days") % {"days": f"{value:.1f}"}
    return f"{value:,.0f}" if value == value.to_integral_value() else f"{value:,.1f}"


def _missed(code: str, actual: Decimal | None, target: Decimal | None) -> bool | None:
    if actual is None or target is None:
        return None
    if KPIS[code].higher_is_better is False:
        return actual > target
    return actual < target


def evaluate(*, today: dt.date | None = None) -> list[ReviewAlert]:
    """Evaluate the active tenant's rules on its last closed periods; returns the new alerts."""
    review_rules_ensure_defaults()
    settings_row = selectors.kpi_settings()
    today = today or local_today(selectors.tenant_timezone())
    fired: list[ReviewAlert] = []
    for rule in ReviewRule.objects.filter(is_active=True).order_by("id"):
        kind = rule.period_type if rule.period_type in ("week", "month", "quarter") else "month"
        latest = last_closed(kind, today, settings_row.fiscal_year_start_month)
        if rule.kind == RuleKind.MISSED:
            fired += _evaluate_missed(rule, latest)
        else:
            fired += _evaluate_moved(rule, latest)
    return fired


def _evaluate_missed(rule: ReviewRule, latest: Period) -> list[ReviewAlert]:
    n = max(1, rule.consecutive_periods)
    history = [latest.shift(-i) for i in range(MAX_STREAK)]
    values = selectors.kpi_values_many(history)
    goals = selectors.targets_many(history)
    codes = rule.kpis or sorted({code for code in goals.get(latest, {}) if code in KPIS and code != "spend"})
    out = []
    for code in codes:
        streak = 0
        for period in history:
            if _missed(code, values[period].get(code), goals[period].get(code)):
                streak += 1
            else:
                break
        if streak < n:
            continue
        start = history[streak - 1]
        data = {"streak": streak, "actual": str(values[latest].get(code)), "target": str(goals[latest].get(code))}
        alert = _fire(rule, code, start, latest, data)
        if alert is not None:
            out.append(alert)
    return out


def _evaluate_moved(rule: ReviewRule, latest: Period) -> list[ReviewAlert]:
    before = latest.previous()
    values = selectors.kpi_values_many([latest, before])
    codes = rule.kpis or SHARED
    threshold = Decimal(rule.change_percent)
    out = []
    for code in codes:
        now, prev = values[latest].get(code), values[before].get(code)
        if now is None or not prev:
            continue
        change = (Decimal(now) - Decimal(prev)) * 100 / abs(Decimal(prev))
        if abs(change) < threshold:
            continue
        data = {"actual": str(now), "previous": str(prev), "change_percent": f"{change:.1f}"}
        alert = _fire(rule, code, latest, latest, data)
        if alert is not None:
            out.append(alert)
    return out


def _fire(rule: ReviewRule, code: str, start: Period, latest: Period, data: dict) -> ReviewAlert | None:
    """Create the occurrence and notify, once. Returns None when it had already fired."""
    if ReviewAlert.objects.filter(rule=rule, kpi=code, occurrence_start=start.start).exists():
        return None
    try:
        with transaction.atomic():
            alert = ReviewAlert.objects.create(
                rule=rule,
                kind=rule.kind,
                kpi=code,
                period_type=latest.kind,
                occurrence_start=start.start,
                last_period_start=latest.start,
                data=data,
            )
    except IntegrityError:  # a concurrent run fired it first
        return None
    tenant = Tenant.objects.get(pk=require_tenant_id())
    with translation.override(tenant.default_language):
        title, body = alert_text(alert)
    recipients = members_with_role(*(rule.notify_roles or ["admin", "marketing", "sales"]))
    notify(
        recipients=recipients,
        kind="kpi_review",
        title=title,
        body=body,
        url=_review_url(tenant, latest),
        dedupe_key=f"kpis.alert:{alert.pk}",
    )
    return alert


def alert_text(alert: ReviewAlert) -> tuple[str, str]:
    """Title and body of an alert in the active language."""
    code = alert.kpi
    label = KPIS[code].label if code in KPIS else code
    period = Period(alert.period_type, alert.last_period_start)
    data = alert.data or {}

    def dec(key):
        value = data.get(key)
        try:
            return Decimal(value) if value not in (None, "None") else None
        except ArithmeticError:
            return None

    if alert.kind == RuleKind.MISSED:
        title = _("Review this KPI: %(kpi)s missed its target %(n)s periods in a row") % {
            "kpi": label,
            "n": data.get("streak", ""),
        }
        body = _(
            "%(period)s: actual %(actual)s against a target of %(target)s. The rule asks to review the KPI "
            "and how it is pursued (and to record the decision in the review log)."
        ) % {"period": period.label, "actual": _format(code, dec("actual")), "target": _format(code, dec("target"))}
    else:
        title = _("Analyse the cause: %(kpi)s moved %(change)s%% against the period before") % {
            "kpi": label,
            "change": data.get("change_percent", ""),
        }
        body = _(
            "%(period)s: %(actual)s, the period before %(previous)s. Look for the cause before the next review meeting."
        ) % {"period": period.label, "actual": _format(code, dec("actual")), "previous": _format(code, dec("previous"))}
    return title, body


def alert_headline(alert: ReviewAlert) -> str:
    """The alert without its "Review this KPI" / "Analyse the cause" prefix (shown as a badge)."""
    code = alert.kpi
    label = KPIS[code].label if code in KPIS else code
    data = alert.data or {}
    if alert.kind == RuleKind.MISSED:
        return _("%(kpi)s missed its target %(n)s periods in a row") % {"kpi": label, "n": data.get("streak", "")}
    return _("%(kpi)s moved %(change)s%% against the period before") % {
        "kpi": label,
        "change": data.get("change_percent", ""),
    }


def _review_url(tenant: Tenant, period: Period) -> str:
    try:
        base = reverse("kpis:review", args=[tenant.slug])
    except NoReverseMatch:  # pragma: no cover
        return ""
    return f"{base}?period={period.kind}&date={period.start.isoformat()}"
