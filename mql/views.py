"""Pages of the MQL app (thin: forms in, services/selectors out, htmx fragments back).

URL names live in the `mql` namespace (see mql/urls.py): mql:mql (definition),
mql:inbox (sales inbox), mql:feedback_report, mql:calibration, ...
"""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from leads.models import FeedbackOutcome, Lead, LeadFeedback, Stage
from tenants.csvutil import csv_lines
from tenants.decorators import render_htmx, tenant_permission_required
from tenants.errors import errors_text
from tenants.models import Membership
from tenants.params import MAX_ID, parse_int
from tenants.roles import can
from tenants.streaming import stream_in_tenant

from . import calibration, evaluation, feedback, integration, selectors, services
from .forms import (
    ApprovalForm,
    ApprovalPolicyForm,
    CalibrationForm,
    CommentForm,
    DefinitionForm,
    OutcomeForm,
    ReasonForm,
    ReportPeriodForm,
)
from .models import (
    REQUIRED_INFO_CHOICES,
    CalibrationRun,
    DefinitionStatus,
    FeedbackReason,
    Handover,
    MqlDefinition,
    ReevaluationRun,
)


def _fragments(request, template: str, context: dict, names: list[str], *, status: int = 200) -> HttpResponse:
    """The first fragment swaps into the target; the others are out-of-band swaps."""
    parts = []
    for index, name in enumerate(names):
        parts.append(render_to_string(f"{template}#{name}", {**context, "oob": index > 0}, request=request))
    return HttpResponse("".join(parts), status=status)


# ----------------------------------------------------------------------------- definition pages


@tenant_permission_required("view")
def mql_overview(request, slug):
    services.defaults_ensure()
    definitions = list(MqlDefinition.objects.select_related("created_by", "activated_by").order_by("-version"))
    active = next((d for d in definitions if d.status == DefinitionStatus.ACTIVE), None)
    drafts = [d for d in definitions if d.status == DefinitionStatus.DRAFT]
    context = {
        "active": active,
        "drafts": drafts,
        "definitions": definitions,
        "active_rows": _condition_rows(active) if active else [],
        "mql_count": Lead.objects.filter(stage=Stage.MQL).count(),
        "waiting": Handover.objects.filter(closed_at__isnull=True, lead__stage=Stage.MQL).count(),
        "policy": services.approval_requirements(active) if active else None,
    }
    return render_htmx(request, "mql/overview.html", context)


def _condition_rows(definition: MqlDefinition) -> list[dict]:
    labels = {f.name: f.verbose_name for f in MqlDefinition._meta.get_fields() if hasattr(f, "verbose_name")}
    return [
        {"label": labels[name], "value": selectors._display(name, getattr(definition, name))}
        for name in MqlDefinition.CONDITION_FIELDS
        if name != "sql_criteria"
    ]


@require_POST
@tenant_permission_required("draft_mql")
def mql_new_draft(request, slug):
    based_on = None
    if request.POST.get("based_on"):
        based_on = get_object_or_404(MqlDefinition, version=_int_or_404(request.POST["based_on"]))
    draft = services.definition_create_draft(actor=request.user, based_on=based_on)
    messages.success(request, _("Draft v%(v)s created. Changes show their impact immediately.") % {"v": draft.version})
    return redirect("mql:mql_definition", slug=slug, version=draft.version)


def _int_or_404(value) -> int:
    from django.http import Http404

    try:
        return int(value)
    except (TypeError, ValueError):
        raise Http404


