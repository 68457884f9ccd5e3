"""Reads of the diagnostics app: templates, assessments, their scorecards, history and comparison."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from . import evidence as evidence_module
from .evidence import Evidence
from .models import Answer, Assessment, ChecklistCategory, ChecklistItem, ChecklistTemplate, Respondent, Side
from .scorecard import AnswerRow, Scorecard, build_scorecard

# The auto-diagnosis measures the evidence-backed items of the seed's 30-item diagnosis.
AUTO_TEMPLATE_KEY = "lead_nurturing_30"


def templates_active() -> list[ChecklistTemplate]:
    return list(
        ChecklistTemplate.objects.filter(is_active=True)
        .annotate(
            item_count=Count("items", filter=Q(items__is_active=True)),
            evidence_count=Count("items", filter=Q(items__is_active=True) & ~Q(items__evidence_key="")),
        )
        .order_by("position", "key")  # Meta.ordering does not apply to GROUP BY queries
    )


def template_get(key: str) -> ChecklistTemplate:
    template = ChecklistTemplate.objects.filter(key=key, is_active=True).first()
    if template is None:
        raise Http404("No such checklist.")
    return template


def template_structure(template: ChecklistTemplate, *, evidence_only: bool = False):
    """(categories, items) of a template in display order."""
    items = ChecklistItem.objects.filter(template=template, is_active=True).select_related("category")
    if evidence_only:
        items = items.exclude(evidence_key="")
    items = list(items.order_by("category__position", "position"))
    categories = list(ChecklistCategory.objects.filter(template=template).order_by("position"))
    return categories, items


def assessment_get(pk: int) -> Assessment:
    """The active tenant's assessment; another tenant's id answers 404 exactly like a missing one."""
    assessment = Assessment.objects.select_related("template", "started_by").filter(pk=pk).first()
    if assessment is None:
        raise Http404("No such assessment.")
    return assessment


def assessments(*, template: ChecklistTemplate | None = None, kind: str = Assessment.Kind.MANUAL) -> QuerySet:
    queryset = Assessment.objects.filter(kind=kind).select_related("template", "started_by")
    if template is not None:
        queryset = queryset.filter(template=template)
    return queryset.annotate(respondent_count=Count("respondents", distinct=True)).order_by("-created_at", "-id")


def latest_auto_diagnosis() -> Assessment | None:
    return (
        Assessment.objects.filter(kind=Assessment.Kind.AUTO, template__key=AUTO_TEMPLATE_KEY)
        .select_related("template")
        .order_by("-created_at", "-id")
        .first()
    )


def answer_rows(assessment: Assessment) -> list[AnswerRow]:
    rows = (
        Answer.objects.filter(assessment=assessment)
        .select_related("respondent__user")
        .order_by("item_id", "respondent__side", "respondent_id")
    )
    result = []
    for answer in rows:
        respondent = answer.respondent
        name = respondent.user.display_name if respondent.user_id else str(respondent.get_side_display())
        result.append(
            AnswerRow(
                item_id=answer.item_id,
                respondent_id=respondent.pk,
                respondent_name=name,
                side=respondent.side,
                value=answer.value,
                note=answer.note,
            )
        )
    return result


def assessment_evidence(
    assessment: Assessment, *, now: datetime | None = None, keys: list[str] | None = None
) -> dict[str, Evidence]:
    """The evidence as measured when the assessment was completed, or live while it is open
    (reusing a measurement of the last few minutes unless `now` is given)."""
    if assessment.completed_at is not None and assessment.evidence:
        measured = evidence_module.from_snapshot(assessment.evidence)
        return measured if keys is None else {k: v for k, v in measured.items() if k in keys}
    if keys is None:
        keys = list(
            ChecklistItem.objects.filter(template_id=assessment.template_id, is_active=True)
            .exclude(evidence_key="")
            .values_list("evidence_key", flat=True)
        )
    return evidence_module.compute_many(keys, now=now, cached=now is None)


def assessment_scorecard(
    assessment: Assessment,
    *,
    slug: str | None = None,
    evidence: dict[str, Evidence] | None = None,
    with_evidence: bool = True,
) -> Scorecard:
    categories, items = template_structure(assessment.template, evidence_only=assessment.kind == Assessment.Kind.AUTO)
    if with_evidence and evidence is None:
        evidence = assessment_evidence(assessment)
    return build_scorecard(
        categories=categories,
        items=items,
        answers=answer_rows(assessment),
        evidence=evidence if with_evidence else None,
        slug=slug,
    )


def respondent_for(assessment: Assessment, user) -> Respondent | None:
    return Respondent.objects.filter(assessment=assessment, user=user).first()


def answers_by_item(respondent: Respondent | None) -> dict[int, Answer]:
    if respondent is None:
        return {}
    return {a.item_id: a for a in Answer.objects.filter(respondent=respondent)}


def history(template: ChecklistTemplate, *, kind: str = Assessment.Kind.MANUAL, limit: int = 104) -> dict:
    """A template's assessments, and the trend series per category (plus overall) over the
    completed ones, oldest first (an assessment still being answered is listed but not plotted)."""
    rows = list(assessments(template=template, kind=kind).order_by("-created_at", "-id")[:limit])
    rows.reverse()
    plotted = [a for a in rows if a.completed_at is not None]
    categories = list(ChecklistCategory.objects.filter(template=template).order_by("position"))
    labels = [timezone.localtime(a.created_at).strftime("%Y/%m/%d") for a in plotted]
    series = [
        {"key": c.key, "label": c.name, "data": [(a.summary.get("categories") or {}).get(c.key) for a in plotted]}
        for c in categories
    ]
    series.append({"key": "overall", "label": None, "data": [a.summary.get("overall") for a in plotted]})
    return {"assessments": rows, "categories": categories, "labels": labels, "series": series}


def compare(first: Assessment, second: Assessment, *, slug: str | None = None) -> dict:
    """Two assessments of the same template side by side: scores, deltas in points and changed items."""
    if first.template_id != second.template_id:
        raise ValueError("Only assessments of the same checklist can be compared.")
    a = assessment_scorecard(first, slug=slug, with_evidence=False)
    b = assessment_scorecard(second, slug=slug, with_evidence=False)

    def delta(x, y):
        return None if x is None or y is None else round(y - x, 1)

    groups = [
        {"label": ga.label, "a": ga.score, "b": gb.score, "delta": delta(ga.score, gb.score)}
        for ga, gb in zip([a.overall, *a.categories], [b.overall, *b.categories], strict=True)
    ]
    causes = [
        {"label": ga.label, "a": ga.score, "b": gb.score, "delta": delta(ga.score, gb.score)}
        for ga, gb in zip(a.causes, b.causes, strict=True)
    ]
    changed = [
        {
            "item": ia,
            "a": ia,
            "b": ib,
            "delta": None if ia.points is None or ib.points is None else round(100 * (ib.points - ia.points), 1),
        }
        for ia, ib in zip(a.items, b.items, strict=True)
        if ia.status != ib.status or (ia.points is not None and ib.points is not None and ia.points != ib.points)
    ]
    return {
        "first": first,
        "second": second,
        "groups": groups,
        "causes": causes,
        "changed": changed,
        "scorecards": (a, b),
    }


def respondent_sides_for_role(role: str | None) -> list[str]:
    """Which side a member may answer for: marketing and sales answer for their own side, admins choose."""
    if role == "marketing":
        return [Side.MARKETING]
    if role == "sales":
        return [Side.SALES]
    if role == "admin":
        return [Side.MARKETING, Side.SALES]
    return []
