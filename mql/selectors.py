"""Reads of the MQL app: the editor's impact preview, the sales inbox, diffs, and the feedback report.

Every figure is one aggregate query (GROUP BY / COUNT FILTER) over the tenant's leads, never a
loop over leads in Python.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Case, Count, Exists, F, IntegerField, OuterRef, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce, TruncMonth, TruncWeek
from django.utils import timezone
from django.utils.translation import gettext as _

from leads.models import Activity, FeedbackOutcome, Lead, LeadFeedback, LeadStageChange, Stage
from tenants.context import require_tenant_id
from tenants.models import Tenant, User

from . import evaluation
from .models import REQUIRED_INFO_CHOICES, FeedbackReason, Handover, MqlDefinition

WEEKS = 12
SAMPLE_SIZE = 8
TOP_ROWS = 12  # channel and campaign tables: the biggest, then one row for the rest
LIST_SHOWN = 8  # long lists (free-mail domains) are shortened in readable views


def _tenant_tz() -> ZoneInfo:
    name = Tenant.objects.filter(pk=require_tenant_id()).values_list("timezone", flat=True).first()
    try:
        return ZoneInfo(name or "Asia/Tokyo")
    except Exception:  # an invalid zone name must not break a page
        return ZoneInfo("Asia/Tokyo")


# ----------------------------------------------------------------------------- impact preview


@dataclass
class Impact:
    qualifying_now: int
    active_now: int | None
    entering: int
    leaving: int
    new_mqls_on_activation: int
    weeks: list[dict]
    entering_sample: list[Lead]
    leaving_sample: list[Lead]
    history: dict
    total_leads: int
    max_week: int = 0
    notes: list[str] = field(default_factory=list)


def week_starts(now: datetime, tz: ZoneInfo, weeks: int = WEEKS) -> list[datetime]:
    """Monday 00:00 (tenant time) of the last `weeks` weeks, oldest first, current week last."""
    local = now.astimezone(tz)
    monday = (local - timedelta(days=local.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    return [monday - timedelta(weeks=weeks - 1 - i) for i in range(weeks)]


def impact(draft: MqlDefinition, active: MqlDefinition | None, *, now: datetime | None = None) -> Impact:
    """What changes if `draft` replaces `active`, on the tenant's current data."""
    now = now or timezone.now()
    tz = _tenant_tz()
    leads = Lead.objects.filter(merged_into__isnull=True)
    flags = evaluation.qualification_flags(leads, {"q_new": draft, "q_old": active}, now=now)

    # Now: qualifying, entering (new but not old), leaving (old but not new) — one query.
    totals = flags.aggregate(
        total=Count("id"),
        new=Count("id", filter=Q(q_new=True)),
        old=Count("id", filter=Q(q_old=True)),
        entering=Count("id", filter=Q(q_new=True, q_old=False)),
        leaving=Count("id", filter=Q(q_new=False, q_old=True)),
        promote=Count("id", filter=Q(q_new=True) & evaluation.promotable_q()),
    )

    # Each of the last 12 weeks: leads arriving that week that would qualify — one GROUP BY.
    starts = week_starts(now, tz)
    arrived = Coalesce("first_seen_at", "created_at")
    weekly = (
        flags.filter(created_at__gte=starts[0])
        .annotate(arrived=arrived)
        .filter(arrived__gte=starts[0])
        .annotate(week=TruncWeek("arrived", tzinfo=tz))
        .values("week")
        .annotate(arrivals=Count("id"), new=Count("id", filter=Q(q_new=True)), old=Count("id", filter=Q(q_old=True)))
    )
    by_week = {row["week"].astimezone(tz).date(): row for row in weekly}
    weeks = []
    for start in starts:
        row = by_week.get(start.date(), {})
        weeks.append(
            {
                "start": start,
                "arrivals": row.get("arrivals", 0),
                "new": row.get("new", 0),
                "old": row.get("old", 0) if active is not None else None,
            }
        )

    # History: SQL acceptance and win rates of leads that would / would not have qualified.
    feedback = LeadFeedback.objects.filter(lead_id=OuterRef("pk"))
    accepted = Exists(
        feedback.filter(outcome__in=[FeedbackOutcome.ACCEPTED, FeedbackOutcome.OPPORTUNITY, FeedbackOutcome.WON])
    )
    rejected = Exists(feedback.filter(outcome=FeedbackOutcome.REJECTED))
    won = Exists(feedback.filter(outcome=FeedbackOutcome.WON))
    lost = Exists(feedback.filter(outcome=FeedbackOutcome.LOST))
    history_rows = (
        flags.annotate(acc=accepted, rej=rejected, won=won, lost=lost)
        .filter(Q(acc=True) | Q(rej=True))
        .values("q_new")
        .annotate(
            decided=Count("id"),
            accepted=Count("id", filter=Q(acc=True)),
            closed=Count("id", filter=Q(won=True) | Q(lost=True)),
            won=Count("id", filter=Q(won=True)),
        )
    )
    history = {"qualify": _rates(None), "other": _rates(None)}
    for row in history_rows:
        history["qualify" if row["q_new"] else "other"] = _rates(row)

    ordering = ["-score_total", "-id"]
    fields = ["id", "name", "email", "company", "score_total", "segment", "stage"]
    entering_sample = list(flags.filter(q_new=True, q_old=False).order_by(*ordering).only(*fields)[:SAMPLE_SIZE])
    leaving_sample = list(flags.filter(q_new=False, q_old=True).order_by(*ordering).only(*fields)[:SAMPLE_SIZE])
    notes = []
    if history["qualify"]["decided"] + history["other"]["decided"] < 30:
        notes.append(_("Little sales feedback so far: the historical rates rest on few leads."))
    return Impact(
        qualifying_now=totals["new"],
        active_now=totals["old"] if active is not None else None,
        entering=totals["entering"],
        leaving=totals["leaving"],
        new_mqls_on_activation=totals["promote"],
        weeks=weeks,
        entering_sample=entering_sample,
        leaving_sample=leaving_sample,
        history=history,
        total_leads=totals["total"],
        max_week=max([w["new"] for w in weeks] + [w["old"] or 0 for w in weeks] + [1]),
        notes=notes,
    )


