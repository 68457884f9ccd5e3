"""Reads of the diagnostics app: templates, assessments, their scorecards, history and comparison,
and the data of each page (views only render it)."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from . import evidence as evidence_module
from .evidence import Evidence
from .models import (
    ANSWER_POINTS,
    Answer,
    AnswerValue,
    Assessment,
    ChecklistCategory,
    ChecklistItem,
    ChecklistTemplate,
    Respondent,
    Side,
)
from .scorecard import AnswerRow, ItemResult, Scorecard, build_scorecard, find_contradiction

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


# --- page data (the views render these as they are) -------------------------------------------

AUTO_REFRESH_POLLS = 30  # the health card polls every 2 s for at most a minute after "refresh now"
OVERALL_COLOUR = "#3a4552"  # the overall line in ink, the categories in the chart palette


def answer_page(assessment: Assessment, user, *, role: str | None) -> dict:
    """The answer page: every item by category with the member's answer and, once answered, its evidence."""
    respondent = respondent_for(assessment, user)
    mine = answers_by_item(respondent)
    categories, items = template_structure(assessment.template)
    evidence = assessment_evidence(assessment)
    sections = []
    for category in categories:
        rows = [_answer_row(item, mine.get(item.pk), evidence) for item in items if item.category_id == category.pk]
        if rows:
            sections.append({"category": category, "rows": rows})
    number = 0
    for section in sections:
        for row in section["rows"]:
            number += 1
            row["number"] = number
    return {
        "assessment": assessment,
        "respondent": respondent,
        "sections": sections,
        "choices": AnswerValue.choices,
        "allowed_sides": respondent_sides_for_role(role),
        **_progress(assessment, respondent, total=len(items)),
    }


def answer_saved(
    assessment: Assessment, user, item_id: int, *, saved: Answer | None, errors: dict, posted: dict | None
) -> dict | None:
    """One item's row and the progress after saving (or refusing) an answer; None for an item
    that is not part of the checklist."""
    _categories, items = template_structure(assessment.template)
    item = next((i for i in items if i.pk == item_id), None)
    if item is None:
        return None
    assessment = assessment_get(assessment.pk)  # the summary as the save left it
    respondent = respondent_for(assessment, user)
    previous = saved or answers_by_item(respondent).get(item_id)
    evidence = assessment_evidence(assessment, keys=[item.evidence_key]) if item.evidence_key and saved else {}
    row = _answer_row(item, previous, evidence, errors=errors, posted=posted)
    row["number"] = next(n for n, i in enumerate(items, start=1) if i.pk == item_id)
    return {
        "assessment": assessment,
        "row": row,
        "choices": AnswerValue.choices,
        "respondent": respondent,
        **_progress(assessment, respondent, total=len(items)),
    }


def _answer_row(item, answer, evidence: dict, *, errors=None, posted=None) -> dict:
    ev = evidence.get(item.evidence_key) if item.evidence_key else None
    contradiction = None
    if answer is not None and ev is not None:
        points = ANSWER_POINTS.get(answer.value)
        status = {1.0: "met", 0.5: "partly", 0.0: "unmet"}.get(points, "na") if points is not None else "na"
        contradiction = find_contradiction(ItemResult(item=item, number=0, points=points, status=status, evidence=ev))
    return {
        "item": item,
        "answer": answer,
        "value": (posted or {}).get("value", answer.value if answer else ""),
        "note": (posted or {}).get("note", answer.note if answer else ""),
        "evidence": ev if answer is not None else None,
        "contradiction": contradiction,
        "errors": errors or {},
    }


def _progress(assessment: Assessment, respondent: Respondent | None, *, total: int) -> dict:
    mine = respondent.answers.count() if respondent else 0
    summary = assessment.summary or {}
    return {
        "progress": {
            "mine": mine,
            "total": total,
            "mine_pct": round(100.0 * mine / total, 1) if total else 0,
            "team_answered": summary.get("answered", 0),
            "team_pct": round(100.0 * summary.get("answered", 0) / total, 1) if total else 0,
            "respondents": summary.get("respondents", 0),
            "overall": summary.get("overall"),
            "mine_detail": f"{mine} / {total}",
            "team_detail": f"{summary.get('answered', 0)} / {total}",
        }
    }


