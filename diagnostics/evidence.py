"""Evidence: what the tenant's own data says about a checklist item.

A registry of small functions keyed by the evidence key used in the checklist JSON.
Each returns an `Evidence`: the figures it measured (JSON-safe, so an assessment can
keep a snapshot), the answer the data suggests (yes / partly / no), or a clear state
when it cannot judge — `no_data` (the source exists but there is nothing to measure
yet) or `unavailable` (the part of Ondo that holds this data is not there yet). A
state without a measurement never carries a made-up number.

Figures come from the lower apps' module functions where they exist (`leads.quality`,
scoring and KPI selectors), otherwise from one ORM aggregation in the database.
Run inside a tenant scope.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db import transaction
from django.db.models import (
    Count,
    DateTimeField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Lower, Replace
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from leads.models import Activity, FeedbackOutcome, Lead, LeadFeedback, LeadStageChange, Stage
from tenants.context import require_tenant_id

from .models import ANSWER_POINTS, AnswerValue

logger = logging.getLogger("ondo.diagnostics")

MEASURED = "measured"
NO_DATA = "no_data"
UNAVAILABLE = "unavailable"

# Thresholds: a check suggests "yes" only when the data clearly shows it.
CORE_FILL_YES, CORE_FILL_PARTLY = 80.0, 50.0  # % of leads with industry, title and company size
BANT_FILL_YES = 50.0  # average % of leads with authority, need, budget, timing
DUPLICATES_YES, DUPLICATES_PARTLY = 2.0, 5.0  # % of leads in a duplicate group
SEGMENTED_YES = 90.0  # % of leads carrying a segment
BEHAVIOUR_WINDOW = timedelta(days=30)
BEHAVIOUR_TYPES_YES, BEHAVIOUR_ACTIVE_YES = 3, 10.0  # activity types seen; % of leads active in the window
FEEDBACK_WINDOW = timedelta(days=90)
FEEDBACK_SHARE_YES, FEEDBACK_SHARE_PARTLY = 80.0, 50.0
DEFAULT_FOLLOW_UP_HOURS = 48  # seed 000: hot leads are contacted by sales within 24–48 h
REASONS_WINDOW = timedelta(days=180)
REASONS_YES, REASONS_PARTLY = 90.0, 50.0
HOT_ALERTED_YES = 90.0
REVIEW_WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class Evidence:
    """One measurement. `metrics` is JSON-safe; texts are built in the reader's language."""

    key: str
    state: str
    suggested: str | None = None
    metrics: dict = field(default_factory=dict)
    source: str = ""

    @property
    def is_measured(self) -> bool:
        return self.state == MEASURED and self.suggested is not None

    @property
    def points(self) -> float | None:
        return ANSWER_POINTS.get(self.suggested) if self.is_measured else None

    @property
    def label(self) -> str:
        return str(EVIDENCE[self.key].label) if self.key in EVIDENCE else self.key

    @property
    def headline(self) -> str:
        """One sentence in the active language, e.g. "64.0 % of leads have no industry"."""
        if self.state == UNAVAILABLE:
            return _("Not available yet: this needs %(feature)s.") % {
                "feature": _feature_name(self.metrics.get("needs"))
            }
        if self.state == NO_DATA:
            return _no_data_text(self.metrics.get("reason", ""))
        check = EVIDENCE.get(self.key)
        return check.describe(self) if check else ""

    @property
    def suggested_label(self) -> str:
        return str(AnswerValue(self.suggested).label) if self.suggested else ""

    def to_json(self) -> dict:
        return {
            "key": self.key,
            "state": self.state,
            "suggested": self.suggested,
            "metrics": self.metrics,
            "source": self.source,
        }

    @classmethod
    def from_json(cls, data: dict) -> Evidence:
        return cls(
            key=data["key"],
            state=data.get("state", UNAVAILABLE),
            suggested=data.get("suggested"),
            metrics=data.get("metrics") or {},
            source=data.get("source", ""),
        )


