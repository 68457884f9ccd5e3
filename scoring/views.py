"""Scoring UI (htmx): versions, the draft editor with a live impact preview, CSV import/export,
compare, recompute progress, score explanations, hot-lead alerts and alert settings.
Views are thin: forms validate, services write, selectors read."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from leads.models import Lead
from tenants.decorators import render_htmx, tenant_permission_required
from tenants.errors import attach_service_errors
from tenants.params import MAX_ID, parse_id, parse_int

from . import engine, selectors, services, sheet
from .forms import (
    ACTIVITY_TYPE_SUGGESTIONS,
    BANT_CHOICES,
    BehaviourRuleForm,
    CapsForm,
    FitRuleForm,
    ScoringSettingsForm,
    SegmentFormSet,
    SheetImportForm,
)
from .models import BehaviourRule, FitRule, HotLeadAlert, ModelStatus, ScoringModel


def _version_or_404(version: int) -> ScoringModel:
    model = selectors.model_get(version)
    if model is None:
        raise Http404
    return model


def _draft_or_404() -> ScoringModel:
    draft = selectors.draft_model()
    if draft is None:
        raise Http404
    return draft


# --- versions ------------------------------------------------------------------------------------


@tenant_permission_required("view")
def models(request, slug):
    active = selectors.active_model()
    counts = selectors.current_segment_counts()
    context = {
        "versions": selectors.models_list(),
        "active": active,
        "draft": selectors.draft_model(),
        "run": selectors.latest_run(),
        "segment_rows": [(s, counts.get(s.key, 0)) for s in active.segments.all()] if active else [],
        "unscored": counts.get("", 0),
        "alert_counts": selectors.alert_counts(),
    }
    return render_htmx(request, "scoring/models.html", context)


@tenant_permission_required("view")
def model_detail(request, slug, version):
    model = _version_or_404(version)
    return render_htmx(request, "scoring/model_detail.html", {"model": model, **_rules_context(model)})


def _rules_context(model: ScoringModel) -> dict:
    return {
        "behaviour_rules": list(model.behaviour_rules.all()),
        "fit_rules": list(model.fit_rules.all()),
        "segment_defs": list(model.segments.all()),
    }


@tenant_permission_required("view")
def compare(request, slug):
    versions = selectors.models_list()
    try:
        left = _version_or_404(parse_int(request.GET.get("left"), minimum=1, maximum=MAX_ID) or 0)
        right = _version_or_404(parse_int(request.GET.get("right"), minimum=1, maximum=MAX_ID) or 0)
    except Http404:
        active = selectors.active_model()
        left = next((v for v in versions if v.status == ModelStatus.ARCHIVED), active)
        right = selectors.draft_model() or active
        if left is None or right is None:
            raise Http404
    return render_htmx(
        request,
        "scoring/compare.html",
        {"diff": selectors.compare_versions(left, right), "versions": versions},
        fragment="diff",
    )


@require_POST
@tenant_permission_required("edit_scoring")
def rollback(request, slug, version):
    model = _version_or_404(version)
    try:
        new = services.model_rollback(model=model, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("scoring:models", slug=slug)
    messages.success(
        request,
        _("Rolled back: v%(new)s (a copy of v%(old)s) is active; every lead is being rescored.")
        % {"new": new.version, "old": model.version},
    )
    return redirect("scoring:models", slug=slug)


# --- CSV ------------------------------------------------------------------------------------------


@tenant_permission_required("view")
def sheet_export(request, slug, version):
    model = _version_or_404(version)
    text = services.sheet_export(model=model)
    response = HttpResponse("\ufeff" + text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="scoring-sheet-v{model.version}.csv"'
    return response


@tenant_permission_required("edit_scoring")
def sheet_import(request, slug):
    form = SheetImportForm(request.POST or None, request.FILES or None)
    row_errors = []
    if request.method == "POST" and form.is_valid():
        try:
            draft = services.sheet_import(data=form.cleaned_data["file"].read(), actor=request.user)
        except sheet.SheetError as error:
            row_errors = error.errors
        else:
            messages.success(
                request,
                _("Sheet imported into draft v%(version)s. Check the impact, then publish.")
                % {"version": draft.version},
            )
            return redirect("scoring:draft", slug=slug)
    status = 400 if (form.errors or row_errors) else 200
    return render_htmx(request, "scoring/import.html", {"form": form, "row_errors": row_errors}, status=status)


# --- the draft editor --------------------------------------------------------------------------------


@require_POST
@tenant_permission_required("edit_scoring")
def draft_create(request, slug):
    services.draft_get_or_create(actor=request.user)
    return redirect("scoring:draft", slug=slug)


def _editor_context(draft: ScoringModel, **extra) -> dict:
    caps = CapsForm(initial={"behaviour_cap": draft.behaviour_cap, "fit_cap": draft.fit_cap})
    segment_formset = SegmentFormSet(
        prefix="seg",
        initial=[
            {
                "key": s.key,
                "label": s.label,
                "min_total": s.min_total,
                "colour": s.colour,
                "priority": s.priority,
                "follow_up": s.follow_up,
                "description": s.description,
            }
            for s in draft.segments.all()
        ],
    )
    context = {
        "draft": draft,
        "active": selectors.active_model(),
        "caps_form": caps,
        "segment_formset": segment_formset,
        "activity_types": ACTIVITY_TYPE_SUGGESTIONS,
        "bant_choices": BANT_CHOICES,
        **_rules_context(draft),
    }
    context.update(extra)
    return context


@tenant_permission_required("view")
def draft(request, slug):
    draft_model = selectors.draft_model()
    if draft_model is None:
        return redirect("scoring:models", slug=slug)
    return render_htmx(request, "scoring/draft.html", _editor_context(draft_model))


@tenant_permission_required("view")
def impact(request, slug):
    """The live preview: hot/warm/cold now → under the draft (with the unsaved edit, if any)."""
    draft_model = _draft_or_404()
    kind = request.POST.get("kind") or request.GET.get("kind")
    spec = engine.spec_for(draft_model)
    error = None
    if request.method == "POST" and kind in ("behaviour", "fit"):
        form = (BehaviourRuleForm if kind == "behaviour" else FitRuleForm)(request.POST)
        rule_id = request.POST.get("rule_id")
        if form.is_valid():
            spec = selectors.spec_with_edit(draft_model, kind=kind, rule_id=parse_id(rule_id), data=form.cleaned_data)
        else:
            error = _("Fix the highlighted fields to see the impact.")
    preview = selectors.impact_preview(spec)
    return render_htmx(request, "scoring/_impact.html", {"preview": preview, "error": error, "draft": draft_model})


def _rule_form_response(request, slug, draft_model, form, kind, rule=None, status=200):
    response = render_htmx(
        request,
        "scoring/_rule_form.html",
        {"form": form, "kind": kind, "rule": rule, "draft": draft_model, "activity_types": ACTIVITY_TYPE_SUGGESTIONS},
        status=status,
    )
    if status == 400 and request.htmx:
        # The form was posted with #rules as its target: show the errors in the editor instead.
        response["HX-Retarget"] = "#rule-editor"
        response["HX-Reswap"] = "innerHTML"
    return response


CLEAR_RULE_EDITOR = '<div id="rule-editor" hx-swap-oob="innerHTML"></div>'


@tenant_permission_required("edit_scoring")
def rule_form(request, slug, kind, pk=None):
    """GET: the inline form for a new or existing rule; POST: save it (400 with messages when invalid)."""
    if kind not in ("behaviour", "fit"):
        raise Http404
    draft_model = _draft_or_404()
    model_class, form_class = (BehaviourRule, BehaviourRuleForm) if kind == "behaviour" else (FitRule, FitRuleForm)
    rule = get_object_or_404(model_class, pk=pk, model=draft_model) if pk else None
    if request.method == "POST":
        form = form_class(request.POST)
        if form.is_valid():
            try:
                save = services.behaviour_rule_save if kind == "behaviour" else services.fit_rule_save
                save(model=draft_model, data=form.cleaned_data, rule=rule, actor=request.user)
            except ValidationError as error:
                attach_service_errors(form, error)
            else:
                if not request.htmx:
                    return redirect("scoring:draft", slug=slug)
                response = render_htmx(request, "scoring/draft.html", _editor_context(draft_model), fragment="rules")
                response.content += CLEAR_RULE_EDITOR.encode()
                response["HX-Trigger"] = "scoring-rules-changed"
                return response
        return _rule_form_response(request, slug, draft_model, form, kind, rule, status=400)
    initial = {}
    if rule is not None:
        initial = {f.name: getattr(rule, f.name) for f in rule._meta.fields if f.name in form_class.base_fields}
        if kind == "fit":
            initial["values"] = ", ".join(rule.values or [])
    return _rule_form_response(request, slug, draft_model, form_class(initial=initial), kind, rule)


@require_POST
@tenant_permission_required("edit_scoring")
def rule_delete(request, slug, kind, pk):
    draft_model = _draft_or_404()
    model_class = BehaviourRule if kind == "behaviour" else FitRule
    rule = get_object_or_404(model_class, pk=pk, model=draft_model)
    services.rule_delete(rule=rule, actor=request.user)
    if request.htmx:
        response = render_htmx(request, "scoring/draft.html", _editor_context(draft_model), fragment="rules")
        response["HX-Trigger"] = "scoring-rules-changed"
        return response
    return redirect("scoring:draft", slug=slug)


@require_POST
@tenant_permission_required("edit_scoring")
def segments_save(request, slug):
    draft_model = _draft_or_404()
    formset = SegmentFormSet(request.POST, prefix="seg")
    caps = CapsForm(request.POST)
    if formset.is_valid() and caps.is_valid():
        segments = [f.cleaned_data for f in formset.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]
        try:
            services.segments_save(
                model=draft_model,
                segments=segments,
                actor=request.user,
                behaviour_cap=caps.cleaned_data.get("behaviour_cap"),
                fit_cap=caps.cleaned_data.get("fit_cap"),
            )
        except ValidationError as error:
            formset_error = " ".join(error.messages)
        else:
            messages.success(request, _("Segments saved."))
            if request.htmx:
                response = render_htmx(request, "scoring/draft.html", _editor_context(draft_model), fragment="segments")
                response["HX-Trigger"] = "scoring-rules-changed"
                return response
            return redirect("scoring:draft", slug=slug)
    else:
        formset_error = _("Check the segment fields.")
    context = _editor_context(draft_model, segment_formset=formset, caps_form=caps, segments_error=formset_error)
    return render_htmx(request, "scoring/draft.html", context, fragment="segments", status=400)


@require_POST
@tenant_permission_required("edit_scoring")
def publish(request, slug):
    draft_model = _draft_or_404()
    try:
        run = services.model_publish(model=draft_model, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("scoring:draft", slug=slug)
    messages.success(
        request, _("v%(version)s is active. Every lead is being rescored.") % {"version": draft_model.version}
    )
    target = reverse("scoring:models", args=[slug]) + (f"?run={run.pk}" if run else "")
    return HttpResponseClientRedirect(target) if request.htmx else redirect(target)


@require_POST
@tenant_permission_required("edit_scoring")
def draft_discard(request, slug):
    draft_model = _draft_or_404()
    services.draft_discard(model=draft_model, actor=request.user)
    messages.success(request, _("Draft discarded."))
    return redirect("scoring:models", slug=slug)


# --- recompute -------------------------------------------------------------------------------------


@require_POST
@tenant_permission_required("edit_scoring")
def recompute(request, slug):
    run = services.recompute_request(actor=request.user)
    if run is None:
        messages.error(request, _("There is no active scoring model."))
    if request.htmx and run is not None:
        return render_htmx(request, "scoring/_run.html", {"run": run})
    return redirect("scoring:models", slug=slug)


@tenant_permission_required("view")
def run_status(request, slug, run_id):
    run = selectors.run_get(run_id)
    if run is None:
        raise Http404
    return render_htmx(request, "scoring/_run.html", {"run": run})


# --- explanations ------------------------------------------------------------------------------------


@tenant_permission_required("view")
def lead_explanation(request, slug, pk):
    lead = get_object_or_404(Lead, pk=pk)
    # htmx (the lead page, the alert list) gets the fragment; a direct visit gets it inside a page.
    template = "scoring/lead_explanation.html" if request.htmx else "scoring/lead_explanation_page.html"
    return render(request, template, selectors.explanation(lead))


# --- alerts and settings ----------------------------------------------------------------------------


@tenant_permission_required("view")
def alerts(request, slug):
    status = request.GET.get("status") or "open"
    if status not in ("open", "overdue", "done", "all"):
        status = "open"
    items = list(selectors.alerts_list(status=status)[:200])
    context = {"items": items, "status": status, "counts": selectors.alert_counts(), **_deadline_context()}
    return render_htmx(request, "scoring/alerts.html", context, fragment="alert-list")


def _deadline_context() -> dict:
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    return {"now": now, "soon": now + timedelta(hours=6)}


@require_POST
@tenant_permission_required("edit_lead")
def alert_follow_up(request, slug, pk):
    alert = get_object_or_404(HotLeadAlert, pk=pk)
    services.alert_follow_up(alert=alert, actor=request.user)
    if request.htmx:
        return render_htmx(
            request, "scoring/alerts.html", {"alert": alert, **_deadline_context()}, fragment="alert-row"
        )
    return redirect("scoring:alerts", slug=slug)


@tenant_permission_required("edit_scoring")
def alert_settings(request, slug):
    current = services.settings_get()
    form = ScoringSettingsForm(
        request.POST or None,
        initial={
            "follow_up_hours": current.follow_up_hours,
            "email_alerts": current.email_alerts,
            "webhook_url": current.webhook_url,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.settings_update(actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            attach_service_errors(form, error)
        else:
            messages.success(request, _("Alert settings saved."))
            return redirect("scoring:settings", slug=slug)
    return render_htmx(
        request, "scoring/settings.html", {"form": form, "current": current}, status=400 if form.errors else 200
    )