def result_page(assessment: Assessment, *, slug: str) -> dict:
    """The result (and the printable report): the scorecard and the chart of the causes."""
    scorecard = assessment_scorecard(assessment, slug=slug)
    return {
        "assessment": assessment,
        "scorecard": scorecard,
        "is_auto": assessment.kind == Assessment.Kind.AUTO,
        "printed_at": timezone.now(),
        "cause_chart": {
            "labels": [c.label for c in scorecard.causes],
            "series": [
                {
                    "label": _("Score"),
                    "data": [c.score for c in scorecard.causes],
                    "colors": [_band_colour(c.score) for c in scorecard.causes],
                }
            ],
            "unit": "number",
            "max": 100,
            "horizontal": True,
        },
    }


def _band_colour(score: float | None) -> str:
    # The attainment colours of UI.md: ≥ 80 green, 50–79 amber, < 50 red (labels and values are shown too).
    if score is None:
        return "#cdd3db"
    return "#1a7a43" if score >= 80 else "#e39a16" if score >= 50 else "#c02d1d"


def history_page(template: ChecklistTemplate) -> dict:
    """A checklist's assessments, newest first, with the trend chart (and the auto-diagnosis' own)."""
    data = history(template)
    page = {
        "template": template,
        "rows": list(reversed(data["assessments"])),
        "chart": _trend_chart(data),
        "auto_chart": None,
    }
    if template.key == AUTO_TEMPLATE_KEY:
        autos = history(template, kind=Assessment.Kind.AUTO)
        if len(autos["labels"]) > 1:  # one point is not a trend yet
            page["auto_chart"] = _trend_chart(autos)
    return page


def _trend_chart(data: dict) -> dict:
    series = [
        {"label": s["label"], "data": s["data"]}
        if s["key"] != "overall"
        else {"label": _("Overall"), "data": s["data"], "color": OVERALL_COLOUR}
        for s in data["series"]
    ]
    return {"labels": data["labels"], "series": series, "unit": "number", "max": 100, "fill": False}


def compare_page(a: int, b: int, *, slug: str | None = None) -> dict:
    """Two of the tenant's assessments side by side, the earlier first; a ValidationError in the
    reader's language when they cannot be compared (another tenant's id reads like a missing one)."""
    found = Assessment.objects.select_related("template").in_bulk([a, b])
    first, second = found.get(a), found.get(b)
    if first is None or second is None:
        raise ValidationError(_("Choose two assessments to compare."))
    if first.pk == second.pk:
        raise ValidationError(_("Choose two different assessments."))
    if first.template_id != second.template_id:
        raise ValidationError(_("Only assessments of the same checklist can be compared."))
    if first.created_at > second.created_at:
        first, second = second, first
    return compare(first, second, slug=slug)


def health_card(*, slug: str, waiting_since: datetime | None = None, polls: int = 0) -> dict:
    """The auto-diagnosis card; while waiting for a refresh, whether to keep polling."""
    auto = latest_auto_diagnosis()
    scorecard = assessment_scorecard(auto, slug=slug) if auto else None
    refreshing = waiting_since is not None and (auto is None or auto.completed_at <= waiting_since)
    return {
        "auto": auto,
        "auto_scorecard": scorecard,
        "auto_top": scorecard.recommendations[:3] if scorecard else [],
        "refreshing": refreshing and polls < AUTO_REFRESH_POLLS,
        "refresh_stalled": refreshing and polls >= AUTO_REFRESH_POLLS,
        "waiting_since": waiting_since.isoformat() if waiting_since else "",
        "next_poll": polls + 1,
    }


def index_page(*, slug: str) -> dict:
    """The overview: checklists, the latest assessments and the health card."""
    return {
        "templates": templates_active(),
        "recent": list(assessments()[:30]),
        **health_card(slug=slug),
    }