def _rates(row: dict | None) -> dict:
    if not row:
        return {"decided": 0, "accepted": 0, "acceptance_rate": None, "closed": 0, "won": 0, "win_rate": None}
    return {
        "decided": row["decided"],
        "accepted": row["accepted"],
        "acceptance_rate": row["accepted"] / row["decided"] if row["decided"] else None,
        "closed": row["closed"],
        "won": row["won"],
        "win_rate": row["won"] / row["closed"] if row["closed"] else None,
    }


# ----------------------------------------------------------------------------- diff


def _display(name: str, value) -> str:
    if value in (None, "", []):
        return "—"
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if name == "required_info":
        labels = dict(REQUIRED_INFO_CHOICES)
        return ", ".join(str(labels.get(v, v)) for v in value)
    if name == "score_mode":
        return str({"any": _("Minimum score OR segment"), "all": _("Minimum score AND segment")}.get(value, value))
    if isinstance(value, list):
        shown = ", ".join(str(v) for v in value[:LIST_SHOWN])
        return shown if len(value) <= LIST_SHOWN else f"{shown} … (+{len(value) - LIST_SHOWN})"
    return str(value)


def definition_diff(old: MqlDefinition, new: MqlDefinition) -> list[dict]:
    """A readable comparison of two versions' conditions (only what differs)."""
    labels = {f.name: f.verbose_name for f in MqlDefinition._meta.get_fields() if hasattr(f, "verbose_name")}
    rows = []
    for name in MqlDefinition.CONDITION_FIELDS:
        before, after = getattr(old, name), getattr(new, name)
        if before == after:
            continue
        row = {
            "field": name,
            "label": str(labels.get(name, name)),
            "before": _display(name, before),
            "after": _display(name, after),
        }
        if isinstance(before, list) and isinstance(after, list):
            row["added"] = [v for v in after if v not in before]
            row["removed"] = [v for v in before if v not in after]
            if name == "required_info":
                info = dict(REQUIRED_INFO_CHOICES)
                row["added"] = [str(info.get(v, v)) for v in row["added"]]
                row["removed"] = [str(info.get(v, v)) for v in row["removed"]]
        rows.append(row)
    return rows


# ----------------------------------------------------------------------------- inbox


def inbox_handovers(*, owner: User | None = None, overdue_only: bool = False) -> QuerySet[Handover]:
    """Open hand-overs (leads waiting for sales), oldest first."""
    queryset = (
        Handover.objects.filter(closed_at__isnull=True, lead__stage=Stage.MQL)
        .select_related("lead", "owner", "first_contact_by")
        .order_by("handed_over_at", "id")
    )
    if owner is not None:
        queryset = queryset.filter(Q(owner=owner) | Q(owner__isnull=True))
    if overdue_only:
        queryset = queryset.filter(deadline_at__lt=timezone.now(), first_contact_at__isnull=True)
    return queryset


def pipeline_leads() -> QuerySet[Lead]:
    """Leads sales accepted and is working on (SQL, opportunity), oldest stage change first."""
    return Lead.objects.filter(stage__in=[Stage.SQL, Stage.OPPORTUNITY]).order_by("stage_changed_at", "id")


