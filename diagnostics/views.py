"""Diagnostics pages (thin: forms validate, services write, selectors read and build the page data)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from tenants.decorators import render_htmx, tenant_permission_required

from . import selectors, services
from .exports import assessment_csv, assessment_csv_filename
from .forms import AnswerForm, AssessmentStartForm, CompareForm, SideForm, refresh_marker
from .models import Side


def _errors_of(error: ValidationError) -> dict[str, list[str]]:
    if hasattr(error, "error_dict"):
        return {field: [str(m) for m in messages_] for field, messages_ in error.message_dict.items()}
    return {"__all__": [str(m) for m in error.messages]}


def _attach(form, error: ValidationError) -> None:
    for field, errors in _errors_of(error).items():
        form.add_error(field if field in form.fields else None, errors)


def _text(message: str, status: int) -> HttpResponse:
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


# --- overview ------------------------------------------------------------------------------


@tenant_permission_required("view")
def index(request, slug):
    return _index(request, slug)


def _index(request, slug, start_form=None, status=200):
    context = selectors.index_page(slug=slug)
    context["start_form"] = start_form or AssessmentStartForm(templates=context["templates"])
    return render(request, "diagnostics/index.html", context, status=status)


@require_POST
@tenant_permission_required("answer_diagnosis")
def start(request, slug):
    form = AssessmentStartForm(request.POST, templates=selectors.templates_active())
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


def _answer_page(request, assessment, status=200):
    context = selectors.answer_page(assessment, request.user, role=getattr(request.membership, "role", None))
    respondent = context["respondent"]
    context["side_form"] = SideForm(initial={"side": respondent.side if respondent else None})
    return render(request, "diagnostics/answer.html", context, status=status)


@tenant_permission_required("answer_diagnosis")
def answer(request, slug, pk):
    assessment = selectors.assessment_get(pk)
    if not assessment.is_open:
        return redirect("diagnostics:result", slug=slug, pk=pk)
    return _answer_page(request, assessment)


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
    posted = {"value": request.POST.get("value", ""), "note": request.POST.get("note", "")} if errors else None
    context = selectors.answer_saved(assessment, request.user, item_id, saved=saved, errors=errors, posted=posted)
    if context is None:
        message = " ".join(sum(errors.values(), [])) or _("This item is not part of the checklist.")
        return _text(message, 400 if errors else 404)
    if not request.htmx:
        if errors:
            messages.error(request, " ".join(sum(errors.values(), [])))
            return _answer_page(request, context["assessment"], status=400)
        return redirect("diagnostics:answer", slug=slug, pk=pk)
    return render_htmx(request, "diagnostics/answer.html", context, fragment="saved", status=400 if errors else 200)


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
        return _answer_page(request, assessment, status=400)
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
            return _answer_page(request, assessment, status=400)
        return redirect("diagnostics:result", slug=slug, pk=pk)
    messages.success(request, _("Assessment completed. The evidence was measured and kept with it."))
    return redirect("diagnostics:result", slug=slug, pk=pk)


# --- results -------------------------------------------------------------------------------


@tenant_permission_required("view")
def result(request, slug, pk):
    context = selectors.result_page(selectors.assessment_get(pk), slug=slug)
    return render(request, "diagnostics/result.html", context)


@tenant_permission_required("view")
def report(request, slug, pk):
    context = selectors.result_page(selectors.assessment_get(pk), slug=slug)
    return render(request, "diagnostics/report.html", context)


@tenant_permission_required("export")
def export_csv(request, slug, pk):
    assessment = selectors.assessment_get(pk)
    scorecard = selectors.assessment_scorecard(assessment, slug=slug)
    body = assessment_csv(assessment=assessment, scorecard=scorecard, base_url=request.build_absolute_uri("/"))
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{assessment_csv_filename(assessment)}"'
    return response


# --- history and comparison --------------------------------------------------------------------


@tenant_permission_required("view")
def history(request, slug, template_key):
    context = selectors.history_page(selectors.template_get(template_key))
    context["compare_form"] = CompareForm()
    return render(request, "diagnostics/history.html", context)


@require_GET
@tenant_permission_required("view")
def compare(request, slug):
    form = CompareForm(request.GET)
    if form.is_valid():
        try:
            context = selectors.compare_page(form.cleaned_data["a"], form.cleaned_data["b"], slug=slug)
        except ValidationError as error:
            message = " ".join(error.messages)
        else:
            return render(request, "diagnostics/compare.html", context)
    else:
        message = " ".join(e for errs in form.errors.values() for e in errs)
    return render(request, "diagnostics/compare.html", {"error": message}, status=400)


# --- auto-diagnosis health card -----------------------------------------------------------------


@require_GET
@tenant_permission_required("view")
def health_card(request, slug):
    """The auto-diagnosis as a card (fragment): the KPI dashboard loads it with hx-get."""
    try:
        waiting_since, polls = refresh_marker(request.GET)
    except ValidationError as error:
        return _text(" ".join(error.messages), 400)
    context = selectors.health_card(slug=slug, waiting_since=waiting_since, polls=polls)
    return render_htmx(request, "diagnostics/_health_card.html", context)


@require_POST
@tenant_permission_required("answer_diagnosis")
def auto_refresh(request, slug):
    """Measure the auto-diagnosis now (in the background; the card polls until it is there)."""
    since = services.auto_diagnosis_request()
    if request.htmx:
        return render_htmx(
            request, "diagnostics/_health_card.html", selectors.health_card(slug=slug, waiting_since=since)
        )
    messages.info(request, _("The auto-diagnosis is being measured; it appears here in a moment."))
    return redirect("diagnostics:index", slug=slug)