def _definition_context(
    request, definition: MqlDefinition, *, form: DefinitionForm | None = None, preview: MqlDefinition | None = None
) -> dict:
    active = services.active_definition()
    editable = definition.is_draft and can(request.user, request.tenant, "draft_mql")
    if form is None and editable:
        form = DefinitionForm(initial=DefinitionForm.initial_for(definition))
    compare_to = active if active is not None and active.pk != definition.pk else None
    latest_run = ReevaluationRun.objects.filter(definition=definition).first()
    return {
        "definition": definition,
        "active": active,
        "form": form,
        "editable": editable,
        "impact": selectors.impact(preview or definition, compare_to),
        "compare_to": compare_to,
        "diff": selectors.definition_diff(compare_to, definition) if compare_to else [],
        "rows": _condition_rows(definition),
        "comments": definition.comments.select_related("author"),
        "comment_form": CommentForm(),
        "approval_form": ApprovalForm(),
        "requirements": services.approval_requirements(definition),
        "approvals": definition.approvals.select_related("approver"),
        "current_hash": definition.conditions_hash(),
        "my_approval": definition.approvals.filter(approver=request.user).first(),
        "can_approve": definition.is_draft and can(request.user, request.tenant, "approve_mql"),
        "latest_run": latest_run,
        "versions": MqlDefinition.objects.order_by("-version").values_list("version", flat=True),
    }


@tenant_permission_required("view")
def mql_definition(request, slug, version):
    definition = get_object_or_404(MqlDefinition, version=version)
    return render_htmx(request, "mql/definition.html", _definition_context(request, definition))


@require_GET
@tenant_permission_required("view")
def mql_impact(request, slug, version):
    """Impact of the conditions currently in the editor (not saved): the live panel."""
    definition = get_object_or_404(MqlDefinition, version=version)
    form = DefinitionForm(request.GET)
    if not form.is_valid():
        context = {"definition": definition, "impact_errors": form.errors}
        return render_htmx(request, "mql/definition.html", context, fragment="impact", status=400)
    preview = MqlDefinition(**form.conditions)
    active = services.active_definition()
    compare_to = active if active is not None and active.pk != definition.pk else None
    context = {
        "definition": definition,
        "impact": selectors.impact(preview, compare_to),
        "compare_to": compare_to,
        "previewing": True,
    }
    return render_htmx(request, "mql/definition.html", context, fragment="impact")


@require_POST
@tenant_permission_required("draft_mql")
def mql_definition_save(request, slug, version):
    definition = get_object_or_404(MqlDefinition, version=version)
    form = DefinitionForm(request.POST)
    if form.is_valid():
        try:
            definition = services.definition_update_draft(
                definition=definition, actor=request.user, conditions=form.conditions, title=form.cleaned_data["title"]
            )
        except ValidationError as error:
            form.add_error(None, error)
    status = 400 if form.errors else 200
    if not form.errors:
        form = DefinitionForm(initial=DefinitionForm.initial_for(definition))
        if not request.htmx:
            messages.success(request, _("Draft saved."))
    if not request.htmx:
        if status == 200:
            return redirect("mql:mql_definition", slug=slug, version=definition.version)
        return render_htmx(
            request, "mql/definition.html", _definition_context(request, definition, form=form), status=status
        )
    context = _definition_context(request, definition, form=form)
    context["saved"] = status == 200
    return _fragments(request, "mql/definition.html", context, ["conditions", "approvals", "impact"], status=status)


@require_POST
@tenant_permission_required("draft_mql")
def mql_discard(request, slug, version):
    definition = get_object_or_404(MqlDefinition, version=version)
    try:
        services.definition_discard(definition=definition, actor=request.user)
    except ValidationError as error:
        messages.error(request, errors_text(error))
        return redirect("mql:mql_definition", slug=slug, version=version)
    messages.success(request, _("Draft v%(v)s discarded.") % {"v": version})
    return redirect("mql:mql", slug=slug)


@require_POST
@tenant_permission_required("view")
def mql_comment(request, slug, version):
    definition = get_object_or_404(MqlDefinition, version=version)
    form = CommentForm(request.POST)
    status = 200
    if form.is_valid():
        try:
            services.comment_add(definition=definition, author=request.user, body=form.cleaned_data["body"])
        except ValidationError as error:
            form.add_error("body", error.messages)
    if form.errors:
        status = 400
    else:
        form = CommentForm()
    if not request.htmx:
        if status == 400:
            messages.error(request, errors_text(ValidationError(list(form.errors.get("body", [])))))
        return redirect("mql:mql_definition", slug=slug, version=version)
    context = {"definition": definition, "comments": definition.comments.select_related("author"), "comment_form": form}
    return render_htmx(request, "mql/definition.html", context, fragment="comments", status=status)