def qualifying_fields(lead: Lead) -> list[dict]:
    fields = []
    for key, label in REQUIRED_INFO_CHOICES:
        if key == "company_size":
            value = lead.size_band or (f"{lead.employee_count:,}" if lead.employee_count is not None else "")
        elif key in ("authority", "budget", "timing"):
            value = getattr(lead, f"get_{key}_display")() if getattr(lead, key) else ""
        else:
            value = getattr(lead, key, "")
        fields.append({"key": key, "label": label, "value": value})
    return fields


def lead_timeline(lead: Lead, *, limit: int = 25) -> list[dict]:
    """Activities, stage changes and feedback of one lead, newest first."""
    from leads.selectors import activity_type_choices

    type_labels = dict(activity_type_choices())
    items = []
    for activity in Activity.objects.filter(lead=lead).order_by("-occurred_at")[:limit]:
        items.append(
            {
                "at": activity.occurred_at,
                "kind": "activity",
                "title": type_labels.get(activity.type, activity.type),
                "detail": activity.url or activity.campaign,
            }
        )
    for change in LeadStageChange.objects.filter(lead=lead).order_by("-changed_at")[:limit]:
        items.append(
            {
                "at": change.changed_at,
                "kind": "stage",
                "title": f"{Stage(change.from_stage).label if change.from_stage else '—'} → "
                f"{Stage(change.to_stage).label}",
                "detail": change.reason,
            }
        )
    reasons = reason_labels()
    for item in LeadFeedback.objects.filter(lead=lead).order_by("-occurred_at")[:limit]:
        items.append(
            {
                "at": item.occurred_at,
                "kind": "feedback",
                "title": FeedbackOutcome(item.outcome).label,
                "detail": " · ".join(x for x in [reasons.get(item.reason, item.reason), item.note] if x),
            }
        )
    items.sort(key=lambda i: i["at"], reverse=True)
    return items[:limit]


def reason_labels() -> dict[str, str]:
    return {reason.key: reason.label for reason in FeedbackReason.objects.all()}


def reasons_for(kind: str) -> list[FeedbackReason]:
    kinds = ["reject", "both"] if kind == "reject" else ["lost", "both"]
    return list(FeedbackReason.objects.filter(is_active=True, kind__in=kinds))


# ----------------------------------------------------------------------------- feedback report


SCORE_BANDS = [
    (None, 0, "< 0"),
    (0, 20, "0–19"),
    (20, 40, "20–39"),
    (40, 60, "40–59"),
    (60, 80, "60–79"),
    (80, 100, "80–99"),
    (100, None, "100+"),
]


def _score_band_expression():
    whens = []
    for index, (low, high, _label) in enumerate(SCORE_BANDS):
        condition = Q()
        if low is not None:
            condition &= Q(lead__score_total__gte=low)
        if high is not None:
            condition &= Q(lead__score_total__lt=high)
        whens.append(When(condition, then=Value(index)))
    return Case(*whens, output_field=IntegerField())


@dataclass
class ReportPeriod:
    start: datetime
    end: datetime


def _decisions(period: ReportPeriod) -> QuerySet[LeadFeedback]:
    """Accept/reject decisions recorded in the period (each lead's decision counts once per outcome)."""
    return LeadFeedback.objects.filter(
        outcome__in=[FeedbackOutcome.ACCEPTED, FeedbackOutcome.REJECTED],
        occurred_at__gte=period.start,
        occurred_at__lt=period.end,
    )


def acceptance_by(dimension: str, period: ReportPeriod) -> list[dict]:
    """Acceptance rate (accepted / decided) grouped by a dimension of the lead or the feedback."""
    queryset = _decisions(period)
    if dimension == "score_band":
        queryset = queryset.annotate(key=_score_band_expression())
    elif dimension == "definition_version":
        queryset = queryset.annotate(key=Coalesce("mql_definition_version", Value(0)))
    elif dimension in {"channel", "segment", "campaign"}:
        queryset = queryset.annotate(key=Coalesce(f"lead__{dimension}", Value("")))
    else:
        raise ValueError(dimension)
    rows = (
        queryset.values("key")
        .annotate(
            decided=Count("lead", distinct=True),
            accepted=Count("lead", filter=Q(outcome=FeedbackOutcome.ACCEPTED), distinct=True),
        )
        .order_by("key")
    )
    result = []
    labels: dict[str, str] = {}
    if dimension == "channel":
        from leads.selectors import channel_labels

        labels = channel_labels()
    elif dimension == "segment":
        from leads.models import Segment

        labels = {key: str(label) for key, label in Segment.choices}
    for row in rows:
        key = row["key"]
        if dimension == "score_band":
            label = SCORE_BANDS[key][2] if key is not None else "—"
        elif dimension == "definition_version":
            label = f"v{key}" if key else _("(before any definition)")
        else:
            label = labels.get(key, key) or _("(not set)")
        result.append(
            {
                "key": key,
                "label": label,
                "decided": row["decided"],
                "accepted": row["accepted"],
                "rate": row["accepted"] / row["decided"] if row["decided"] else None,
            }
        )
    if dimension not in ("score_band", "definition_version"):
        result.sort(key=lambda r: (-r["decided"], str(r["label"])))
        if len(result) > TOP_ROWS:
            rest = result[TOP_ROWS - 1 :]
            decided, accepted = sum(r["decided"] for r in rest), sum(r["accepted"] for r in rest)
            result = result[: TOP_ROWS - 1] + [
                {
                    "key": None,
                    "label": _("Others (%(n)s)") % {"n": len(rest)},
                    "decided": decided,
                    "accepted": accepted,
                    "rate": accepted / decided if decided else None,
                }
            ]
    return result


