"""Reads of the scoring app: versions, segment counts, impact previews, explanations, alerts."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone

from leads.models import Lead

from . import engine
from .evaluate import ModelSpec, Score
from .models import HotLeadAlert, ModelStatus, RunStatus, ScoreRun, ScoringModel

# Above this many leads the draft preview scores a sample (every k-th lead id) and says so.
PREVIEW_EXACT_UP_TO = 100_000


def models_list() -> list[ScoringModel]:
    return list(
        ScoringModel.objects.annotate(
            n_behaviour=Count("behaviour_rules", distinct=True), n_fit=Count("fit_rules", distinct=True)
        ).order_by("-version")
    )


def model_get(version: int) -> ScoringModel | None:
    return ScoringModel.objects.filter(version=version).first()


def active_model() -> ScoringModel | None:
    return ScoringModel.objects.filter(status=ModelStatus.ACTIVE).first()


def draft_model() -> ScoringModel | None:
    return ScoringModel.objects.filter(status=ModelStatus.DRAFT).first()


def current_segment_counts() -> dict[str, int]:
    rows = Lead.objects.values("segment").annotate(n=Count("id")).order_by()
    return {row["segment"] or "": row["n"] for row in rows}


def impact_preview(spec: ModelSpec) -> dict:
    """Segment counts now (stored scores) and under `spec`, for the current data."""
    total = Lead.objects.count()
    every = 1
    if total > PREVIEW_EXACT_UP_TO:
        every = max(2, total // PREVIEW_EXACT_UP_TO)
    after = engine.segment_counts_for(spec, sample_every=every)
    if every > 1:
        after = {key: count * every for key, count in after.items()}
    before = current_segment_counts()
    rows = []
    for segment in spec.ordered_segments:
        b, a = before.get(segment.key, 0), after.get(segment.key, 0)
        rows.append(
            {
                "key": segment.key,
                "label": segment.label,
                "colour": segment.colour,
                "before": b,
                "after": a,
                "delta": a - b,
            }
        )
    return {"rows": rows, "estimated": every > 1, "total": total, "unscored": before.get("", 0)}


def latest_run() -> ScoreRun | None:
    return ScoreRun.objects.order_by("-created_at", "-id").first()


def run_get(run_id: int) -> ScoreRun | None:
    return ScoreRun.objects.filter(pk=run_id).first()


def runs_active() -> list[ScoreRun]:
    return list(ScoreRun.objects.filter(status__in=[RunStatus.QUEUED, RunStatus.RUNNING]))


def explanation(lead: Lead) -> dict:
    """The lead's stored score and the rules behind it."""
    score: Score | None = engine.explain(lead)
    model = ScoringModel.objects.filter(version=lead.score_model_version).first() if lead.score_model_version else None
    segments = (
        {s.key: s for s in (model or active_model() or ScoringModel()).segments.all()}
        if (model or active_model())
        else {}
    )
    return {
        "lead": lead,
        "score": score,
        "fired": score.fired if score else [],
        "segment": segments.get(lead.segment),
        "model_version": lead.score_model_version,
        "scored_at": lead.scored_at,
        "consistent": score is None or (score.total == lead.score_total and score.segment == lead.segment),
    }


def explanation_dict(lead: Lead) -> dict:
    data = explanation(lead)
    return {
        "lead_id": lead.pk,
        "score_behaviour": lead.score_behaviour,
        "score_fit": lead.score_fit,
        "score_total": lead.score_total,
        "segment": lead.segment,
        "model_version": lead.score_model_version,
        "scored_at": lead.scored_at,
        "rules": [
            {
                "kind": f.kind,
                "rule_id": f.rule_id,
                "label": f.label,
                "points": f.points,
                "count": f.count,
                "detail": f.detail,
            }
            for f in data["fired"]
        ],
    }


def alerts_list(*, status: str = "open"):
    queryset = HotLeadAlert.objects.select_related("lead", "lead__owner", "followed_up_by")
    now = timezone.now()
    if status == "open":
        queryset = queryset.filter(followed_up_at__isnull=True)
    elif status == "overdue":
        queryset = queryset.filter(followed_up_at__isnull=True, due_at__lt=now)
    elif status == "done":
        queryset = queryset.filter(followed_up_at__isnull=False)
    return queryset.order_by("due_at", "id") if status != "done" else queryset.order_by("-followed_up_at")


def alert_counts() -> dict[str, int]:
    now = timezone.now()
    return HotLeadAlert.objects.aggregate(
        open=Count("id", filter=Q(followed_up_at__isnull=True)),
        overdue=Count("id", filter=Q(followed_up_at__isnull=True, due_at__lt=now)),
        done=Count("id", filter=Q(followed_up_at__isnull=False)),
    )