@dataclass(frozen=True)
class EvidenceCheck:
    key: str
    label: Promise
    compute: Callable[[datetime], Evidence]
    describe: Callable[[Evidence], str]


EVIDENCE: dict[str, EvidenceCheck] = {}


def evidence_check(key: str, *, label: Promise, describe: Callable[[Evidence], str]):
    """Register `fn(now) -> Evidence` as the check for `key`."""

    def decorator(fn: Callable[[datetime], Evidence]):
        EVIDENCE[key] = EvidenceCheck(key=key, label=label, compute=fn, describe=describe)
        return fn

    return decorator


def compute(key: str, *, now: datetime | None = None) -> Evidence:
    """Measure one check. A crash in one check is logged and never breaks a page."""
    check = EVIDENCE.get(key)
    if check is None:
        return Evidence(key=key, state=UNAVAILABLE, metrics={"needs": "unknown"})
    try:
        # A savepoint: a failing query must not abort the request's transaction (PostgreSQL).
        with transaction.atomic():
            return check.compute(now or timezone.now())
    except Exception:
        logger.exception("evidence %s failed", key)
        return Evidence(key=key, state=UNAVAILABLE, metrics={"needs": "error"})


# Pages showing live evidence (answering, an open assessment's result) reuse a measurement for a
# few minutes; completing an assessment and the auto-diagnosis always measure afresh.
CACHE_SECONDS = 300


def _cache_key(key: str) -> str:
    return f"ondo:diagnostics:evidence:{require_tenant_id()}:{key}"


def compute_many(keys, *, now: datetime | None = None, cached: bool = False) -> dict[str, Evidence]:
    """Measure several checks. With `cached` (and no explicit `now`) recent measurements are reused."""
    use_cache = cached and now is None
    now = now or timezone.now()
    result = {}
    for key in dict.fromkeys(k for k in keys if k):
        if use_cache:
            hit = _cache_get(_cache_key(key))
            if hit is not None:
                result[key] = Evidence.from_json(hit)
                continue
        result[key] = compute(key, now=now)
        if use_cache and result[key].metrics.get("needs") != "error":
            _cache_set(_cache_key(key), result[key].to_json())
    return result


def _cache_get(key: str):
    try:
        return cache.get(key)
    except Exception:  # a cache outage only costs a fresh measurement
        logger.warning("evidence cache unavailable", exc_info=True)
        return None


def _cache_set(key: str, value: dict) -> None:
    try:
        cache.set(key, value, CACHE_SECONDS)
    except Exception:
        logger.warning("evidence cache unavailable", exc_info=True)


def snapshot(evidence: dict[str, Evidence]) -> dict:
    return {key: ev.to_json() for key, ev in evidence.items()}


def from_snapshot(data: dict) -> dict[str, Evidence]:
    return {key: Evidence.from_json(value) for key, value in (data or {}).items()}


# --- helpers ---------------------------------------------------------------------


def _optional(path: str):
    """`module:attribute` from a lower app, or None while that app has not built it yet."""
    module_name, _sep, attribute = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    return getattr(module, attribute, None) if attribute else module


def _n(count) -> str:
    """A count with thousands separators (12,450), as Japanese business documents write it."""
    return f"{int(count):,}"


def _pct(part: float, whole: float) -> float:
    return round(100.0 * part / whole, 1) if whole else 0.0


def _grade(value: float, yes: float, partly: float, *, lower_is_better: bool = False) -> str:
    if lower_is_better:
        return AnswerValue.YES if value <= yes else AnswerValue.PARTLY if value <= partly else AnswerValue.NO
    return AnswerValue.YES if value >= yes else AnswerValue.PARTLY if value >= partly else AnswerValue.NO


def _live_leads():
    return Lead.objects.filter(merged_into__isnull=True)


def _unavailable(key: str, needs: str) -> Evidence:
    return Evidence(key=key, state=UNAVAILABLE, metrics={"needs": needs})


def _no_data(key: str, reason: str, source: str = "", **metrics) -> Evidence:
    return Evidence(key=key, state=NO_DATA, metrics={"reason": reason, **metrics}, source=source)


