"""Writes of the KPI app: the plan (KGI + targets), KSFs, manual targets, channel spend, settings,
review rules and the review log. Keyword-only, one transaction each, audited. Run in a tenant scope.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tenants.models import Role, User
from tenants.services import audit_record

from .catalog import KPIS, PLANNED
from .models import (
    ChannelSpend,
    Kgi,
    KpiSettings,
    KpiTarget,
    Ksf,
    ReviewAlert,
    ReviewLogEntry,
    ReviewRule,
    ReviewStatus,
    RuleKind,
    TargetSource,
)
from .periods import Period
from .planning import PlanInputs, PlanResult, reverse_plan

TARGET_PLACES = Decimal("0.0001")
DEFAULT_NOTIFY_ROLES = [Role.ADMIN, Role.MARKETING, Role.SALES]


def _q(value: Decimal) -> Decimal:
    return Decimal(value).quantize(TARGET_PLACES)


# ------------------------------------------------------------------------------------------ settings


@transaction.atomic
def kpi_settings_update(*, actor: User | None, fiscal_year_start_month: int, follow_up_hours: int) -> KpiSettings:
    if not 1 <= int(fiscal_year_start_month) <= 12:
        raise ValidationError({"fiscal_year_start_month": _("Choose a month between 1 and 12.")})
    if not 1 <= int(follow_up_hours) <= 720:
        raise ValidationError({"follow_up_hours": _("Enter between 1 and 720 hours.")})
    settings_row, _created = KpiSettings.objects.get_or_create()
    settings_row.fiscal_year_start_month = int(fiscal_year_start_month)
    settings_row.follow_up_hours = int(follow_up_hours)
    settings_row.save()
    audit_record(
        action="kpis.settings_updated",
        actor=actor,
        data={
            "fiscal_year_start_month": settings_row.fiscal_year_start_month,
            "follow_up_hours": settings_row.follow_up_hours,
        },
    )
    return settings_row


# ------------------------------------------------------------------------------------------ the plan


def plan_targets(period: Period, result: PlanResult) -> dict[tuple[str, str, str, dt.date], Decimal]:
    """Every target row a plan sets: {(kpi, channel, period_type, start): value} for the period, its
    quarters and months (additive KPIs split evenly, rates repeated), per channel for leads and spend."""
    totals = result.targets()
    per_channel: dict[str, dict[str, Decimal]] = {}
    for row in result.channels:
        values = {}
        if row.leads is not None:
            values["leads"] = Decimal(row.leads)
        if row.budget is not None:
            values["spend"] = row.budget
        if values:
            per_channel[row.channel] = values
    out: dict[tuple[str, str, str, dt.date], Decimal] = {}
    kinds = [period.kind] + [k for k in ("quarter", "month") if k != period.kind and _sub_periods_of(period, k)]
    for kind in kinds:
        subs = [period] if kind == period.kind else period.sub_periods(kind)
        for channel, values in [("", totals), *per_channel.items()]:
            for code, value in values.items():
                if not KPIS[code].additive:
                    amounts = [_q(value)] * len(subs)
                else:
                    # Even split (the seed: ¥5,000万 a year → ¥1,250万 a quarter); the last part takes
                    # the rounding remainder so the parts add up to the total exactly.
                    amounts = [_q(Decimal(value) / len(subs))] * len(subs)
                    amounts[-1] = _q(Decimal(value)) - sum(amounts[:-1], Decimal(0))
                for sub, amount in zip(subs, amounts, strict=True):
                    out[(code, channel, kind, sub.start)] = amount
    return out


def _sub_periods_of(period: Period, kind: str) -> bool:
    return (period.kind == "year" and kind in ("quarter", "month")) or (period.kind == "quarter" and kind == "month")


def _week_targets(period: Period, month_rows: dict[tuple[str, str, dt.date], Decimal]) -> dict:
    """Weekly targets for the weeks touching `period`, from the month targets of the days in each
    week (a month's target spread evenly over its days); rates from the month holding the week's
    Thursday (ISO weeks)."""
    out = {}
    keys = {(code, channel) for code, channel, _month in month_rows}
    for week in period.sub_periods("week"):
        for code, channel in keys:
            kpi = KPIS[code]
            if kpi.additive:
                amount, known = Decimal(0), False
                for offset in range(7):
                    day = week.start + dt.timedelta(days=offset)
                    month = Period("month", day.replace(day=1))
                    value = month_rows.get((code, channel, month.start))
                    if value is not None:
                        amount += value / Decimal(month.days)
                        known = True
                if known:
                    out[(code, channel, "week", week.start)] = _q(amount)
            else:
                thursday = week.start + dt.timedelta(days=3)
                value = month_rows.get((code, channel, thursday.replace(day=1)))
                if value is not None:
                    out[(code, channel, "week", week.start)] = _q(value)
    return out


@transaction.atomic
def plan_save(*, period: Period, inputs: PlanInputs, actor: User | None, title: str = "") -> Kgi:
    """Save the plan as the period's KGI and KPI targets (period, quarters, months, weeks; per
    channel for leads and spend). Raises ValidationError (nothing saved) if the plan has errors."""
    if period.kind == "week":
        raise ValidationError({"period": _("Plan a month, a quarter or a year.")})
    result = reverse_plan(inputs)
    if result.errors:
        raise ValidationError(result.errors)
    goal_value = result.revenue if inputs.goal_type == "revenue" else Decimal(result.won_deals or 0)
    kgi, created = Kgi.objects.update_or_create(
        period_type=period.kind,
        period_start=period.start,
        defaults={
            "title": title.strip()[:200],
            "goal_type": inputs.goal_type,
            "target_value": goal_value or 0,
            "company_revenue_target": inputs.company_revenue,
            "web_share_percent": inputs.web_share_percent,
            "plan_inputs": inputs.to_json(),
            "updated_by": actor,
        },
    )
    if created:
        kgi.created_by = actor
        kgi.save(update_fields=["created_by"])
    rows = plan_targets(period, result)
    month_rows = {
        (code, channel, start): value for (code, channel, kind, start), value in rows.items() if kind == "month"
    }
    # Neighbouring months already planned (another KGI) complete the weeks that straddle the edges.
    edge_months = {w.start.replace(day=1) for w in period.sub_periods("week")} | {
        (w.end - dt.timedelta(days=1)).replace(day=1) for w in period.sub_periods("week")
    }
    for code, channel, start, value in (
        KpiTarget.objects.filter(period_type="month", period_start__in=edge_months)
        .exclude(period_start__gte=period.start, period_start__lt=period.end)
        .values_list("kpi", "channel", "period_start", "target_value")
    ):
        month_rows.setdefault((code, channel, start), value)
    rows.update(_week_targets(period, month_rows))

    # Replace this plan's rows inside the period (and the straddling weeks); keep manual targets.
    first_week = period.sub_periods("week")[0].start
    stale = KpiTarget.objects.filter(
        source=TargetSource.PLANNER, period_start__gte=first_week, period_start__lt=period.end, kpi__in=PLANNED
    )
    keep = set(rows)
    stale_ids = [
        pk
        for pk, code, channel, kind, start in stale.values_list("pk", "kpi", "channel", "period_type", "period_start")
        if (code, channel, kind, start) not in keep and _inside(kind, start, period)
    ]
    KpiTarget.objects.filter(pk__in=stale_ids).delete()
    existing = {
        (t.kpi, t.channel, t.period_type, t.period_start): t
        for t in KpiTarget.objects.filter(period_start__gte=first_week, period_start__lt=period.end)
    }
    creates, updates = [], []
    for (code, channel, kind, start), value in rows.items():
        row = existing.get((code, channel, kind, start))
        if row is None:
            creates.append(
                KpiTarget(
                    kgi=kgi,
                    kpi=code,
                    channel=channel,
                    period_type=kind,
                    period_start=start,
                    target_value=value,
                    source=TargetSource.PLANNER,
                )
            )
        elif row.target_value != value or row.kgi_id != kgi.pk or row.source != TargetSource.PLANNER:
            row.target_value, row.kgi, row.source = value, kgi, TargetSource.PLANNER
            updates.append(row)
    KpiTarget.objects.bulk_create(creates, batch_size=1000)
    KpiTarget.objects.bulk_update(updates, ["target_value", "kgi", "source", "updated_at"], batch_size=1000)
    audit_record(
        action="kpis.plan_saved",
        actor=actor,
        target=period.key,
        data={"goal_type": inputs.goal_type, "target": str(goal_value), "targets": len(rows)},
    )
    return kgi


def _inside(kind: str, start: dt.date, period: Period) -> bool:
    """Does a target row of (kind, start) belong to the plan of `period`?"""
    if kind == "week":
        return start < period.end and start + dt.timedelta(days=7) > period.start
    if kind == period.kind:
        return start == period.start
    return (
        period.start <= start < period.end
        and kind in ("quarter", "month")
        and (period.kind == "year" or (period.kind == "quarter" and kind == "month"))
    )


@transaction.atomic
def target_set(
    *, kpi: str, period: Period, value: Decimal | None, actor: User | None, channel: str = "", kgi: Kgi | None = None
) -> KpiTarget | None:
    """Enter (or clear, with None) one target by hand."""
    if kpi not in KPIS:
        raise ValidationError({"kpi": _("Choose a KPI from the list.")})
    if value is not None and value < 0:
        raise ValidationError({"target_value": _("A target cannot be negative.")})
    if value is not None and KPIS[kpi].unit == "percent" and value > 100:
        raise ValidationError({"target_value": _("A rate target is at most 100 %.")})
    lookup = {"kpi": kpi, "channel": channel, "period_type": period.kind, "period_start": period.start}
    if value is None:
        KpiTarget.objects.filter(**lookup).delete()
        audit_record(action="kpis.target_cleared", actor=actor, target=f"{kpi}@{period.key}")
        return None
    target, _created = KpiTarget.objects.update_or_create(
        **lookup, defaults={"target_value": _q(value), "source": TargetSource.MANUAL, "kgi": kgi}
    )
    audit_record(action="kpis.target_set", actor=actor, target=f"{kpi}@{period.key}", data={"value": str(value)})
    return target


# ------------------------------------------------------------------------------------------ KSFs


def _clean_kpis(kpis: list[str]) -> list[str]:
    unknown = [k for k in kpis if k not in KPIS]
    if unknown:
        raise ValidationError({"kpis": _("Choose KPIs from the list.")})
    return list(dict.fromkeys(kpis))


@transaction.atomic
def ksf_save(
    *, kgi: Kgi, title: str, description: str = "", kpis: list[str], actor: User | None, ksf: Ksf | None = None
) -> Ksf:
    title = (title or "").strip()
    if not title:
        raise ValidationError({"title": _("Describe the success factor in a few words.")})
    kpis = _clean_kpis(kpis)
    if ksf is None:
        position = (Ksf.objects.filter(kgi=kgi).count() + 1) * 10
        ksf = Ksf.objects.create(kgi=kgi, title=title[:200], description=description, kpis=kpis, position=position)
        audit_record(action="kpis.ksf_created", actor=actor, target=title[:200])
    else:
        ksf.title, ksf.description, ksf.kpis = title[:200], description, kpis
        ksf.save()
        audit_record(action="kpis.ksf_updated", actor=actor, target=title[:200])
    return ksf


@transaction.atomic
def ksf_delete(*, ksf: Ksf, actor: User | None) -> None:
    audit_record(action="kpis.ksf_deleted", actor=actor, target=ksf.title)
    ksf.delete()


# ------------------------------------------------------------------------------------------ spend


@transaction.atomic
def spend_save(*, entries: list[tuple[str, dt.date, Decimal | None]], actor: User | None) -> int:
    """Set spend per (channel, month); None clears. Returns how many rows changed."""
    changed = 0
    for channel, month, amount in entries:
        channel = (channel or "").strip()
        if not channel:
            raise ValidationError({"channel": _("Choose a channel.")})
        month = month.replace(day=1)
        if amount is None:
            changed += ChannelSpend.objects.filter(channel=channel, month=month).delete()[0]
            continue
        if amount < 0:
            raise ValidationError({"amount": _("Spend cannot be negative.")})
        row, created = ChannelSpend.objects.get_or_create(
            channel=channel, month=month, defaults={"amount": amount, "updated_by": actor}
        )
        if created or row.amount != amount:
            row.amount, row.updated_by = amount, actor
            row.save()
            changed += 1
    if changed:
        audit_record(action="kpis.spend_saved", actor=actor, data={"rows": changed})
    return changed


# ------------------------------------------------------------------------------------------ review


def review_rules_ensure_defaults() -> list[ReviewRule]:
    """The seed's rules, once per tenant: missed 2 months in a row → review the KPI; moved by
    20 % or more month over month → analyse the cause. Also the new-tenant hook."""
    rules = list(ReviewRule.objects.all())
    if rules:
        return rules
    return [
        ReviewRule.objects.create(
            kind=RuleKind.MISSED, period_type="month", consecutive_periods=2, notify_roles=list(DEFAULT_NOTIFY_ROLES)
        ),
        ReviewRule.objects.create(
            kind=RuleKind.MOVED,
            period_type="month",
            change_percent=Decimal(20),
            notify_roles=list(DEFAULT_NOTIFY_ROLES),
        ),
    ]


def tenant_created() -> None:
    """ONDO_TENANT_CREATED_HOOKS entry: default review rules for a new tenant."""
    review_rules_ensure_defaults()


@transaction.atomic
def review_rule_update(
    *,
    rule: ReviewRule,
    actor: User | None,
    is_active: bool,
    period_type: str,
    consecutive_periods: int,
    change_percent: Decimal,
    kpis: list[str],
    notify_roles: list[str],
) -> ReviewRule:
    if period_type not in ("week", "month", "quarter"):
        raise ValidationError({"period_type": _("Check per week, month or quarter.")})
    if not 1 <= int(consecutive_periods) <= 12:
        raise ValidationError({"consecutive_periods": _("Enter between 1 and 12 periods.")})
    if not Decimal(1) <= Decimal(change_percent) <= Decimal(1000):
        raise ValidationError({"change_percent": _("Enter a threshold between 1 % and 1,000 %.")})
    bad_roles = [r for r in notify_roles if r not in Role.values]
    if bad_roles:
        raise ValidationError({"notify_roles": _("Choose roles from the list.")})
    rule.is_active = bool(is_active)
    rule.period_type = period_type
    rule.consecutive_periods = int(consecutive_periods)
    rule.change_percent = Decimal(change_percent)
    rule.kpis = _clean_kpis(kpis)
    rule.notify_roles = list(dict.fromkeys(notify_roles))
    rule.save()
    audit_record(
        action="kpis.review_rule_updated",
        actor=actor,
        target=str(rule.pk),
        data={"kind": rule.kind, "active": rule.is_active},
    )
    return rule


@transaction.atomic
def review_entry_create(
    *,
    period: Period,
    action: str,
    actor: User | None,
    kpi: str = "",
    finding: str = "",
    owner: User | None = None,
    due_on: dt.date | None = None,
    alert: ReviewAlert | None = None,
) -> ReviewLogEntry:
    """Record a decision of the review meeting (and resolve the alert it answers)."""
    errors = {}
    if not (action or "").strip():
        errors["action"] = _("Write down the action that was decided.")
    if kpi and kpi not in KPIS:
        errors["kpi"] = _("Choose a KPI from the list.")
    if owner is not None and not owner.memberships.filter(tenant_id=_tenant_id()).exists():
        errors["owner"] = _("Choose a member of this workspace.")
    if errors:
        raise ValidationError(errors)
    entry = ReviewLogEntry.objects.create(
        period_type=period.kind,
        period_start=period.start,
        kpi=kpi,
        finding=finding.strip(),
        action=action.strip(),
        owner=owner,
        due_on=due_on,
        alert=alert,
        created_by=actor,
    )
    if alert is not None and alert.resolved_at is None:
        alert.resolved_at = timezone.now()
        alert.save(update_fields=["resolved_at"])
    audit_record(action="kpis.review_logged", actor=actor, target=period.key, data={"kpi": kpi})
    return entry


def _tenant_id() -> int:
    from tenants.context import require_tenant_id

    return require_tenant_id()


@transaction.atomic
def review_entry_set_status(*, entry: ReviewLogEntry, status: str, actor: User | None) -> ReviewLogEntry:
    if status not in ReviewStatus.values:
        raise ValidationError({"status": _("Choose open or done.")})
    entry.status = status
    entry.done_at = timezone.now() if status == ReviewStatus.DONE else None
    entry.save(update_fields=["status", "done_at", "updated_at"])
    audit_record(action="kpis.review_status", actor=actor, target=str(entry.pk), data={"status": status})
    return entry


def group_targets(rows) -> dict:
    """{period_key: {kpi: value}} for display."""
    out = defaultdict(dict)
    for row in rows:
        out[(row.period_type, row.period_start)][row.kpi] = row.target_value
    return out
