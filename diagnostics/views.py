"""Diagnostics pages (thin: forms validate, services write, selectors read)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from tenants.decorators import tenant_permission_required
from tenants.tasking import enqueue_on_commit

from . import selectors, services, tasks
from .exports import assessment_csv
from .forms import AnswerForm, AssessmentStartForm, CompareForm, SideForm
from .models import AnswerValue, Assessment, Side

AUTO_REFRESH_POLLS = 30  # the health card polls every 2 s for at most a minute after "refresh now"


def _errors_of(error: ValidationError) -> dict[str, list[str]]:
    if hasattr(error, "error_dict"):
        return {field: [str(m) for m in messages_] for field, messages_ in error.message_dict.items()}
    return {"__all__": [str(m) for m in error.messages]}


def _attach(form, error: ValidationError) -> None:
    for field, errors in _errors_of(error).items():
        form.add_error(field if field in form.fields else None, errors)


# --- overview ------------------------------------------------------------------------------


@tenant_permission_required("view")
def index(request, slug):
    return _index(request, slug, AssessmentStartForm(templates=selectors.templates_active()))


def _index(request, slug, start_form, status=200):
    templates = selectors.templates_active()
    recent = list(selectors.assessments()[:30])
    context = {
        "templates": templates,
        "recent": recent,
        "start_form": start_form,
        "auto": selectors.latest_auto_diagnosis(),
        **_health_card_context(request, slug),
    }
    return render(request, "diagnostics/index.html", context, status=status)


@require_POST
@tenant_permission_required("answer_diagnosis")
def start(request, slug):
    templates = selectors.templates_active()
    form = AssessmentStartForm(request.POST, templates=templates)
    if form.is_valid():
        try:
            assessment = services.assessment_start(
                template_key=form.cleaned_data["template"], title=form.cleaned_data["title"], actor=request.user
            )
        except ValidationError as error:
            _attach(form, error)
        else:
            return redirect("diagnostics:answer", slug=slug, pk=assessment.pk)
    return _index(request, slug, form, status=400)


# --- answering -------------------------------------------------------------------------------


def _answer_context(request, assessment: Assessment) -> dict:
    respondent = selectors.respondent_for(assessment, request.user)
    mine = selectors.answers_by_item(respondent)
    categories, items = selectors.template_structure(assessment.template)
    evidence = selectors.assessment_evidence(assessment)
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
        "allowed_sides": selectors.respondent_sides_for_role(getattr(request.membership, "role", None)),
        "side_form": SideForm(initial={"side": respondent.side if respondent else None}),
        **_progress_context(assessment, respondent, total=len(items)),
    }


def _answer_row(item, answer, evidence: dict, *, errors=None, posted=None) -> dict:
    from .scorecard import ItemResult, find_contradiction

    ev = evidence.get(item.evidence_key) if item.evidence_key else None
    contradiction = None
    if answer is not None and ev is not None:
        from .models import ANSWER_POINTS

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


def _progress_context(assessment: Assessment, respondent, *, total: int) -> dict:
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


@tenant_permission_required("answer_diagnosis")
def answer(request, slug, pk):
    assessment = selectors.assessment_get(pk)
    if not assessment.is_open:
        return redirect("diagnostics:result", slug=slug, pk=pk)
    return render(request, "diagnostics/answer.html", _answer_context(request, assessment))


@require_POST
@tenant_permission_required("answer_diagnosis")
def answer_save(request, slug, pk, item_id):
    """Save one answer the moment it is chosen; answers the item row and the progress (out of band)."""
    assessment = selectors.assessment_get(pk)
    form = AnswerForm(request.POST)
    errors: dict = {}
    saved = None
    if form.is_valid():
        try:
            saved = services.answer_record(
                assessment=assessment,
                user=request.user,
                item_id=item_id,
                value=form.cleaned_data["value"],
                note=form.cleaned_data["note"],
            )
        except ValidationError as error:
            errors = _errors_of(error)
    else:
        errors = {field: [str(e) for e in errs] for field, errs in form.errors.items()}
    categories, items = selectors.template_structure(assessment.template)
    item = next((i for i in items if i.pk == item_id), None)
    if item is None:
        return HttpResponse(
            " ".join(sum(errors.values(), [])) or _("This item is not part of the checklist."),
            status=400 if errors else 404,
            content_type="text/plain; charset=utf-8",
        )
    assessment.refresh_from_db()
    respondent = selectors.respondent_for(assessment, request.user)
    previous = saved or selectors.answers_by_item(respondent).get(item_id)
    evidence = (
        selectors.assessment_evidence(assessment, keys=[item.evidence_key]) if item.evidence_key and saved else {}
    )
    row = _answer_row(
        item,
        previous,
        evidence,
        errors=errors,
        posted={"value": request.POST.get("value", ""), "note": request.POST.get("note", "")} if errors else None,
    )
    row["number"] = next((n for n, i in enumerate(items, start=1) if i.pk == item_id), 0)
    context = {
        "assessment": assessment,
        "row": row,
        "choices": AnswerValue.choices,
        "respondent": respondent,
        **_progress_context(assessment, respondent, total=len(items)),
    }
    if not request.htmx:
        if errors:
            messages.error(request, " ".join(sum(errors.values(), [])))
            return render(request, "diagnostics/answer.html", _answer_context(request, assessment), status=400)
        return redirect("diagnostics:answer", slug=slug, pk=pk)
    return render(request, "diagnostics/_answer_saved.html", context, status=400 if errors else 200)


@require_POST
@tenant_permission_required("answer_diagnosis")
def respondent_side(request, slug, pk):
    assessment = selectors.assessment_get(pk)
    form = SideForm(request.POST)
    if form.is_valid():
        try:
            services.respondent_set_side(assessment=assessment, user=request.user, side=form.cleaned_data["side"])
        except ValidationError as error:
            _attach(form, error)
    if form.errors:
        messages.error(request, " ".join(e for errs in form.errors.values() for e in errs))
        return render(request, "diagnostics/answer.html", _answer_context(request, assessment), status=400)
    messages.success(request, _("You now answer for %(side)s.") % {"side": Side(form.cleaned_data["side"]).label})
    return redirect("diagnostics:answer", slug=slug, pk=pk)


@require_POST
@tenant_permission_required("answer_diagnosis")
def complete(request, slug, pk):
    assessment = selectors.assessment_get(pk)
    try:
        services.assessment_complete(assessment=assessment, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(sum(_errors_of(error).values(), [])))
        if assessment.is_open:
            return render(request, "diagnostics/answer.html", _answer_context(request, assessment), status=400)
        return redirect("diagnostics:result", slug=slug, pk=pk)
    messages.success(request, _("Assessment completed. The evidence was measured and kept with it."))
    return redirect("diagnostics:result", slug=slug, pk=pk)


# --- results -------------------------------------------------------------------------------


def _result_context(request, slug, assessment: Assessment) -> dict:
    scorecard = selectors.assessment_scorecard(assessment, slug=slug)
    return {
        "assessment": assessment,
        "scorecard": scorecard,
        "is_auto": assessment.kind == Assessment.Kind.AUTO,
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


@tenant_permission_required("view")
def result(request, slug, pk):
    assessment = selectors.assessment_get(pk)
    return render(request, "diagnostics/result.html", _result_context(request, slug, assessment))


@tenant_permission_required("view")
def report(request, slug, pk):
    assessment = selectors.assessment_get(pk)
    context = _result_context(request, slug, assessment)
    context["printed_at"] = timezone.now()
    return render(request, "diagnostics/report.html", context)


@tenant_permission_required("export")
def export_csv(request, slug, pk):
    assessment = selectors.assessment_get(pk)
    scorecard = selectors.assessment_scorecard(assessment, slug=slug)
    body = assessment_csv(assessment=assessment, scorecard=scorecard, base_url=request.build_absolute_uri("/"))
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    filename = f"ondo-diagnosis-{assessment.template.key}-{assessment.created_at:%Y%m%d}-{assessment.pk}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- history and comparison --------------------------------------------------------------------


@tenant_permission_required("view")
def history(request, slug, template_key):
    template = selectors.template_get(template_key)
    data = selectors.history(template)
    context = {
        "template": template,
        "rows": list(reversed(data["assessments"])),
        "chart": _trend_chart(data),
        "compare_form": CompareForm(),
        "auto_chart": None,
    }
    if template.key == selectors.AUTO_TEMPLATE_KEY:
        autos = selectors.history(template, kind=Assessment.Kind.AUTO)
        if len(autos["labels"]) > 1:  # one point is not a trend yet
            context["auto_chart"] = _trend_chart(autos)
    return render(request, "diagnostics/history.html", context)


OVERALL_COLOUR = "#3a4552"  # the overall line in ink, the categories in the chart palette


def _trend_chart(data: dict) -> dict:
    series = [
        {"label": s["label"], "data": s["data"]}
        if s["key"] != "overall"
        else {"label": _("Overall"), "data": s["data"], "color": OVERALL_COLOUR}
        for s in data["series"]
    ]
    return {"labels": data["labels"], "series": series, "unit": "number", "max": 100, "fill": False}


@require_GET
@tenant_permission_required("view")
def compare(request, slug):
    form = CompareForm(request.GET)
    error = None
    if form.is_valid():
        first = Assessment.objects.select_related("template").filter(pk=form.cleaned_data["a"]).first()
        second = Assessment.objects.select_related("template").filter(pk=form.cleaned_data["b"]).first()
        if first is None or second is None:
            error = _("Choose two assessments to compare.")
        elif first.pk == second.pk:
            error = _("Choose two different assessments.")
        elif first.template_id != second.template_id:
            error = _("Only assessments of the same checklist can be compared.")
        else:
            if first.created_at > second.created_at:
                first, second = second, first
            return render(request, "diagnostics/compare.html", selectors.compare(first, second, slug=slug))
    else:
        error = " ".join(e for errs in form.errors.values() for e in errs)
    return render(request, "diagnostics/compare.html", {"error": error}, status=400)


# --- auto-diagnosis health card -----------------------------------------------------------------


def _health_card_context(request, slug, *, waiting_since: datetime | None = None, polls: int = 0) -> dict:
    auto = selectors.latest_auto_diagnosis()
    scorecard = selectors.assessment_scorecard(auto, slug=slug) if auto else None
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


@require_GET
@tenant_permission_required("view")
def health_card(request, slug):
    """The auto-diagnosis as a card (fragment): the KPI dashboard loads it with hx-get."""
    waiting_since = None
    polls = 0
    if request.GET.get("since"):
        try:
            waiting_since = datetime.fromisoformat(request.GET["since"])
            polls = int(request.GET.get("n", "0"))
        except ValueError:
            return HttpResponse(_("Invalid refresh marker."), status=400, content_type="text/plain; charset=utf-8")
        if timezone.is_naive(waiting_since):
            return HttpResponse(_("Invalid refresh marker."), status=400, content_type="text/plain; charset=utf-8")
    return render(
        request,
        "diagnostics/_health_card.html",
        _health_card_context(request, slug, waiting_since=waiting_since, polls=polls),
    )


@require_POST
@tenant_permission_required("answer_diagnosis")
def auto_refresh(request, slug):
    """Measure the auto-diagnosis now (in the background; the card polls until it is there)."""
    latest = selectors.latest_auto_diagnosis()
    since = latest.completed_at if latest else timezone.now() - timedelta(days=3650)
    enqueue_on_commit(tasks.run_auto_diagnosis, request.tenant.id)
    if request.htmx:
        return render(
            request, "diagnostics/_health_card.html", _health_card_context(request, slug, waiting_since=since)
        )
    messages.info(request, _("The auto-diagnosis is being measured; it appears here in a moment."))
    return redirect("diagnostics:index", slug=slug)