@require_POST
@tenant_permission_required("approve_mql")
def mql_approve(request, slug, version):
    definition = get_object_or_404(MqlDefinition, version=version)
    form = ApprovalForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    try:
        services.definition_approve(definition=definition, approver=request.user, note=note)
    except ValidationError as error:
        if request.htmx:
            context = _definition_context(request, definition)
            context["approval_error"] = errors_text(error)
            return render_htmx(request, "mql/definition.html", context, fragment="approvals", status=400)
        messages.error(request, errors_text(error))
        return redirect("mql:mql_definition", slug=slug, version=version)
    definition.refresh_from_db()
    url = reverse("mql:mql_definition", kwargs={"slug": slug, "version": version})
    if definition.status == DefinitionStatus.ACTIVE:
        messages.success(
            request,
            _("All required approvals are in: v%(v)s is now active. Leads are being re-evaluated.") % {"v": version},
        )
        return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    messages.success(request, _("Your approval of v%(v)s is recorded.") % {"v": version})
    if request.htmx:
        return render_htmx(
            request, "mql/definition.html", _definition_context(request, definition), fragment="approvals"
        )
    return redirect(url)


@tenant_permission_required("view")
def mql_diff(request, slug):
    versions = list(MqlDefinition.objects.order_by("-version").values_list("version", flat=True))
    old_version = _int_or_none(request.GET.get("a"))
    new_version = _int_or_none(request.GET.get("b"))
    if new_version is None and versions:
        new_version = versions[0]
    if old_version is None and len(versions) > 1:
        old_version = versions[1]
    old = MqlDefinition.objects.filter(version=old_version).first() if old_version else None
    new = MqlDefinition.objects.filter(version=new_version).first() if new_version else None
    status = 200
    error = None
    if (request.GET.get("a") or request.GET.get("b")) and (old is None or new is None):
        error = _("Choose two existing versions to compare.")
        status = 400
    context = {
        "versions": versions,
        "old": old,
        "new": new,
        "error": error,
        "diff": selectors.definition_diff(old, new) if old and new else [],
        "old_criteria": old.sql_criteria if old else "",
        "new_criteria": new.sql_criteria if new else "",
    }
    return render_htmx(request, "mql/diff.html", context, fragment="diff", status=status)


def _int_or_none(value) -> int | None:
    return parse_int(value, minimum=1, maximum=MAX_ID)


@tenant_permission_required("admin_tenant")
def mql_policy(request, slug):
    policy = services.approval_policy_get()
    members = Membership.objects.filter(tenant=request.tenant, role__in=services.APPROVER_ROLES).select_related("user")
    initial = {
        "required_roles": policy.required_roles,
        "required_approver_ids": [str(i) for i in policy.required_approver_ids],
    }
    form = ApprovalPolicyForm(request.POST if request.method == "POST" else None, initial=initial, members=members)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.approval_policy_update(
                    actor=request.user,
                    required_roles=form.cleaned_data["required_roles"],
                    required_approver_ids=[int(i) for i in form.cleaned_data["required_approver_ids"]],
                )
            except ValidationError as error:
                for field, errors in error.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                messages.success(request, _("Approval rules saved."))
                return redirect("mql:mql_policy", slug=slug)
        status = 400
    return render_htmx(request, "mql/policy.html", {"form": form, "policy": policy}, status=status)


@tenant_permission_required("view")
def mql_reevaluation(request, slug, run_id):
    run = get_object_or_404(ReevaluationRun, pk=run_id)
    return render_htmx(request, "mql/definition.html", {"latest_run": run}, fragment="reevaluation")


# ----------------------------------------------------------------------------- inbox


