"""Lead pages (thin: forms in, services and selectors do the work). Mounted under /t/<slug>/leads/."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from tenants.decorators import render_htmx, tenant_permission_required
from tenants.errors import attach_service_errors
from tenants.params import parse_id
from tenants.services import audit_record

from . import csv_import, quality, selectors, services
from .export import stream_csv
from .filters import DEFAULT_SORT, LeadFilterSet
from .forms import (
    BANT_FIELDS,
    EDITABLE_FIELDS,
    FIELD_LABELS,
    ActivityTypeForm,
    BulkActionForm,
    ChannelForm,
    CustomFieldForm,
    FormEndpointForm,
    ImportMappingForm,
    ImportUploadForm,
    LeadCreateForm,
    LeadFieldForm,
    MappingForm,
    StageForm,
)
from .models import (
    ActivityType,
    Channel,
    CustomFieldDefinition,
    DuplicateCandidate,
    DuplicateStatus,
    FormEndpoint,
    ImportJob,
    ImportStatus,
    IngestMapping,
    Lead,
    Stage,
)


def _lead_or_404(pk) -> Lead:
    try:
        return selectors.lead_get(pk)
    except Lead.DoesNotExist:
        raise Http404


# --- list, bulk actions, export ------------------------------------------------------------------


def _list_context(request, data=None) -> dict:
    data = request.GET if data is None else data
    filterset = LeadFilterSet(data, queryset=Lead.objects.all(), request=request)
    queryset = filterset.qs if filterset.is_valid() else Lead.objects.none()
    sort = data.get("o") or DEFAULT_SORT
    page = selectors.lead_page(queryset, sort=sort, cursor=data.get("page"))
    labels = selectors.channel_labels()
    for lead in page.leads:
        lead.channel_label = labels.get(lead.channel, lead.channel)
    form = filterset.form
    filter_errors = [
        f"{form[name].label if name in form.fields else name}: {error}"
        for name, errors in filterset.errors.items()
        for error in errors
    ]
    return {
        "filterset": filterset,
        "filter_errors": filter_errors,
        "page": page,
        "sort": sort,
        "stage_choices": Stage.choices,
        "members": selectors.member_choices(),
        "industries": selectors.lead_industries(),
        "bulk_form": BulkActionForm(),
        "total_leads": Lead.objects.exists(),
    }


@tenant_permission_required("view")
def lead_list(request, slug):
    context = _list_context(request)
    status = 400 if context["filterset"].errors else 200
    return render_htmx(request, "leads/list.html", context, fragment="lead-table", status=status)


@require_POST
@tenant_permission_required("edit_lead")
def lead_bulk(request, slug):
    """Assign an owner to / change the stage of the selected leads; answers the refreshed table."""
    form = BulkActionForm(request.POST)
    if form.is_valid():
        ids = form.cleaned_data["ids"]
        try:
            if form.cleaned_data["action"] == "owner":
                owner = form.cleaned_data["owner"]
                count = services.leads_bulk_assign_owner(
                    lead_ids=ids, owner_id=None if owner == "none" else int(owner), actor=request.user
                )
                messages.success(request, _("Owner changed on %(count)d leads.") % {"count": count})
            else:
                count = services.leads_bulk_change_stage(
                    lead_ids=ids, stage=form.cleaned_data["stage"], actor=request.user, reason=_("Bulk change")
                )
                messages.success(request, _("Stage changed on %(count)d leads.") % {"count": count})
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
    else:
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
    if not request.htmx:
        return redirect(f"{reverse('leads:list', args=[slug])}?{request.GET.urlencode()}")
    context = _list_context(request)
    return render_htmx(
        request, "leads/list.html", context, fragment="lead-table", status=200 if form.is_valid() else 400
    )


@tenant_permission_required("export")
def lead_export(request, slug):
    """The filtered list as CSV (UTF-8 with BOM, formula cells escaped), streamed."""
    filterset = LeadFilterSet(request.GET, queryset=Lead.objects.all(), request=request)
    if not filterset.is_valid():
        return HttpResponse(
            " ".join(str(e) for errors in filterset.errors.values() for e in errors),
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    audit_record(action="leads.exported", actor=request.user, target=request.GET.urlencode()[:200])
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(
        stream_csv(
            tenant_id=request.tenant.id,
            queryset=filterset.qs,
            channel_labels=selectors.channel_labels(),
            custom_definitions=selectors.custom_field_definitions(),
            language=translation.get_language(),
        ),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="leads-{request.tenant.slug}-{stamp}.csv"'
    return response


@tenant_permission_required("manage_leads")
def lead_create(request, slug):
    form = LeadCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            lead = services.lead_create(data=form.service_data(), actor=request.user)
        except ValidationError as error:
            attach_service_errors(form, error)
        else:
            messages.success(request, _("Lead added."))
            return redirect("leads:detail", slug=slug, pk=lead.pk)
    return render_htmx(request, "leads/create.html", {"form": form}, status=400 if form.errors else 200)


# --- detail ----------------------------------------------------------------------------------------


def _field_value(lead: Lead, name: str, *, definition=None, channel_labels=None):
    """(raw value for the editor, text to display) of one attribute."""
    if definition is not None:
        value = (lead.custom_fields or {}).get(definition.key)
        if value is None:
            return "", ""
        if isinstance(value, bool):
            return ("true" if value else "false"), (_("Yes") if value else _("No"))
        return value, str(value)
    if name == "owner":
        return (str(lead.owner_id) if lead.owner_id else ""), (lead.owner.display_name if lead.owner_id else "")
    if name in ("email_consent", "unsubscribed"):
        value = getattr(lead, name)
        return ("true" if value else "false"), (_("Yes") if value else _("No"))
    if name == "channel":
        labels = channel_labels if channel_labels is not None else selectors.channel_labels()
        return lead.channel, labels.get(lead.channel, lead.channel)
    if name in ("size_band", "authority", "budget", "timing"):
        value = getattr(lead, name)
        return value, (getattr(lead, f"get_{name}_display")() if value else "")
    value = getattr(lead, name)
    return ("" if value is None else value), ("" if value is None else str(value))


def _attribute_rows(lead: Lead, names: list[str], definitions=(), channel_labels=None) -> list[dict]:
    rows = [
        {
            "name": name,
            "label": FIELD_LABELS[name],
            "display": _field_value(lead, name, channel_labels=channel_labels)[1],
        }
        for name in names
    ]
    rows += [
        {"name": f"cf_{d.key}", "label": d.label, "display": _field_value(lead, "", definition=d)[1]}
        for d in definitions
    ]
    return rows


@tenant_permission_required("view")
def lead_detail(request, slug, pk):
    lead = _lead_or_404(pk)
    channel_labels = selectors.channel_labels()
    definitions = selectors.custom_field_definitions()
    profile = [name for name in EDITABLE_FIELDS if name not in BANT_FIELDS]
    activity_labels = dict(selectors.activity_type_choices())
    context = {
        "lead": lead,
        "attributes": _attribute_rows(lead, profile, definitions, channel_labels),
        "bant": _attribute_rows(lead, BANT_FIELDS, channel_labels=channel_labels),
        "stage_form": StageForm(initial={"stage": lead.stage}),
        "history": list(selectors.lead_stage_history(lead)[:100]),
        "timeline": selectors.lead_timeline(lead),
        "activity_labels": activity_labels,
        "activity_counts": [
            {"label": activity_labels.get(row["type"], row["type"]), "count": row["count"]}
            for row in selectors.lead_activity_counts(lead)
        ],
        "feedback": list(selectors.lead_feedback(lead)[:50]),
        "duplicates": selectors.lead_duplicate_candidates(lead),
        "merges": list(selectors.lead_merges(lead)),
        "channel_label": channel_labels.get(lead.channel, lead.channel),
    }
    return render_htmx(request, "leads/detail.html", context)


def _field_definition(name: str):
    if name.startswith("cf_"):
        definition = CustomFieldDefinition.objects.filter(key=name.removeprefix("cf_")).first()
        if definition is None:
            raise Http404
        return definition
    if name not in EDITABLE_FIELDS:
        raise Http404
    return None


@tenant_permission_required("view")
def lead_field(request, slug, pk, name):
    """One attribute in place: GET shows it (?edit=1: the editor), POST saves it (edit_lead)."""
    from tenants.roles import can

    lead = _lead_or_404(pk)
    definition = _field_definition(name)
    label = definition.label if definition else FIELD_LABELS[name]
    editing = request.method == "POST" or request.GET.get("edit") == "1"
    if editing and not can(request.user, request.tenant, "edit_lead"):
        from django.core.exceptions import PermissionDenied

        raise PermissionDenied
    raw, display = _field_value(lead, name, definition=definition)
    form = LeadFieldForm(
        request.POST or None, name=name, definition=definition, initial={"value": raw}, prefix=f"attr-{name}"
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            value = form.cleaned_data["value"]
            if definition is not None:
                data = {"custom_fields": {definition.key: value}}
            elif name in ("email_consent", "unsubscribed"):
                data = {name: value == "true"}
            else:
                data = {name: value}
            try:
                lead = services.lead_update(lead=lead, data=data, actor=request.user)
            except ValidationError as error:
                attach_service_errors(form, error, field_for={name: "value", "custom_fields": "value"})
            else:
                lead = _lead_or_404(pk)
                raw, display = _field_value(lead, name, definition=definition)
                editing = False
        if form.errors:
            status = 400
    context = {
        "lead": lead,
        "row": {"name": name, "label": label, "display": display},
        "form": form,
        "editing": editing,
    }
    return render_htmx(request, "leads/_field.html", context, status=status)


@require_POST
@tenant_permission_required("edit_lead")
def lead_stage(request, slug, pk):
    lead = _lead_or_404(pk)
    form = StageForm(request.POST)
    if form.is_valid():
        change = services.lead_change_stage(
            lead=lead, stage=form.cleaned_data["stage"], actor=request.user, reason=form.cleaned_data["reason"]
        )
        if change is None:
            messages.info(request, _("The lead is already at this stage."))
        else:
            messages.success(request, _("Stage changed to %(stage)s.") % {"stage": lead.get_stage_display()})
    else:
        messages.error(request, _("Choose a valid stage."))
    if request.htmx:
        lead = _lead_or_404(pk)
        context = {
            "lead": lead,
            "stage_form": StageForm(request.POST) if form.errors else StageForm(initial={"stage": lead.stage}),
            "history": list(selectors.lead_stage_history(lead)[:100]),
        }
        return render_htmx(
            request, "leads/detail.html", context, fragment="stage-panel", status=400 if form.errors else 200
        )
    return redirect("leads:detail", slug=slug, pk=pk)


@tenant_permission_required("view")
def lead_timeline(request, slug, pk):
    """More of the activity timeline (keyset: activities before ?before=<id>)."""
    lead = _lead_or_404(pk)
    # A malformed ?before= gives the newest activities (the timeline's first page).
    items = selectors.lead_timeline(lead, before_id=parse_id(request.GET.get("before")))
    context = {"lead": lead, "timeline": items, "activity_labels": dict(selectors.activity_type_choices())}
    return render_htmx(request, "leads/_timeline.html", context)


@require_POST
@tenant_permission_required("manage_leads")
def lead_delete(request, slug, pk):
    lead = _lead_or_404(pk)
    services.lead_delete(lead=lead, actor=request.user)
    messages.success(request, _("Lead deleted."))
    if request.htmx:
        return HttpResponseClientRedirect(reverse("leads:list", args=[slug]))
    return redirect("leads:list", slug=slug)


@tenant_permission_required("manage_leads")
def lead_merge(request, slug, pk):
    """Confirm, then merge ?other=<id> into this lead (this one survives)."""
    survivor = _lead_or_404(pk)
    other_id = parse_id(request.POST.get("other") or request.GET.get("other"))
    if other_id is None:
        return HttpResponseBadRequest(_("Choose the lead to merge."), content_type="text/plain; charset=utf-8")
    other = _lead_or_404(other_id)
    if request.method == "POST":
        try:
            services.lead_merge(survivor=survivor, other=other, actor=request.user)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
            return redirect("leads:detail", slug=slug, pk=pk)
        messages.success(request, _("%(other)s was merged into this lead.") % {"other": other.email})
        return redirect("leads:detail", slug=slug, pk=pk)
    counts = {
        "activities": other.activities.count(),
        "history": other.stage_changes.count(),
        "feedback": other.feedback.count(),
    }
    return render_htmx(request, "leads/merge.html", {"survivor": survivor, "other": other, "counts": counts})


# --- duplicates ----------------------------------------------------------------------------------


@tenant_permission_required("manage_leads")
def duplicates(request, slug):
    candidates = list(selectors.duplicate_candidates()[:200])
    return render_htmx(request, "leads/duplicates.html", {"candidates": candidates, "open_count": len(candidates)})


@require_POST
@tenant_permission_required("manage_leads")
def duplicate_dismiss(request, slug, pk):
    candidate = get_object_or_404(DuplicateCandidate, pk=pk, status=DuplicateStatus.OPEN)
    services.duplicate_dismiss(candidate=candidate, actor=request.user)
    messages.success(request, _("Marked as not a duplicate."))
    next_url = request.POST.get("next")
    if next_url == "detail":
        return redirect("leads:detail", slug=slug, pk=candidate.lead_a_id)
    return redirect("leads:duplicates", slug=slug)


# --- CSV import ------------------------------------------------------------------------------------


@tenant_permission_required("manage_leads")
def import_upload(request, slug):
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            job = csv_import.import_create(
                uploaded=form.cleaned_data["file"], encoding=form.cleaned_data["encoding"], actor=request.user
            )
        except ValidationError as error:
            attach_service_errors(form, error)
        else:
            return redirect("leads:import_detail", slug=slug, pk=job.pk)
    return render_htmx(
        request,
        "leads/import.html",
        {"form": form, "jobs": selectors.import_jobs()},
        status=400 if form.errors else 200,
    )


def _job_or_404(pk) -> ImportJob:
    return get_object_or_404(ImportJob, pk=pk)


def _mapping_context(job: ImportJob, form: ImportMappingForm, mapping: list[str], encoding: str) -> dict:
    try:
        preview = csv_import.preview(job, mapping=mapping, encoding=encoding)
        preview_error = None
    except ValidationError as error:
        preview, preview_error = None, " ".join(error.messages)
    return {"job": job, "form": form, "preview": preview, "preview_error": preview_error, "mapping": mapping}


@tenant_permission_required("manage_leads")
def import_detail(request, slug, pk):
    """Step 2 (mapping + preview) while the file waits; then the progress and the result."""
    job = _job_or_404(pk)
    if job.status == ImportStatus.UPLOADED:
        form = ImportMappingForm(initial={"encoding": job.encoding}, header=job.header, mapping=job.mapping)
        return render_htmx(request, "leads/import_mapping.html", _mapping_context(job, form, job.mapping, job.encoding))
    return render_htmx(request, "leads/import_detail.html", {"job": job, "progress": csv_import.progress(job)})


@require_POST
@tenant_permission_required("manage_leads")
def import_preview(request, slug, pk):
    """htmx: the preview for the mapping being chosen (per-cell errors)."""
    job = _job_or_404(pk)
    form = ImportMappingForm(request.POST, header=job.header, mapping=job.mapping)
    form.is_valid()
    mapping = [form.cleaned_data.get(f"col_{i}") or "" for i in range(len(job.header))] if form.is_bound else []
    encoding = form.cleaned_data.get("encoding") or job.encoding
    return render_htmx(
        request, "leads/import_mapping.html", _mapping_context(job, form, mapping, encoding), fragment="preview"
    )


@require_POST
@tenant_permission_required("manage_leads")
def import_start(request, slug, pk):
    job = _job_or_404(pk)
    form = ImportMappingForm(request.POST, header=job.header, mapping=job.mapping)
    if form.is_valid():
        try:
            csv_import.import_set_mapping(job=job, mapping=form.mapping(), encoding=form.cleaned_data["encoding"])
            csv_import.import_start(job=job, actor=request.user)
        except ValidationError as error:
            attach_service_errors(form, error)
        else:
            return redirect("leads:import_detail", slug=slug, pk=pk)
    mapping = [form.cleaned_data.get(f"col_{i}") or "" for i in range(len(job.header))]
    context = _mapping_context(job, form, mapping, form.cleaned_data.get("encoding") or job.encoding)
    return render_htmx(request, "leads/import_mapping.html", context, status=400)


@require_POST
@tenant_permission_required("manage_leads")
def import_retry(request, slug, pk):
    """The retry button of a failed import."""
    job = _job_or_404(pk)
    try:
        csv_import.import_retry(job=job, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect("leads:import_detail", slug=slug, pk=pk)


@tenant_permission_required("manage_leads")
def import_progress(request, slug, pk):
    """htmx polling: the progress block (without polling once finished)."""
    job = _job_or_404(pk)
    if job.is_finished and request.htmx:
        if job.status == ImportStatus.DONE:
            messages.success(request, _("Import finished."))
        else:
            messages.error(request, job.failure)
        return HttpResponseClientRedirect(reverse("leads:import_detail", args=[slug, pk]))
    return render_htmx(
        request, "leads/import_detail.html", {"job": job, "progress": csv_import.progress(job)}, fragment="progress"
    )


@tenant_permission_required("manage_leads")
def import_errors(request, slug, pk):
    job = _job_or_404(pk)
    if not job.is_finished:
        raise Http404
    response = HttpResponse(csv_import.error_csv(job), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-errors.csv"'
    return response


# --- data quality ----------------------------------------------------------------------------------


@tenant_permission_required("view")
def quality_page(request, slug):
    report = quality.quality_report()
    activity = report["activity"]
    labels = dict(selectors.activity_type_choices())
    chart = {
        "unit": "count",
        "stacked": True,
        "labels": [week.strftime("%m/%d") for week in activity["weeks"]],
        "series": [{"label": labels.get(t, t), "data": activity["counts"][t]} for t in activity["types"]],
    }
    completeness = report["completeness"]
    rows = [
        {
            "name": name,
            "label": completeness["labels"][name],
            "missing": completeness["missing"][name],
            "pct": completeness["missing_pct"][name],
        }
        for name in completeness["labels"]
    ]
    volume_rows = [{"label": labels.get(t, t), "counts": activity["counts"][t]} for t in activity["types"]]
    return render_htmx(
        request, "leads/quality.html", {"report": report, "chart": chart, "rows": rows, "volume_rows": volume_rows}
    )


# --- settings: channels, custom fields, activity types, mappings, forms -------------------------------

SETTINGS_FORMS = {
    "channel": ChannelForm,
    "custom_field": CustomFieldForm,
    "activity_type": ActivityTypeForm,
    "mapping": MappingForm,
    "form": FormEndpointForm,
}


@tenant_permission_required("manage_leads")
def lead_settings(request, slug):
    forms = {name: cls(prefix=name) for name, cls in SETTINGS_FORMS.items()}
    status = 200
    if request.method == "POST":
        status = _settings_post(request, forms)
        if status == 302:
            return redirect(f"{reverse('leads:settings', args=[slug])}#{request.POST.get('section', '')}")
    context = {
        "forms": forms,
        "channels": selectors.channels(include_inactive=True),
        "custom_fields": selectors.custom_field_definitions(),
        "activity_types": selectors.activity_type_choices(),
        "custom_types": set(ActivityType.objects.values_list("key", flat=True)),
        "mappings": list(IngestMapping.objects.all()),
        "form_endpoints": list(FormEndpoint.objects.all()),
        "public_base": request.build_absolute_uri("/").rstrip("/"),
    }
    return render_htmx(request, "leads/settings.html", context, status=status)


def _settings_post(request, forms) -> int:
    action = request.POST.get("action", "")
    actor = request.user
    try:
        if action in SETTINGS_FORMS:
            form = SETTINGS_FORMS[action](request.POST, prefix=action)
            forms[action] = form
            if not form.is_valid():
                return 400
            data = form.cleaned_data
            if action == "channel":
                services.channel_add(label=data["label"], actor=actor)
            elif action == "custom_field":
                services.custom_field_create(
                    label=data["label"],
                    field_type=data["field_type"],
                    choices=form.choice_list(),
                    filterable=data["filterable"],
                    actor=actor,
                )
            elif action == "activity_type":
                services.activity_type_create(label=data["label"], key=data["key"], actor=actor)
            elif action == "mapping":
                services.mapping_set(kind=data["kind"], source=data["source"], target=data["target"], actor=actor)
            elif action == "form":
                services.form_endpoint_create(
                    name=data["name"],
                    channel=data["channel"],
                    campaign=data["campaign"],
                    redirect_url=data["redirect_url"],
                    actor=actor,
                )
        elif action == "channel_toggle":
            channel = Channel.objects.filter(key=request.POST.get("key", "")).first()
            if channel is None and request.POST.get("key") not in selectors.channel_labels():
                raise Http404
            active = request.POST.get("active") == "1"
            services.channel_update(key=request.POST["key"], is_active=active, actor=actor)
        elif action == "custom_field_delete":
            definition = get_object_or_404(CustomFieldDefinition, pk=parse_id(request.POST.get("id")))
            services.custom_field_delete(definition=definition, actor=actor)
        elif action == "mapping_delete":
            mapping = get_object_or_404(IngestMapping, pk=parse_id(request.POST.get("id")))
            services.mapping_delete(mapping=mapping, actor=actor)
        elif action in ("form_rotate", "form_toggle"):
            endpoint = get_object_or_404(FormEndpoint, pk=parse_id(request.POST.get("id")))
            if action == "form_rotate":
                services.form_endpoint_rotate_token(form=endpoint, actor=actor)
            else:
                services.form_endpoint_set_active(form=endpoint, is_active=not endpoint.is_active, actor=actor)
        else:
            messages.error(request, _("Unknown action."))
            return 400
    except ValidationError as error:
        if action in forms:
            attach_service_errors(forms[action], error)
        else:
            messages.error(request, " ".join(error.messages))
        return 400
    messages.success(request, _("Saved."))
    return 302