def _feature_name(needs: str | None) -> str:
    names = {
        "scoring_model": _("an active scoring model with segments (Scoring)"),
        "hot_alerts": _("hot-lead alert settings (Scoring)"),
        "mql_definition": _("MQL definitions with approvals (MQL definition)"),
        "kpi_targets": _("KPI targets per period (KPI planner)"),
        "kpi_reviews": _("the KPI review log (KPI dashboard)"),
        "nurture_period": _("a target for the average nurturing period (KPI planner)"),
        "error": _("data that could not be read just now; please try again later"),
    }
    return names.get(needs or "", _("a part of Ondo that is not set up yet"))


def _no_data_text(reason: str) -> str:
    texts = {
        "no_leads": _("No leads yet, so there is nothing to measure."),
        "no_handovers": _("No leads were handed over to sales in the last 90 days."),
        "no_rejections": _("No leads were rejected or lost in the last 180 days."),
        "no_hot_transitions": _("No lead became hot in the last 90 days."),
        "no_mql_definition": _("No MQL definition has been drafted yet."),
    }
    return texts.get(reason, _("Not enough data to measure this yet."))


# --- attribute completeness -----------------------------------------------------------

ATTRIBUTE_FIELDS = ["industry", "title", "company_size", "authority", "need", "budget", "timing"]
CORE_FIELDS = ["industry", "title", "company_size"]
BANT_FIELDS = ["authority", "need", "budget", "timing"]


def _attribute_labels() -> dict[str, str]:
    return {
        "industry": _("industry"),
        "title": _("job title"),
        "company_size": _("company size"),
        "authority": _("decision authority"),
        "need": _("need"),
        "budget": _("budget"),
        "timing": _("timing"),
    }


def _attribute_fill() -> tuple[int, dict[str, float], str]:
    """(lead count, % filled per field, source) from leads.quality when it exists, else one aggregate."""
    quality = _optional("leads.quality:attribute_completeness")
    if quality is not None:
        result = quality()
        total = int(result["total"])
        filled = {name: round(100.0 - float(result["missing_pct"][name]), 1) for name in ATTRIBUTE_FIELDS}
        return total, filled, "leads.quality.attribute_completeness"
    counts = _live_leads().aggregate(
        total=Count("id"),
        industry=Count("id", filter=~Q(industry="")),
        title=Count("id", filter=~Q(title="")),
        company_size=Count("id", filter=Q(employee_count__isnull=False) | ~Q(size_band="")),
        authority=Count("id", filter=~Q(authority="")),
        need=Count("id", filter=~Q(need="")),
        budget=Count("id", filter=~Q(budget="")),
        timing=Count("id", filter=~Q(timing="")),
    )
    total = counts.pop("total")
    return total, {name: _pct(counts[name], total) for name in ATTRIBUTE_FIELDS}, "leads.models (aggregate)"


def _describe_completeness(ev: Evidence) -> str:
    m = ev.metrics
    labels = _attribute_labels()
    if ev.suggested == AnswerValue.YES:
        return _(
            "%(pct)s %% of leads have industry, job title and company size; qualifying fields average %(bant)s %%."
        ) % {"pct": m["core_min_pct"], "bant": m["bant_avg_pct"]}
    if m["core_min_pct"] < CORE_FILL_YES:
        weakest = m["weakest_core"]
        return _("%(pct)s %% of leads have no %(field)s.") % {
            "pct": round(100 - m["filled_pct"][weakest], 1),
            "field": labels[weakest],
        }
    return _("Qualifying fields (authority, need, budget, timing) are missing on %(pct)s %% of leads on average.") % {
        "pct": round(100 - m["bant_avg_pct"], 1)
    }