def _deadline_info(handover: Handover, now: dt.datetime) -> dict:
    remaining = handover.deadline_at - now
    hours = remaining.total_seconds() / 3600
    if handover.first_contact_at is not None:
        state = "contacted"
    elif hours < 0:
        state = "overdue"
    elif hours < 8:
        state = "soon"
    else:
        state = "ok"
    return {"state": state, "hours": abs(int(hours)), "minutes": abs(int(remaining.total_seconds() // 60) % 60)}


def _inbox_rows(handovers, now):
    return [{"handover": h, "lead": h.lead, "deadline": _deadline_info(h, now)} for h in handovers]


@tenant_permission_required("view")
def inbox(request, slug):
    if not (can(request.user, request.tenant, "give_feedback") or can(request.user, request.tenant, "draft_mql")):
        raise PermissionDenied
    services.reasons_ensure_defaults()
    tab = request.GET.get("tab", "waiting")
    if tab not in ("waiting", "pipeline"):
        tab = "waiting"
    mine = request.GET.get("mine") == "1"
    overdue = request.GET.get("overdue") == "1"
    now = timezone.now()
    context = {
        "tab": tab,
        "mine": mine,
        "overdue": overdue,
        "now": now,
        "reject_reasons": selectors.reasons_for("reject"),
        "lost_reasons": selectors.reasons_for("lost"),
        "can_feedback": can(request.user, request.tenant, "give_feedback"),
        "follow_up_hours": integration.follow_up_hours(),
    }
    waiting = selectors.inbox_handovers(owner=request.user if mine else None, overdue_only=overdue)
    context["waiting_count"] = selectors.inbox_handovers().count()
    context["overdue_count"] = selectors.inbox_handovers(overdue_only=True).count()
    context["pipeline_count"] = selectors.pipeline_leads().count()
    if tab == "waiting":
        page = Paginator(waiting, 50).get_page(request.GET.get("page"))
        context["page_obj"] = page
        context["rows"] = _inbox_rows(page.object_list, now)
    else:
        page = Paginator(selectors.pipeline_leads().select_related("owner"), 50).get_page(request.GET.get("page"))
        context["page_obj"] = page
        context["pipeline"] = list(page.object_list)
    return render_htmx(request, "mql/inbox.html", context, fragment="inbox-list")


@tenant_permission_required("view")
def inbox_lead(request, slug, lead_id):
    if not (can(request.user, request.tenant, "give_feedback") or can(request.user, request.tenant, "draft_mql")):
        raise PermissionDenied
    lead = get_object_or_404(Lead, pk=lead_id)
    active = services.active_definition()
    why = evaluation.explain(active, lead) if active else None
    if why:
        labels = dict(REQUIRED_INFO_CHOICES)
        why["missing_info"] = [str(labels.get(key, key)) for key in why["missing_info"]]
    context = {
        "lead": lead,
        "fields": selectors.qualifying_fields(lead),
        "timeline": selectors.lead_timeline(lead),
        "explanation_url": integration.lead_explanation_url(slug, lead.pk),
        "lead_url": integration.lead_detail_url(slug, lead.pk),
        "why": why,
        "active": active,
        "handover": Handover.objects.filter(lead=lead).order_by("-handed_over_at").first(),
    }
    return render_htmx(request, "mql/inbox_lead.html", context, fragment="lead-detail")


@require_POST
@tenant_permission_required("give_feedback")
def inbox_outcome(request, slug, lead_id):
    lead = get_object_or_404(Lead, pk=lead_id)
    form = OutcomeForm(request.POST)
    error = None
    result = None
    if not form.is_valid():
        error = _("Choose an outcome: accepted, rejected, opportunity, won or lost.")
    else:
        data = form.cleaned_data
        try:
            result = feedback.feedback_record(
                lead=lead,
                outcome=data["outcome"],
                actor=request.user,
                reason=data["reason"],
                note=data["note"],
                amount=data["amount"],
                expected_close_on=data["expected_close_on"],
                occurred_at=data["occurred_at"],
                stage=data["stage"],
            )
        except ValidationError as exc:
            error = errors_text(exc)
    lead.refresh_from_db()
    context = {
        "lead": lead,
        "error": error,
        "result": result,
        "reasons": selectors.reason_labels(),
        "reject_reasons": selectors.reasons_for("reject"),
        "lost_reasons": selectors.reasons_for("lost"),
        "can_feedback": True,
        "now": timezone.now(),
        "posted": request.POST,
        "row_kind": request.POST.get("row_kind", "waiting"),
        "waiting_count": selectors.inbox_handovers().count(),
        "pipeline_count": selectors.pipeline_leads().count(),
        "overdue_count": selectors.inbox_handovers(overdue_only=True).count(),
    }
    handover = Handover.objects.filter(lead=lead).order_by("-handed_over_at").first()
    context["row"] = {
        "handover": handover,
        "lead": lead,
        "deadline": _deadline_info(handover, timezone.now()) if handover else None,
    }
    status = 400 if error else 200
    if not request.htmx:
        if error:
            messages.error(request, error)
            return HttpResponseBadRequest(error)
        messages.success(request, _("Outcome recorded."))
        return redirect("mql:inbox", slug=slug)
    return _fragments(request, "mql/inbox.html", context, ["row", "counts"], status=status)


@require_POST
@tenant_permission_required("give_feedback")
def inbox_contacted(request, slug, lead_id):
    lead = get_object_or_404(Lead, pk=lead_id)
    error = None
    try:
        feedback.handover_mark_contacted(lead=lead, actor=request.user)
    except ValidationError as exc:
        error = errors_text(exc)
    handover = Handover.objects.filter(lead=lead).order_by("-handed_over_at").first()
    now = timezone.now()
    context = {
        "lead": lead,
        "error": error,
        "row_kind": "waiting",
        "now": now,
        "can_feedback": True,
        "reject_reasons": selectors.reasons_for("reject"),
        "lost_reasons": selectors.reasons_for("lost"),
        "row": {"handover": handover, "lead": lead, "deadline": _deadline_info(handover, now) if handover else None},
    }
    if not request.htmx:
        return redirect("mql:inbox", slug=slug)
    return render_htmx(request, "mql/inbox.html", context, fragment="row", status=400 if error else 200)


# ----------------------------------------------------------------------------- report, reasons, export


def _period(request) -> tuple[ReportPeriodForm, selectors.ReportPeriod]:
    form = ReportPeriodForm(request.GET or None)
    today = timezone.localdate()
    start, end = today - dt.timedelta(days=180), today
    if form.is_bound and form.is_valid():
        start = form.cleaned_data.get("start") or start
        end = form.cleaned_data.get("end") or end
    tz = timezone.get_current_timezone()
    period = selectors.ReportPeriod(
        start=dt.datetime.combine(start, dt.time.min, tzinfo=tz),
        end=dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=tz),
    )
    return form, period


@tenant_permission_required("view")
def feedback_report(request, slug):
    form, period = _period(request)
    status = 400 if form.is_bound and not form.is_valid() else 200
    context = {
        "form": form,
        "period": period,
        "report": selectors.report(period),
        "end_display": period.end - dt.timedelta(days=1),
    }
    return render_htmx(request, "mql/report.html", context, fragment="report", status=status)


@tenant_permission_required("export")
def feedback_export(request, slug):
    form, period = _period(request)
    if form.is_bound and not form.is_valid():
        messages_ = [str(e) for errors in form.errors.values() for e in errors]
        return HttpResponseBadRequest(
            " ".join(dict.fromkeys(messages_)) or _("Check the dates."), content_type="text/plain; charset=utf-8"
        )
    reasons = selectors.reason_labels()
    rows = (
        LeadFeedback.objects.filter(occurred_at__gte=period.start, occurred_at__lt=period.end)
        .select_related("lead", "recorded_by")
        .order_by("occurred_at", "id")
    )
    header = [
        _("Date"),
        _("Lead email"),
        _("Company"),
        _("Channel"),
        _("Campaign"),
        _("Segment"),
        _("Score"),
        _("Outcome"),
        _("Reason"),
        _("Note"),
        _("Amount"),
        _("Expected close"),
        _("Recorded by"),
        _("MQL definition version"),
    ]

    def generate():
        yield header
        for item in rows.iterator(chunk_size=2000):
            lead = item.lead
            yield [
                timezone.localtime(item.occurred_at).strftime("%Y/%m/%d %H:%M"),
                lead.email,
                lead.company,
                lead.channel,
                lead.campaign,
                lead.segment,
                lead.score_total,
                FeedbackOutcome(item.outcome).label,
                reasons.get(item.reason, item.reason),
                item.note,
                item.amount if item.amount is not None else "",
                item.expected_close_on.isoformat() if item.expected_close_on else "",
                item.recorded_by.email if item.recorded_by else "",
                item.mql_definition_version or "",
            ]

    response = StreamingHttpResponse(
        stream_in_tenant(request.tenant.id, csv_lines(generate())), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = 'attachment; filename="sales-feedback.csv"'
    return response


@tenant_permission_required("view")
def feedback_reasons(request, slug):
    services.reasons_ensure_defaults()
    editable = can(request.user, request.tenant, "draft_mql")
    form = ReasonForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if not editable:
            raise PermissionDenied
        if form.is_valid():
            try:
                services.reason_save(actor=request.user, data=form.cleaned_data)
            except ValidationError as error:
                for field, errors in error.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                messages.success(request, _("Reason added."))
                return redirect("mql:feedback_reasons", slug=slug)
        status = 400
    reasons = FeedbackReason.objects.all()
    usage = dict(LeadFeedback.objects.exclude(reason="").values_list("reason").annotate(n=Count("id")))
    rows = [
        {
            "reason": r,
            "used": usage.get(r.key, 0),
            "form": ReasonForm(
                initial={
                    "label_ja": r.label_ja,
                    "label_en": r.label_en,
                    "kind": r.kind,
                    "default_stage": r.default_stage,
                    "requires_note": r.requires_note,
                    "is_active": r.is_active,
                },
                prefix=f"r{r.pk}",
            ),
        }
        for r in reasons
    ]
    return render_htmx(request, "mql/reasons.html", {"form": form, "rows": rows, "editable": editable}, status=status)


@require_POST
@tenant_permission_required("draft_mql")
def feedback_reason_edit(request, slug, reason_id):
    reason = get_object_or_404(FeedbackReason, pk=reason_id)
    form = ReasonForm(request.POST, prefix=f"r{reason.pk}")
    if form.is_valid():
        try:
            services.reason_save(actor=request.user, data=form.cleaned_data, reason=reason)
        except ValidationError as error:
            messages.error(request, errors_text(error))
            return redirect("mql:feedback_reasons", slug=slug)
        messages.success(request, _("Reason saved."))
        return redirect("mql:feedback_reasons", slug=slug)
    messages.error(request, _("Check the highlighted fields: both labels are required."))
    response = redirect("mql:feedback_reasons", slug=slug)
    response.status_code = 303
    return response


# ----------------------------------------------------------------------------- calibration


@tenant_permission_required("view")
def calibration_page(request, slug):
    form = CalibrationForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if not can(request.user, request.tenant, "edit_scoring"):
            raise PermissionDenied
        if form.is_valid():
            run = calibration.calibration_start(actor=request.user, target=form.cleaned_data["target"])
            return redirect(f"{reverse('mql:calibration', kwargs={'slug': slug})}?run={run.pk}")
        status = 400
    run_id = _int_or_none(request.GET.get("run"))
    run = CalibrationRun.objects.filter(pk=run_id).first() if run_id else CalibrationRun.objects.first()
    context = {
        "form": form,
        "run": run,
        "runs": CalibrationRun.objects.select_related("created_by")[:10],
        "can_edit": can(request.user, request.tenant, "edit_scoring"),
    }
    return render_htmx(request, "mql/calibration.html", context, status=status)


@tenant_permission_required("view")
def calibration_run(request, slug, run_id):
    run = get_object_or_404(CalibrationRun, pk=run_id)
    context = {"run": run, "can_edit": can(request.user, request.tenant, "edit_scoring")}
    return render_htmx(request, "mql/calibration.html", context, fragment="run")


@require_POST
@tenant_permission_required("edit_scoring")
def calibration_copy(request, slug, run_id):
    run = get_object_or_404(CalibrationRun, pk=run_id)
    try:
        version = calibration.calibration_copy_to_draft(
            run=run, actor=request.user, rule_keys=request.POST.getlist("rule") or None
        )
    except ValidationError as error:
        messages.error(request, errors_text(error))
    else:
        messages.success(
            request,
            _("Proposed points copied into draft scoring model v%(v)s. Review and publish it on the scoring page.")
            % {"v": version},
        )
    return redirect(f"{reverse('mql:calibration', kwargs={'slug': slug})}?run={run.pk}")