def leads_needing_rescore(*, since: datetime | None, until: datetime, limit: int = 5000) -> list[int]:
    """Leads never scored or scored with another model version, and leads with activity received in
    (since, until] — whose rescore task may have been lost (e.g. a Redis outage). Rescoring a lead
    that is already up to date writes nothing."""
    model = active_model()
    if model is None:
        return []
    since = since or until - timedelta(days=2)
    from tenants.context import require_tenant_id

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT id FROM (
                SELECT l.id FROM leads_lead l
                WHERE l.tenant_id = %(t)s AND (l.scored_at IS NULL OR l.score_model_version IS DISTINCT FROM %(v)s)
                UNION
                SELECT a.lead_id FROM leads_activity a
                WHERE a.tenant_id = %(t)s AND a.lead_id IS NOT NULL
                  AND a.occurred_at >= %(since)s::timestamptz - interval '2 days'
                  AND a.received_at > %(since)s AND a.received_at <= %(until)s
            ) x ORDER BY id LIMIT %(limit)s
            """,
            {"t": require_tenant_id(), "v": model.version, "since": since, "until": until, "limit": limit},
        )
        return [row[0] for row in cursor.fetchall()]


def lead_ids_after(cursor: int, *, limit: int) -> list[int]:
    """The next `limit` lead ids of the active tenant after `cursor`, in id order (the reconciliation walk)."""
    return list(Lead.objects.filter(pk__gt=cursor).order_by("pk").values_list("pk", flat=True)[:limit])


def compare_versions(left: ScoringModel, right: ScoringModel) -> dict:
    """A readable rule-by-rule diff between two versions (matched by item name)."""
    from .services import model_to_sheet

    a, b = model_to_sheet(left), model_to_sheet(right)

    def index(rules):
        return {r["label"]: r for r in rules}

    sections = []
    for kind, left_rules, right_rules in (
        ("behaviour", a.behaviour, b.behaviour),
        ("fit", a.fit, b.fit),
        ("segment", a.segments, b.segments),
    ):
        li, ri = index(left_rules), index(right_rules)
        rows = []
        for label in list(li) + [x for x in ri if x not in li]:
            old, new = li.get(label), ri.get(label)
            if old is None:
                state = "added"
            elif new is None:
                state = "removed"
            elif {k: v for k, v in old.items() if k != "description"} != {
                k: v for k, v in new.items() if k != "description"
            }:
                state = "changed"
            else:
                state = "same"
            changes = []
            if state == "changed":
                changes = [(k, old.get(k), new.get(k)) for k in new if k != "description" and old.get(k) != new.get(k)]
            rows.append({"label": label, "state": state, "old": old, "new": new, "changes": changes})
        sections.append({"kind": kind, "rows": rows})
    caps = [("behaviour_cap", a.behaviour_cap, b.behaviour_cap), ("fit_cap", a.fit_cap, b.fit_cap)]
    return {"left": left, "right": right, "sections": sections, "caps": [c for c in caps if c[1] != c[2]]}


def spec_with_edit(model: ScoringModel, *, kind: str, rule_id: int | None, data: dict) -> ModelSpec:
    """The model's spec with one rule replaced (or added) by unsaved, validated form data —
    what the editor previews before anything is saved."""
    from dataclasses import replace

    from .evaluate import BehaviourSpec, FitSpec

    spec = engine.spec_for(model)
    if kind == "behaviour":
        new = BehaviourSpec(
            id=rule_id,
            label=data["label"],
            activity_type=data["activity_type"],
            points=data["points"],
            url_match=data.get("url_match") or "",
            url_value=data.get("url_value") or "",
            content_id=data.get("content_id") or "",
            campaign=data.get("campaign") or "",
            count_mode=data.get("count_mode") or "once",
            max_count=data.get("max_count"),
            min_count=data.get("min_count"),
            window_days=data.get("window_days"),
            recency_days=data.get("recency_days"),
            half_life_days=data.get("half_life_days"),
        )
        rules = [r for r in spec.behaviour if rule_id is None or r.id != rule_id] + [new]
        return replace(spec, behaviour=tuple(rules))
    new_fit = FitSpec(
        id=rule_id,
        label=data["label"],
        field=data["field"],
        operator=data["operator"],
        points=data["points"],
        values=tuple(data.get("values") or ()),
        number_min=data.get("number_min"),
        number_max=data.get("number_max"),
        group=data.get("group") or "",
    )
    rules = [r for r in spec.fit if rule_id is None or r.id != rule_id] + [new_fit]
    return replace(spec, fit=tuple(rules))


def top_segment_key() -> str:
    """The one answer to "which segment is hot": the active model's top segment (it triggers
    hot-lead alerts). Every other app asks here instead of writing the key itself."""
    model = active_model()
    return engine.hot_key(engine.spec_for(model)) if model else engine.DEFAULT_TOP_SEGMENT


def follow_up_hours() -> int:
    """The one answer to "how many hours may a hot lead wait for sales" for the current tenant."""
    return engine.follow_up_hours()