@evidence_check("attribute_completeness", label=gettext_lazy("Attribute completeness"), describe=_describe_completeness)
def attribute_completeness(now: datetime) -> Evidence:
    total, filled, source = _attribute_fill()
    if not total:
        return _no_data("attribute_completeness", "no_leads", source)
    weakest_core = min(CORE_FIELDS, key=lambda name: filled[name])
    core_min = filled[weakest_core]
    bant_avg = round(sum(filled[name] for name in BANT_FIELDS) / len(BANT_FIELDS), 1)
    if core_min >= CORE_FILL_YES and bant_avg >= BANT_FILL_YES:
        suggested = AnswerValue.YES
    elif core_min >= CORE_FILL_PARTLY:
        suggested = AnswerValue.PARTLY
    else:
        suggested = AnswerValue.NO
    return Evidence(
        key="attribute_completeness",
        state=MEASURED,
        suggested=suggested,
        source=source,
        metrics={
            "leads": total,
            "filled_pct": filled,
            "weakest_core": weakest_core,
            "core_min_pct": core_min,
            "bant_avg_pct": bant_avg,
        },
    )


# --- duplicates -------------------------------------------------------------------------


def _describe_duplicates(ev: Evidence) -> str:
    return _("%(pct)s %% of leads (%(count)s) look like duplicates: same company and name.") % {
        "pct": ev.metrics["duplicate_pct"],
        "count": _n(ev.metrics["duplicate_leads"]),
    }


