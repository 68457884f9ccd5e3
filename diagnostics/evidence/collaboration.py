"""Checks of how marketing and sales work together (checklist area "collaboration"): an agreed MQL
definition, sales' outcomes on the leads handed over, and reasons recorded for rejected leads."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Count, DurationField, ExpressionWrapper, F, OuterRef, Q, Subquery
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from leads.models import FeedbackOutcome, LeadFeedback
from mql import services as mql_services
from mql.models import Handover
from scoring import selectors as scoring_selectors

from ..models import AnswerValue
from .base import MEASURED, Evidence, evidence_check, grade, n, no_data, pct

FEEDBACK_WINDOW = timedelta(days=90)
FEEDBACK_SHARE_YES, FEEDBACK_SHARE_PARTLY = 80.0, 50.0
REASONS_WINDOW = timedelta(days=180)
REASONS_YES, REASONS_PARTLY = 90.0, 50.0

# --- MQL definition agreed --------------------------------------------------------------------

MQL_SOURCE = "mql.services.active_definition + MqlApproval"


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
    active = mql_services.active_definition()
    if active is None:
        return Evidence(
            key="mql_definition_agreed",
            state=MEASURED,
            suggested=AnswerValue.NO,
            source=MQL_SOURCE,
            metrics={"active_version": None, "agreed": False},
        )
    # Approvals bound to the conditions that are active now (a handful of rows).
    roles = {approval.role for approval in active.approvals.all() if approval.is_current}
    by_marketing, by_sales = "marketing" in roles, "sales" in roles
    agreed = by_marketing and by_sales
    return Evidence(
        key="mql_definition_agreed",
        state=MEASURED,
        source=MQL_SOURCE,
        suggested=AnswerValue.YES if agreed else AnswerValue.PARTLY,
        metrics={
            "active_version": active.version,
            "agreed": agreed,
            "approved_by_marketing": by_marketing,
            "approved_by_sales": by_sales,
        },
    )


# --- sales feedback ---------------------------------------------------------------------------

FEEDBACK_SOURCE = "mql.models.Handover"


def _describe_feedback(ev: Evidence) -> str:
    m = ev.metrics
    text = _("Sales recorded an outcome for %(pct)s %% of %(count)s leads handed over in the last 90 days.") % {
        "pct": m["with_outcome_pct"],
        "count": n(m["handed_over"]),
    }
    if m.get("median_hours") is not None:
        text += " " + _("Median time to the first outcome: %(hours)s h (deadline %(deadline)s h).") % {
            "hours": m["median_hours"],
            "deadline": m["deadline_hours"],
        }
    return text


@evidence_check("sales_feedback_given", label=gettext_lazy("Sales feedback given"), describe=_describe_feedback)
def sales_feedback_given(now: datetime) -> Evidence:
    deadline_hours = scoring_selectors.follow_up_hours()
    first_outcome = (
        LeadFeedback.objects.filter(lead_id=OuterRef("lead_id"), occurred_at__gte=OuterRef("handed_over_at"))
        .order_by("occurred_at")
        .values("occurred_at")[:1]
    )
    handovers = Handover.objects.filter(handed_over_at__gte=now - FEEDBACK_WINDOW, handed_over_at__lte=now).annotate(
        first_outcome=Subquery(first_outcome)
    )
    counts = handovers.aggregate(
        total=Count("id"),
        answered=Count("id", filter=Q(first_outcome__isnull=False)),
        on_time=Count("id", filter=Q(first_outcome__lte=F("deadline_at"))),
    )
    if not counts["total"]:
        return no_data("sales_feedback_given", "no_handovers", FEEDBACK_SOURCE)
    median_hours = None
    if counts["answered"]:
        delays = (
            handovers.filter(first_outcome__isnull=False)
            .annotate(delay=ExpressionWrapper(F("first_outcome") - F("handed_over_at"), output_field=DurationField()))
            .order_by("delay")
            .values_list("delay", flat=True)
        )
        # The median row is picked in the database (ORDER BY … OFFSET n/2), not in Python.
        median = delays[(counts["answered"] - 1) // 2]
        median_hours = round(median.total_seconds() / 3600, 1)
    share = pct(counts["answered"], counts["total"])
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
        source=FEEDBACK_SOURCE,
        metrics={
            "handed_over": counts["total"],
            "with_outcome": counts["answered"],
            "with_outcome_pct": share,
            "on_time_pct": pct(counts["on_time"], counts["total"]),
            "median_hours": median_hours,
            "deadline_hours": deadline_hours,
            "window_days": FEEDBACK_WINDOW.days,
        },
    )


# --- rejection reasons ---------------------------------------------------------------------------

REASONS_SOURCE = "leads.models (aggregate)"


def _describe_reasons(ev: Evidence) -> str:
    return _("%(pct)s %% of %(count)s rejected or lost leads in the last 180 days have a recorded reason.") % {
        "pct": ev.metrics["with_reason_pct"],
        "count": n(ev.metrics["rejected"]),
    }


@evidence_check(
    "rejection_reasons_recorded", label=gettext_lazy("Rejection reasons recorded"), describe=_describe_reasons
)
def rejection_reasons_recorded(now: datetime) -> Evidence:
    rejected = LeadFeedback.objects.filter(
        outcome__in=[FeedbackOutcome.REJECTED, FeedbackOutcome.LOST],
        occurred_at__gte=now - REASONS_WINDOW,
        occurred_at__lte=now,
    )
    counts = rejected.aggregate(total=Count("id"), with_reason=Count("id", filter=~Q(reason="")))
    if not counts["total"]:
        return no_data("rejection_reasons_recorded", "no_rejections", REASONS_SOURCE)
    share = pct(counts["with_reason"], counts["total"])
    return Evidence(
        key="rejection_reasons_recorded",
        state=MEASURED,
        suggested=grade(share, REASONS_YES, REASONS_PARTLY),
        source=REASONS_SOURCE,
        metrics={
            "rejected": counts["total"],
            "with_reason": counts["with_reason"],
            "with_reason_pct": share,
            "window_days": REASONS_WINDOW.days,
        },
    )
