"""Checks of the scoring setup (checklist areas "data and targeting" and "collaboration"):
leads segmented by an active model, and leads entering the top segment notified to sales.

Which segment is the top one is the scoring app's answer (`scoring.selectors.top_segment_key`),
never a key written here: a tenant may call it "hot", "burning" or anything else.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import reduce

from django.db.models import Count, Exists, F, OuterRef
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from scoring import selectors as scoring_selectors
from scoring.models import HotLeadAlert, SegmentTransition

from ..models import AnswerValue
from .base import MEASURED, Evidence, evidence_check, live_leads, n, no_data, pct

SEGMENTED_YES = 90.0  # % of leads carrying a segment
HOT_WINDOW = timedelta(days=90)
HOT_ALERTED_YES = 90.0


def _active_segments() -> list[dict] | None:
    """The active model's segments, top first ({key, label} each); None when no model is active."""
    model = scoring_selectors.active_model()
    if model is None:
        return None
    return [{"key": key, "label": label} for key, label in model.segments.values_list("key", "label")]


# --- segmentation -------------------------------------------------------------------------

SEGMENTATION_SOURCE = "scoring.selectors.active_model + leads.models (aggregate)"


def _describe_segmentation(ev: Evidence) -> str:
    m = ev.metrics
    if m.get("active_model") is False:
        return _("No scoring model is active, so leads are not segmented (%(pct)s %% carry an old segment).") % {
            "pct": m["segmented_pct"]
        }
    counts = m["segments"]
    # Snapshots kept before the model's segments were recorded name the counted keys only.
    named = m.get("model_segments") or [{"key": key, "label": key} for key in counts]
    parts = [_("%(segment)s %(count)s") % {"segment": s["label"], "count": n(counts.get(s["key"], 0))} for s in named]
    breakdown = (
        reduce(lambda done, part: _("%(list)s, %(item)s") % {"list": done, "item": part}, parts) if parts else "—"
    )
    return _("%(pct)s %% of leads are segmented (%(breakdown)s).") % {"pct": m["segmented_pct"], "breakdown": breakdown}


@evidence_check("segmentation_active", label=gettext_lazy("Leads segmented"), describe=_describe_segmentation)
def segmentation_active(now: datetime) -> Evidence:
    segments = _active_segments()
    active_model = bool(segments)
    by_segment = dict(
        live_leads().exclude(segment="").values_list("segment").annotate(n=Count("id")).values_list("segment", "n")
    )
    total = live_leads().count()
    if not total:
        return no_data("segmentation_active", "no_leads", SEGMENTATION_SOURCE)
    share = pct(sum(by_segment.values()), total)
    if not active_model:
        suggested = AnswerValue.NO
    else:
        suggested = AnswerValue.YES if share >= SEGMENTED_YES else AnswerValue.PARTLY if share > 0 else AnswerValue.NO
    return Evidence(
        key="segmentation_active",
        state=MEASURED,
        suggested=suggested,
        source=SEGMENTATION_SOURCE,
        metrics={
            "leads": total,
            "segmented_pct": share,
            "segments": by_segment,
            "model_segments": segments or [],
            "active_model": active_model,
        },
    )


# --- alerts on the top segment ------------------------------------------------------------

HOT_ALERTS_SOURCE = "scoring.selectors.top_segment_key + scoring.models (SegmentTransition, HotLeadAlert)"


def _describe_hot_alerts(ev: Evidence) -> str:
    m = ev.metrics
    if not m.get("enabled"):
        return _("No active scoring model has a hot segment, so no hot-lead alert can be sent.")
    return _(
        "%(pct)s %% of %(count)s transitions into hot in the last 90 days were notified; "
        "%(on_time)s %% were followed up within the deadline."
    ) % {"pct": m["alerted_pct"], "count": n(m["hot_transitions"]), "on_time": m["followed_up_on_time_pct"]}


@evidence_check(
    "hot_alerts_enabled", label=gettext_lazy("Hot leads notified automatically"), describe=_describe_hot_alerts
)
def hot_alerts_enabled(now: datetime) -> Evidence:
    top = scoring_selectors.top_segment_key()
    # Alerts fire on entering the active model's top segment; without an active model none can fire.
    enabled = any(segment["key"] == top for segment in _active_segments() or [])
    transitions = SegmentTransition.objects.filter(
        to_segment=top, occurred_at__gte=now - HOT_WINDOW, occurred_at__lte=now
    )
    alerts = HotLeadAlert.objects.filter(transition_id=OuterRef("pk"))
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
            source=HOT_ALERTS_SOURCE,
            metrics={"enabled": False, "hot_transitions": counts["total"]},
        )
    if not counts["total"]:
        return no_data("hot_alerts_enabled", "no_hot_transitions", HOT_ALERTS_SOURCE, enabled=True, top_segment=top)
    share = pct(counts["alerted"], counts["total"])
    return Evidence(
        key="hot_alerts_enabled",
        state=MEASURED,
        source=HOT_ALERTS_SOURCE,
        suggested=AnswerValue.YES if share >= HOT_ALERTED_YES else AnswerValue.PARTLY,
        metrics={
            "enabled": True,
            "top_segment": top,
            "hot_transitions": counts["total"],
            "alerted": counts["alerted"],
            "alerted_pct": share,
            "followed_up_on_time_pct": pct(counts["on_time"], counts["total"]),
        },
    )