def _duplicate_counts() -> tuple[int, int, int, str]:
    quality = _optional("leads.quality:duplicate_summary")
    if quality is not None:
        result = quality(sample=0)  # the figures only, not the review queue
        return (
            int(result["total"]),
            int(result["duplicate_leads"]),
            int(result["groups"]),
            "leads.quality.duplicate_summary",
        )
    leads = _live_leads()
    total = leads.count()
    name_key = Replace(Replace(Lower("name"), Value(" "), Value("")), Value("\u3000"), Value(""))
    groups = (
        leads.exclude(company_normalized="")
        .exclude(name="")
        .annotate(name_key=name_key)
        .values("company_normalized", "name_key")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    agg = groups.aggregate(groups=Count("company_normalized"), leads=Sum("n"))
    return total, int(agg["leads"] or 0), int(agg["groups"] or 0), "leads.models (aggregate)"


@evidence_check("duplicate_rate", label=gettext_lazy("Duplicate rate"), describe=_describe_duplicates)
def duplicate_rate(now: datetime) -> Evidence:
    total, duplicate_leads, groups, source = _duplicate_counts()
    if not total:
        return _no_data("duplicate_rate", "no_leads", source)
    pct = _pct(duplicate_leads, total)
    return Evidence(
        key="duplicate_rate",
        state=MEASURED,
        source=source,
        suggested=_grade(pct, DUPLICATES_YES, DUPLICATES_PARTLY, lower_is_better=True),
        metrics={"leads": total, "duplicate_leads": duplicate_leads, "groups": groups, "duplicate_pct": pct},
    )


# --- segmentation -------------------------------------------------------------------------


def _describe_segmentation(ev: Evidence) -> str:
    m = ev.metrics
    if m.get("active_model") is False:
        return _("No scoring model is active, so leads are not segmented (%(pct)s %% carry an old segment).") % {
            "pct": m["segmented_pct"]
        }
    return _("%(pct)s %% of leads are segmented (hot %(hot)s, warm %(warm)s, cold %(cold)s).") % {
        "pct": m["segmented_pct"],
        "hot": _n(m["segments"].get("hot", 0)),
        "warm": _n(m["segments"].get("warm", 0)),
        "cold": _n(m["segments"].get("cold", 0)),
    }


def _active_segment_keys() -> list[str] | None:
    """Segment keys of the active scoring model ([] when none is active; None without the scoring app)."""
    active_model = _optional("scoring.selectors:active_model")
    if active_model is None:
        return None
    model = active_model()
    return [] if model is None else list(model.segments.values_list("key", flat=True))


@evidence_check("segmentation_active", label=gettext_lazy("Leads segmented"), describe=_describe_segmentation)
def segmentation_active(now: datetime) -> Evidence:
    segment_keys = _active_segment_keys()
    source = "leads.models (aggregate)"
    if segment_keys is not None:
        source = "scoring.selectors.active_model + leads.models (aggregate)"
    active_model = None if segment_keys is None else bool(segment_keys)
    by_segment = dict(
        _live_leads().exclude(segment="").values_list("segment").annotate(n=Count("id")).values_list("segment", "n")
    )
    total = _live_leads().count()
    if not total:
        return _no_data("segmentation_active", "no_leads", source)
    pct = _pct(sum(by_segment.values()), total)
    if active_model is False:
        suggested = AnswerValue.NO
    else:
        suggested = AnswerValue.YES if pct >= SEGMENTED_YES else AnswerValue.PARTLY if pct > 0 else AnswerValue.NO
    return Evidence(
        key="segmentation_active",
        state=MEASURED,
        suggested=suggested,
        source=source,
        metrics={"leads": total, "segmented_pct": pct, "segments": by_segment, "active_model": active_model},
    )


# --- behaviour data -------------------------------------------------------------------------


def _describe_behaviour(ev: Evidence) -> str:
    m = ev.metrics
    if not m["activities"]:
        return _("No activity (opens, clicks, downloads, visits) was recorded in the last 30 days.")
    return _("%(count)s activities of %(types)s types in the last 30 days; %(pct)s %% of leads were active.") % {
        "count": _n(m["activities"]),
        "types": len(m["by_type"]),
        "pct": m["active_pct"],
    }


@evidence_check(
    "behaviour_data_collected", label=gettext_lazy("Behaviour data collected"), describe=_describe_behaviour
)
def behaviour_data_collected(now: datetime) -> Evidence:
    since = now - BEHAVIOUR_WINDOW
    recent = Activity.objects.filter(occurred_at__gte=since, occurred_at__lte=now)
    by_type = dict(recent.values_list("type").annotate(n=Count("id")).values_list("type", "n"))
    active = recent.filter(lead__isnull=False).aggregate(n=Count("lead", distinct=True))["n"]
    total = _live_leads().count()
    if not total and not by_type:
        return _no_data("behaviour_data_collected", "no_leads", "leads.models (aggregate)")
    activities = sum(by_type.values())
    active_pct = _pct(active, total)
    if not activities:
        suggested = AnswerValue.NO
    elif len(by_type) >= BEHAVIOUR_TYPES_YES and active_pct >= BEHAVIOUR_ACTIVE_YES:
        suggested = AnswerValue.YES
    else:
        suggested = AnswerValue.PARTLY
    return Evidence(
        key="behaviour_data_collected",
        state=MEASURED,
        suggested=suggested,
        source="leads.models (aggregate)",
        metrics={
            "activities": activities,
            "by_type": dict(sorted(by_type.items(), key=lambda kv: -kv[1])),
            "active_leads": active,
            "active_pct": active_pct,
            "window_days": BEHAVIOUR_WINDOW.days,
        },
    )


# --- sales feedback ---------------------------------------------------------------------------


def _follow_up_hours() -> int:
    """The tenant's follow-up deadline (scoring settings), else the seed's 48 h."""
    scoring_models = _optional("scoring.models")
    if scoring_models is not None:
        hours = scoring_models.ScoringSettings.objects.values_list("follow_up_hours", flat=True).first()
        if hours:
            return int(hours)
    return DEFAULT_FOLLOW_UP_HOURS


def _handovers(now: datetime, deadline_hours: int):
    """Leads handed over to sales in the window, annotated with `at` and `due` (deadline).

    The MQL app's hand-over records when it is installed, else the leads' stage changes into MQL.
    """
    since = now - FEEDBACK_WINDOW
    mql_models = _optional("mql.models")
    if mql_models is not None:
        rows = mql_models.Handover.objects.filter(handed_over_at__gte=since, handed_over_at__lte=now)
        return rows.annotate(at=F("handed_over_at"), due=F("deadline_at")), "mql.models.Handover"
    rows = LeadStageChange.objects.filter(to_stage=Stage.MQL, changed_at__gte=since, changed_at__lte=now)
    due = ExpressionWrapper(F("changed_at") + timedelta(hours=deadline_hours), output_field=DateTimeField())
    return rows.annotate(at=F("changed_at"), due=due), "leads.models.LeadStageChange"


def _describe_feedback(ev: Evidence) -> str:
    m = ev.metrics
    text = _("Sales recorded an outcome for %(pct)s %% of %(count)s leads handed over in the last 90 days.") % {
        "pct": m["with_outcome_pct"],
        "count": _n(m["handed_over"]),
    }
    if m.get("median_hours") is not None:
        text += " " + _("Median time to the first outcome: %(hours)s h (deadline %(deadline)s h).") % {
            "hours": m["median_hours"],
            "deadline": m["deadline_hours"],
        }
    return text


@evidence_check("sales_feedback_given", label=gettext_lazy("Sales feedback given"), describe=_describe_feedback)
def sales_feedback_given(now: datetime) -> Evidence:
    deadline_hours = _follow_up_hours()
    handovers, source = _handovers(now, deadline_hours)
    first_outcome = (
        LeadFeedback.objects.filter(lead_id=OuterRef("lead_id"), occurred_at__gte=OuterRef("at"))
        .order_by("occurred_at")
        .values("occurred_at")[:1]
    )
    handovers = handovers.annotate(first_outcome=Subquery(first_outcome))
    counts = handovers.aggregate(
        total=Count("id"),
        answered=Count("id", filter=Q(first_outcome__isnull=False)),
        on_time=Count("id", filter=Q(first_outcome__lte=F("due"))),
    )
    if not counts["total"]:
        return _no_data("sales_feedback_given", "no_handovers", source)
    median_hours = None
    if counts["answered"]:
        delays = (
            handovers.filter(first_outcome__isnull=False)
            .annotate(delay=ExpressionWrapper(F("first_outcome") - F("at"), output_field=DurationField()))
            .order_by("delay")
            .values_list("delay", flat=True)
        )
        # The median row is picked in the database (ORDER BY … OFFSET n/2), not in Python.
        median = delays[(counts["answered"] - 1) // 2]
        median_hours = round(median.total_seconds() / 3600, 1)
    share = _pct(counts["answered"], counts["total"])
    on_time = median_hours is not None and median_hours <= deadline_hours
    if share >= FEEDBACK_SHARE_YES and on_time:
        suggested = AnswerValue.YES
    elif share >= FEEDBACK_SHARE_PARTLY:
        suggested = AnswerValue.PARTLY
    else:
        suggested = AnswerValue.NO
    return Evidence(
        key="sales_feedback_given",
        state=MEASURED,
        suggested=suggested,
        source=source,
        metrics={
            "handed_over": counts["total"],
            "with_outcome": counts["answered"],
            "with_outcome_pct": share,
            "on_time_pct": _pct(counts["on_time"], counts["total"]),
            "median_hours": median_hours,
            "deadline_hours": deadline_hours,
            "window_days": FEEDBACK_WINDOW.days,
        },
    )


# --- rejection reasons ---------------------------------------------------------------------------


def _describe_reasons(ev: Evidence) -> str:
    return _("%(pct)s %% of %(count)s rejected or lost leads in the last 180 days have a recorded reason.") % {
        "pct": ev.metrics["with_reason_pct"],
        "count": _n(ev.metrics["rejected"]),
    }


@evidence_check(
    "rejection_reasons_recorded", label=gettext_lazy("Rejection reasons recorded"), describe=_describe_reasons
)
def rejection_reasons_recorded(now: datetime) -> Evidence:
    source = "leads.models (aggregate)"
    rejected = LeadFeedback.objects.filter(
        outcome__in=[FeedbackOutcome.REJECTED, FeedbackOutcome.LOST],
        occurred_at__gte=now - REASONS_WINDOW,
        occurred_at__lte=now,
    )
    counts = rejected.aggregate(total=Count("id"), with_reason=Count("id", filter=~Q(reason="")))
    if not counts["total"]:
        return _no_data("rejection_reasons_recorded", "no_rejections", source)
    pct = _pct(counts["with_reason"], counts["total"])
    return Evidence(
        key="rejection_reasons_recorded",
        state=MEASURED,
        suggested=_grade(pct, REASONS_YES, REASONS_PARTLY),
        source=source,
        metrics={
            "rejected": counts["total"],
            "with_reason": counts["with_reason"],
            "with_reason_pct": pct,
            "window_days": REASONS_WINDOW.days,
        },
    )


# --- checks whose source lives in scoring / kpis (wired once those apps have it) ----------------


def _describe_hot_alerts(ev: Evidence) -> str:
    m = ev.metrics
    if not m.get("enabled"):
        return _("No active scoring model has a hot segment, so no hot-lead alert can be sent.")
    return _(
        "%(pct)s %% of %(count)s transitions into hot in the last 90 days were notified; "
        "%(on_time)s %% were followed up within the deadline."
    ) % {"pct": m["alerted_pct"], "count": _n(m["hot_transitions"]), "on_time": m["followed_up_on_time_pct"]}


@evidence_check(
    "hot_alerts_enabled", label=gettext_lazy("Hot leads notified automatically"), describe=_describe_hot_alerts
)
def hot_alerts_enabled(now: datetime) -> Evidence:
    segment_keys = _active_segment_keys()
    scoring_models = _optional("scoring.models")
    if segment_keys is None or scoring_models is None:
        return _unavailable("hot_alerts_enabled", "hot_alerts")
    source = "scoring.selectors.active_model + scoring.models (SegmentTransition, HotLeadAlert)"
    enabled = "hot" in segment_keys
    transitions = scoring_models.SegmentTransition.objects.filter(
        to_segment="hot", occurred_at__gte=now - timedelta(days=90), occurred_at__lte=now
    )
    alerts = scoring_models.HotLeadAlert.objects.filter(transition_id=OuterRef("pk"))
    counts = transitions.aggregate(
        total=Count("id"),
        alerted=Count("id", filter=Exists(alerts.filter(notified_at__isnull=False))),
        on_time=Count(
            "id", filter=Exists(alerts.filter(followed_up_at__isnull=False, followed_up_at__lte=F("due_at")))
        ),
    )
    if not enabled:
        return Evidence(
            key="hot_alerts_enabled",
            state=MEASURED,
            suggested=AnswerValue.NO,
            source=source,
            metrics={"enabled": False, "hot_transitions": counts["total"]},
        )
    if not counts["total"]:
        return _no_data("hot_alerts_enabled", "no_hot_transitions", source, enabled=True)
    pct = _pct(counts["alerted"], counts["total"])
    return Evidence(
        key="hot_alerts_enabled",
        state=MEASURED,
        source=source,
        suggested=AnswerValue.YES if pct >= HOT_ALERTED_YES else AnswerValue.PARTLY,
        metrics={
            "enabled": True,
            "hot_transitions": counts["total"],
            "alerted": counts["alerted"],
            "alerted_pct": pct,
            "followed_up_on_time_pct": _pct(counts["on_time"], counts["total"]),
        },
    )


def _describe_mql(ev: Evidence) -> str:
    m = ev.metrics
    if m.get("active_version") is None:
        return _("No MQL definition is active yet.")
    if m.get("agreed"):
        return _("MQL definition v%(version)s is active, approved by marketing and sales.") % {
            "version": m["active_version"]
        }
    return _("MQL definition v%(version)s is active but was not approved by both marketing and sales.") % {
        "version": m["active_version"]
    }


@evidence_check("mql_definition_agreed", label=gettext_lazy("MQL definition agreed"), describe=_describe_mql)
def mql_definition_agreed(now: datetime) -> Evidence:
    mql_models = _optional("mql.models")
    if mql_models is None:
        return _unavailable("mql_definition_agreed", "mql_definition")
    source = "mql.models (MqlDefinition, MqlApproval)"
    active = mql_models.MqlDefinition.objects.filter(status="active").first()
    if active is None:
        return Evidence(
            key="mql_definition_agreed",
            state=MEASURED,
            suggested=AnswerValue.NO,
            source=source,
            metrics={"active_version": None, "agreed": False},
        )
    # Approvals bound to the conditions that are active now (a handful of rows).
    roles = {approval.role for approval in active.approvals.all() if approval.is_current}
    by_marketing, by_sales = "marketing" in roles, "sales" in roles
    agreed = by_marketing and by_sales
    return Evidence(
        key="mql_definition_agreed",
        state=MEASURED,
        source=source,
        suggested=AnswerValue.YES if agreed else AnswerValue.PARTLY,
        metrics={
            "active_version": active.version,
            "agreed": agreed,
            "approved_by_marketing": by_marketing,
            "approved_by_sales": by_sales,
        },
    )


def _describe_targets(ev: Evidence) -> str:
    m = ev.metrics
    if not m["targets"]:
        return _("No KPI targets are set for the current period (%(period)s).") % {"period": m["period"]}
    return _("%(count)s KPI targets are set for the current period (%(period)s).") % {
        "count": m["targets"],
        "period": m["period"],
    }


@evidence_check("shared_kpis_set", label=gettext_lazy("Shared KPIs set"), describe=_describe_targets)
def shared_kpis_set(now: datetime) -> Evidence:
    selector = _optional("kpis.selectors:current_targets_summary")
    if selector is None:
        return _unavailable("shared_kpis_set", "kpi_targets")
    data = selector(now=now)
    count = int(data["targets"])
    shared = int(data.get("shared_kpis_with_target", count))
    if count == 0:
        suggested = AnswerValue.NO
    elif shared >= int(data.get("shared_kpis_total", shared) or shared):
        suggested = AnswerValue.YES
    else:
        suggested = AnswerValue.PARTLY
    return Evidence(
        key="shared_kpis_set",
        state=MEASURED,
        suggested=suggested,
        source="kpis.selectors.current_targets_summary",
        metrics={"targets": count, "period": str(data.get("period", ""))},
    )


def _describe_reviews(ev: Evidence) -> str:
    m = ev.metrics
    if not m["reviews"]:
        return _("No KPI review was logged in the last 30 days.")
    return _("%(count)s KPI reviews were logged in the last 30 days (latest %(date)s).") % {
        "count": m["reviews"],
        "date": m["latest"],
    }


@evidence_check("kpis_reviewed", label=gettext_lazy("KPIs reviewed"), describe=_describe_reviews)
def kpis_reviewed(now: datetime) -> Evidence:
    selector = _optional("kpis.selectors:review_log_summary")
    if selector is None:
        return _unavailable("kpis_reviewed", "kpi_reviews")
    data = selector(since=now - REVIEW_WINDOW, until=now)
    count = int(data["reviews"])
    # Seed 000: a weekly review; four or more in 30 days is a routine, one to three is a start.
    suggested = AnswerValue.YES if count >= 4 else AnswerValue.PARTLY if count else AnswerValue.NO
    latest = data.get("latest")
    return Evidence(
        key="kpis_reviewed",
        state=MEASURED,
        suggested=suggested,
        source="kpis.selectors.review_log_summary",
        metrics={"reviews": count, "latest": timezone.localtime(latest).strftime("%Y/%m/%d") if latest else None},
    )


def _describe_nurture_period(ev: Evidence) -> str:
    m = ev.metrics
    if m.get("designed_days"):
        return _("A nurturing period of %(days)s days is designed.") % {"days": m["designed_days"]}
    return _("No nurturing period is designed (how many days a lead is nurtured before it is handed over or recycled).")


@evidence_check(
    "nurture_period_designed", label=gettext_lazy("Nurturing period designed"), describe=_describe_nurture_period
)
def nurture_period_designed(now: datetime) -> Evidence:
    # The designed period is the KPI plan's target for the average nurturing period.
    selector = _optional("kpis.selectors:nurture_period_days")
    if selector is None:
        return _unavailable("nurture_period_designed", "nurture_period")
    days = selector()
    return Evidence(
        key="nurture_period_designed",
        state=MEASURED,
        source=f"{selector.__module__}.{selector.__name__}",
        suggested=AnswerValue.YES if days else AnswerValue.NO,
        metrics={"designed_days": days},
    )