def rejection_reasons_over_time(period: ReportPeriod) -> dict:
    """Rejections per reason per month (tenant time): {"months": [...], "rows": [{label, counts, total}]}."""
    tz = _tenant_tz()
    rows = (
        LeadFeedback.objects.filter(
            outcome=FeedbackOutcome.REJECTED, occurred_at__gte=period.start, occurred_at__lt=period.end
        )
        .annotate(month=TruncMonth("occurred_at", tzinfo=tz))
        .values("month", "reason")
        .annotate(n=Count("id"))
    )
    months: list = []
    cursor = period.start.astimezone(tz).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end_local = period.end.astimezone(tz)
    while cursor < end_local:
        months.append(cursor.date())
        cursor = (cursor + timedelta(days=32)).replace(day=1)
    counts: dict[str, dict] = defaultdict(dict)
    for row in rows:
        counts[row["reason"]][row["month"].astimezone(tz).date().replace(day=1)] = row["n"]
    labels = reason_labels()
    table = []
    for key, per_month in counts.items():
        table.append(
            {
                "key": key,
                "label": labels.get(key, key or _("(no reason)")),
                "counts": [per_month.get(m, 0) for m in months],
                "total": sum(per_month.values()),
            }
        )
    table.sort(key=lambda r: -r["total"])
    return {"months": months, "rows": table, "totals": [sum(r["counts"][i] for r in table) for i in range(len(months))]}


def first_contact_by_member(period: ReportPeriod) -> list[dict]:
    """Per sales member: hand-overs, contacted within the deadline, overdue, median hours to first contact."""
    handovers = Handover.objects.filter(handed_over_at__gte=period.start, handed_over_at__lt=period.end)
    now = timezone.now()
    aggregated = handovers.values("first_contact_by", "owner").annotate(
        n=Count("id"),
        contacted=Count("id", filter=Q(first_contact_at__isnull=False)),
        on_time=Count("id", filter=Q(first_contact_at__isnull=False, first_contact_at__lte=F("deadline_at"))),
        overdue_open=Count("id", filter=Q(first_contact_at__isnull=True, deadline_at__lt=now)),
    )
    hours: dict[int | None, list[float]] = defaultdict(list)
    for member, handed, contacted in handovers.filter(first_contact_at__isnull=False).values_list(
        "first_contact_by", "handed_over_at", "first_contact_at"
    ):
        hours[member].append((contacted - handed).total_seconds() / 3600)
    per_member: dict[int | None, dict] = {}
    for row in aggregated:
        member = row["first_contact_by"] if row["first_contact_by"] is not None else row["owner"]
        entry = per_member.setdefault(
            member, {"member_id": member, "handovers": 0, "contacted": 0, "on_time": 0, "overdue_open": 0}
        )
        for key in ("contacted", "on_time", "overdue_open"):
            entry[key] += row[key]
        entry["handovers"] += row["n"]
    users = {u.pk: u for u in User.objects.filter(pk__in=[k for k in per_member if k])}
    result = []
    for member, entry in per_member.items():
        samples = hours.get(member, [])
        entry["name"] = users[member].display_name if member in users else _("Unassigned")
        entry["median_hours"] = statistics.median(samples) if samples else None
        entry["on_time_rate"] = entry["on_time"] / entry["contacted"] if entry["contacted"] else None
        result.append(entry)
    result.sort(key=lambda r: (r["member_id"] is None, r["name"]))
    return result


def report(period: ReportPeriod) -> dict:
    return {
        "by_channel": acceptance_by("channel", period),
        "by_segment": acceptance_by("segment", period),
        "by_score_band": acceptance_by("score_band", period),
        "by_campaign": acceptance_by("campaign", period),
        "by_definition": acceptance_by("definition_version", period),
        "reasons": rejection_reasons_over_time(period),
        "first_contact": first_contact_by_member(period),
        "totals": _decisions(period).aggregate(
            decided=Count("lead", distinct=True),
            accepted=Count("lead", filter=Q(outcome=FeedbackOutcome.ACCEPTED), distinct=True),
        ),
    }
