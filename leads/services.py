"""Writes of the leads app. Each is one transaction, validates first, records history/audit,
and tells the layers above through `leads_changed` (after commit)."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from tenants.context import require_tenant_id
from tenants.models import User
from tenants.services import audit_record

from . import selectors
from .defaults import DEFAULT_CHANNELS, DEFAULT_FORM_FIELDS, TRAIT_TARGETS
from .hooks import leads_changed
from .models import (
    ActivityType,
    ActivityTypes,
    Channel,
    CustomFieldDefinition,
    CustomFieldType,
    DuplicateCandidate,
    DuplicateStatus,
    FormEndpoint,
    IdentityKind,
    IngestMapping,
    Lead,
    LeadIdentity,
    LeadMerge,
    LeadStageChange,
    MappingKind,
    Stage,
)
from .normalize import normalize_company, normalize_name
from .validation import CONSENT_FIELDS, PROFILE_FIELDS, LeadFieldContext, clean_lead_fields

# Columns a lead write may set directly (after cleaning).
_ATTRIBUTE_COLUMNS = ["email", *PROFILE_FIELDS, *CONSENT_FIELDS]


def _user(actor) -> User | None:
    """The acting person, or None for API keys and system writes."""
    return actor if isinstance(actor, User) else None


def _actor_label(actor) -> dict:
    if isinstance(actor, User) or actor is None:
        return {}
    return {"via": str(actor)}


# --- leads ------------------------------------------------------------------------------------------


def apply_lead_fields(lead: Lead, cleaned: dict[str, Any]) -> list[str]:
    """Set cleaned attributes on `lead` (no save). Returns the changed column names."""
    changed = []
    for column in _ATTRIBUTE_COLUMNS:
        if column in cleaned and getattr(lead, column) != cleaned[column]:
            setattr(lead, column, cleaned[column])
            changed.append(column)
    if "custom_fields" in cleaned:
        merged = {**(lead.custom_fields or {}), **cleaned["custom_fields"]}
        merged = {key: value for key, value in merged.items() if value is not None}
        if merged != (lead.custom_fields or {}):
            lead.custom_fields = merged
            changed.append("custom_fields")
    if "company" in changed or not lead.company_normalized and lead.company:
        lead.company_normalized = normalize_company(lead.company)
        changed.append("company_normalized")
    if "name" in changed or not lead.name_normalized and lead.name:
        lead.name_normalized = normalize_name(lead.name)
        changed.append("name_normalized")
    return changed


@transaction.atomic
def lead_create(*, data: dict[str, Any], actor=None, context: LeadFieldContext | None = None) -> Lead:
    """Create a lead. A lead with the same normalised email already existing is a validation error."""
    context = context or LeadFieldContext.load()
    cleaned = clean_lead_fields(data, context=context, partial=False)
    if selectors.lead_by_email(cleaned["email"]) is not None:
        raise ValidationError({"email": [_("A lead with this email already exists.")]})
    stage = cleaned.pop("stage", Stage.LEAD)
    lead = Lead(stage=Stage.LEAD)
    apply_lead_fields(lead, cleaned)
    lead.first_seen_at = timezone.now()
    try:
        with transaction.atomic():
            lead.save()
    except IntegrityError:
        raise ValidationError({"email": [_("A lead with this email already exists.")]})
    if stage != Stage.LEAD:
        lead_change_stage(lead=lead, stage=stage, actor=actor, reason=_("Set when the lead was created"))
    duplicates_flag([lead.pk])
    leads_changed([lead.pk], reason="lead_created")
    return lead


@transaction.atomic
def lead_update(*, lead: Lead, data: dict[str, Any], actor=None, context: LeadFieldContext | None = None) -> Lead:
    """Change some attributes of a lead (partial). A stage in `data` goes through lead_change_stage."""
    context = context or LeadFieldContext.load()
    cleaned = clean_lead_fields(data, context=context, partial=True)
    stage = cleaned.pop("stage", None)
    if "email" in cleaned and cleaned["email"] != lead.email:
        other = selectors.lead_by_email(cleaned["email"])
        if other is not None and other.pk != lead.pk:
            raise ValidationError({"email": [_("A lead with this email already exists.")]})
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    changed = apply_lead_fields(lead, cleaned)
    if changed:
        try:
            with transaction.atomic():
                lead.save(update_fields=[*changed, "updated_at"])
        except IntegrityError:
            raise ValidationError({"email": [_("A lead with this email already exists.")]})
        if {"company", "name"} & set(changed):
            duplicates_flag([lead.pk])
        leads_changed([lead.pk], reason="lead_updated")
    if stage and stage != lead.stage:
        lead_change_stage(lead=lead, stage=stage, actor=actor)
    return lead


@transaction.atomic
def lead_upsert(*, data: dict[str, Any], actor=None, context: LeadFieldContext | None = None) -> tuple[Lead, bool]:
    """Create or update the lead with this (normalised) email. Returns (lead, created)."""
    context = context or LeadFieldContext.load()
    cleaned = clean_lead_fields(data, context=context, partial=True)
    if "email" not in cleaned:
        raise ValidationError({"email": [_("Enter an email address.")]})
    existing = selectors.lead_by_email(cleaned["email"])
    if existing is None:
        try:
            with transaction.atomic():
                return lead_create(data=data, actor=actor, context=context), True
        except ValidationError:
            existing = selectors.lead_by_email(cleaned["email"])  # created concurrently: update it
            if existing is None:
                raise
    update = {key: value for key, value in data.items() if key != "email"}
    return lead_update(lead=existing, data=update, actor=actor, context=context), False


@transaction.atomic
def lead_delete(*, lead: Lead, actor=None) -> None:
    audit_record(
        action="lead.deleted", actor=_user(actor), target=lead.email, data={"lead_id": lead.pk, **_actor_label(actor)}
    )
    lead.delete()


@transaction.atomic
def lead_change_stage(
    *,
    lead: Lead,
    stage: str,
    actor=None,
    reason: str = "",
    changed_at: dt.datetime | None = None,
    mql_definition_version: int | None = None,
) -> LeadStageChange | None:
    """Move a lead to `stage`, keeping the change (and its time) in the history table.

    Moving to the current stage records nothing and returns None.
    """
    if stage not in Stage.values:
        raise ValidationError({"stage": [_("Choose a valid stage.")]})
    locked = Lead.objects.select_for_update().get(pk=lead.pk)
    if locked.stage == stage:
        return None
    changed_at = changed_at or timezone.now()
    change = LeadStageChange.objects.create(
        lead=locked,
        from_stage=locked.stage,
        to_stage=stage,
        changed_at=changed_at,
        changed_by=_user(actor),
        reason=(reason or "")[:200],
        mql_definition_version=mql_definition_version,
    )
    locked.stage = stage
    locked.stage_changed_at = changed_at
    locked.save(update_fields=["stage", "stage_changed_at", "updated_at"])
    lead.stage, lead.stage_changed_at = stage, changed_at
    leads_changed([lead.pk], reason="stage_changed")
    return change


@transaction.atomic
def leads_bulk_change_stage(*, lead_ids: Iterable[int], stage: str, actor=None, reason: str = "") -> int:
    """Move many leads to `stage` (history row per changed lead). Returns how many changed."""
    if stage not in Stage.values:
        raise ValidationError({"stage": [_("Choose a valid stage.")]})
    now = timezone.now()
    rows = list(
        Lead.objects.select_for_update().filter(pk__in=list(lead_ids)).exclude(stage=stage).values_list("pk", "stage")
    )
    if not rows:
        return 0
    LeadStageChange.objects.bulk_create(
        [
            LeadStageChange(
                lead_id=pk,
                from_stage=old,
                to_stage=stage,
                changed_at=now,
                changed_by=_user(actor),
                reason=(reason or "")[:200],
            )
            for pk, old in rows
        ]
    )
    ids = [pk for pk, _old in rows]
    Lead.objects.filter(pk__in=ids).update(stage=stage, stage_changed_at=now, updated_at=now)
    audit_record(action="leads.bulk_stage", actor=_user(actor), target=stage, data={"count": len(ids)})
    leads_changed(ids, reason="stage_changed")
    return len(ids)


@transaction.atomic
def leads_bulk_assign_owner(*, lead_ids: Iterable[int], owner_id: int | None, actor=None) -> int:
    """Give many leads the same owner (a member of the tenant, or nobody)."""
    if owner_id is not None and not selectors.is_member(owner_id):
        raise ValidationError({"owner": [_("Choose a member of this workspace.")]})
    ids = list(
        Lead.objects.filter(pk__in=list(lead_ids)).exclude(owner_id=owner_id).values_list("pk", flat=True)
        if owner_id is not None
        else Lead.objects.filter(pk__in=list(lead_ids), owner__isnull=False).values_list("pk", flat=True)
    )
    if not ids:
        return 0
    Lead.objects.filter(pk__in=ids).update(owner_id=owner_id, updated_at=timezone.now())
    audit_record(action="leads.bulk_owner", actor=_user(actor), target=str(owner_id or ""), data={"count": len(ids)})
    leads_changed(ids, reason="owner_changed")
    return len(ids)


# --- merge and duplicates ----------------------------------------------------------------------------

_MERGE_FILL_FIELDS = PROFILE_FIELDS


def _snapshot(lead: Lead) -> dict[str, Any]:
    data = {}
    for model_field in Lead._meta.concrete_fields:
        value = getattr(lead, model_field.attname)
        if isinstance(value, dt.datetime | dt.date):
            value = value.isoformat()
        data[model_field.attname] = value
    return data


@transaction.atomic
def lead_merge(*, survivor: Lead, other: Lead, actor=None) -> LeadMerge:
    """Merge `other` into `survivor`: activities, stage history, feedback, identities (and rows of the
    apps above that point at the lead) move to the survivor; the survivor's empty attributes are filled
    from `other`; `other` is deleted, its email kept as an alias; the merge is recorded and audited."""
    if survivor.pk == other.pk:
        raise ValidationError(_("A lead cannot be merged into itself."))
    first, second = sorted([survivor.pk, other.pk])
    locked = {lead.pk: lead for lead in Lead.objects.select_for_update().filter(pk__in=[first, second]).order_by("pk")}
    if len(locked) != 2:
        raise ValidationError(_("One of the leads no longer exists."))
    survivor, other = locked[survivor.pk], locked[other.pk]
    snapshot = _snapshot(other)
    moved: dict[str, int] = {}

    for relation in Lead._meta.related_objects:
        if relation.many_to_many or relation.one_to_one or relation.remote_field.name == "merged_into":
            continue
        model = relation.related_model
        if model in (DuplicateCandidate, LeadMerge):
            continue
        fk = relation.field.name
        label = model._meta.label
        try:
            with transaction.atomic():
                count = model._base_manager.filter(**{fk: other}).update(**{fk: survivor})
        except IntegrityError:
            count = 0  # a one-row-per-lead table of another app: the survivor's row wins
        if count:
            moved[label] = moved.get(label, 0) + count
    LeadMerge.objects.filter(survivor=other).update(survivor=survivor)

    for name in _MERGE_FILL_FIELDS:
        if getattr(survivor, name) in ("", None) and getattr(other, name) not in ("", None):
            setattr(survivor, name, getattr(other, name))
    survivor.custom_fields = {**(other.custom_fields or {}), **(survivor.custom_fields or {})}
    survivor.company_normalized = normalize_company(survivor.company)
    survivor.name_normalized = normalize_name(survivor.name)
    survivor.first_seen_at = min(filter(None, [survivor.first_seen_at, other.first_seen_at]), default=None)
    survivor.last_activity_at = max(filter(None, [survivor.last_activity_at, other.last_activity_at]), default=None)
    survivor.unsubscribed = survivor.unsubscribed or other.unsubscribed
    survivor.email_consent = survivor.email_consent and other.email_consent

    other_email, other_pk = other.email, other.pk
    other.delete()
    survivor.save()
    LeadIdentity.objects.update_or_create(kind=IdentityKind.EMAIL, value=other_email, defaults={"lead": survivor})
    merge = LeadMerge.objects.create(
        survivor=survivor,
        merged_lead_id=other_pk,
        merged_email=other_email,
        merged_snapshot=snapshot,
        moved=moved,
        merged_by=_user(actor),
        merged_at=timezone.now(),
    )
    audit_record(
        action="lead.merged",
        actor=_user(actor),
        target=survivor.email,
        data={
            "survivor_id": survivor.pk,
            "merged_id": other_pk,
            "merged_email": other_email,
            "moved": moved,
            **_actor_label(actor),
        },
    )
    duplicates_flag([survivor.pk])
    leads_changed([survivor.pk], reason="lead_merged")
    return merge


def _id_chunks(ids: list[int], size: int = 5000) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


MAX_DUPLICATE_GROUP = 25  # beyond this, a "company + name" is a generic placeholder, not a person


def duplicates_flag(lead_ids: Iterable[int] | None) -> int:
    """Flag leads sharing normalised company + name with these leads (None: the whole tenant) as
    duplicate candidates (never merged). Returns how many new pairs were flagged."""
    if lead_ids is None:
        queryset = Lead.objects.all()
        ids = None
    else:
        ids = sorted({int(i) for i in lead_ids})
        if not ids:
            return 0
        queryset = Lead.objects.filter(pk__in=ids)
    keys = set(
        queryset.exclude(company_normalized="")
        .exclude(name_normalized="")
        .values_list("company_normalized", "name_normalized")
    )
    return duplicates_flag_keys(keys)


def duplicates_flag_keys(keys: set[tuple[str, str]]) -> int:
    """Flag every group of leads sharing one of these (company_normalized, name_normalized) keys.

    Set-based: per chunk of keys one query for the leads having them and one INSERT ... ON CONFLICT
    DO NOTHING of the pairs; existing pairs (dismissed ones included) are kept.
    """
    tenant_id = require_tenant_id()
    ordered = sorted((company, name) for company, name in keys if company and name)
    created = 0
    for start in range(0, len(ordered), 5000):
        chunk = set(ordered[start : start + 5000])
        groups: dict[tuple[str, str], list[int]] = {}
        for pk, company, name in _leads_with_keys(tenant_id, chunk):
            groups.setdefault((company, name), []).append(pk)
        pairs = set()
        for members in groups.values():
            if 1 < len(members) <= MAX_DUPLICATE_GROUP:
                members.sort()
                pairs.update((a, b) for i, a in enumerate(members) for b in members[i + 1 :])
        if not pairs:
            continue
        firsts = {a for a, _b in pairs}
        existing = set(DuplicateCandidate.objects.filter(lead_a__in=firsts).values_list("lead_a_id", "lead_b_id"))
        new = sorted(pairs - existing)
        DuplicateCandidate.objects.bulk_create(
            [DuplicateCandidate(lead_a_id=a, lead_b_id=b) for a, b in new], ignore_conflicts=True
        )
        created += len(new)
    return created


def _leads_with_keys(tenant_id: int, keys: set[tuple[str, str]]) -> list[tuple[int, str, str]]:
    """(id, company_normalized, name_normalized) of every lead having one of `keys`."""
    companies, names = zip(*sorted(keys), strict=True)
    import json

    from .ingest import pg_cursor

    with pg_cursor() as cursor:
        cursor.execute(
            "SELECT l.id, l.company_normalized, l.name_normalized FROM leads_lead l "
            "JOIN json_to_recordset(%s::json) AS k(company text, name text) "
            "ON l.company_normalized = k.company AND l.name_normalized = k.name WHERE l.tenant_id = %s",
            [
                json.dumps(
                    [{"company": c, "name": n} for c, n in zip(companies, names, strict=True)], ensure_ascii=False
                ),
                tenant_id,
            ],
        )
        return cursor.fetchall()


@transaction.atomic
def duplicate_dismiss(*, candidate: DuplicateCandidate, actor=None) -> DuplicateCandidate:
    """Mark a candidate pair as 'not the same person' (it is not flagged again)."""
    candidate.status = DuplicateStatus.DISMISSED
    candidate.resolved_at = timezone.now()
    candidate.resolved_by = _user(actor)
    candidate.save(update_fields=["status", "resolved_at", "resolved_by"])
    return candidate


# --- tenant configuration: channels, custom fields, activity types, mappings, forms ------------------


def _materialize_channels() -> None:
    if not Channel.objects.exists():
        Channel.objects.bulk_create(
            [Channel(key=key, label=str(label), position=i) for i, (key, label) in enumerate(DEFAULT_CHANNELS)]
        )


def _unique_key(raw: str, label: str, taken: Iterable[str], *, max_length: int = 40) -> str:
    key = slugify(raw or "", allow_unicode=False).replace("-", "_")[:max_length]
    if not key:
        key = slugify(label, allow_unicode=False).replace("-", "_")[:max_length]
    if not key:
        key = "field"
    taken = set(taken)
    base, n = key, 2
    while key in taken:
        suffix = f"_{n}"
        key = base[: max_length - len(suffix)] + suffix
        n += 1
    return key


@transaction.atomic
def channel_add(*, label: str, key: str = "", actor=None) -> Channel:
    label = " ".join((label or "").split())
    if not label:
        raise ValidationError({"label": [_("Give the channel a name.")]})
    _materialize_channels()
    if Channel.objects.filter(label=label).exists():
        raise ValidationError({"label": [_("This channel already exists.")]})
    key = _unique_key(key, label, Channel.objects.values_list("key", flat=True))
    position = (Channel.objects.order_by("-position").values_list("position", flat=True).first() or 0) + 1
    channel = Channel.objects.create(key=key, label=label[:100], position=position)
    audit_record(action="channel.added", actor=_user(actor), target=key, data={"label": label})
    return channel


@transaction.atomic
def channel_update(*, key: str, label: str | None = None, is_active: bool | None = None, actor=None) -> Channel:
    _materialize_channels()
    channel = Channel.objects.get(key=key)
    if label is not None:
        label = " ".join(label.split())
        if not label:
            raise ValidationError({"label": [_("Give the channel a name.")]})
        channel.label = label[:100]
    if is_active is not None:
        channel.is_active = is_active
    channel.save()
    audit_record(
        action="channel.changed",
        actor=_user(actor),
        target=key,
        data={"label": channel.label, "active": channel.is_active},
    )
    return channel


@transaction.atomic
def custom_field_create(
    *, label: str, field_type: str, choices: list[str] | None = None, key: str = "", filterable: bool = True, actor=None
) -> CustomFieldDefinition:
    label = " ".join((label or "").split())
    errors = {}
    if not label:
        errors["label"] = [_("Give the field a name.")]
    if field_type not in CustomFieldType.values:
        errors["field_type"] = [_("Choose a valid type.")]
    choices = [" ".join(str(c).split()) for c in (choices or []) if str(c).strip()]
    if field_type == CustomFieldType.CHOICE and not choices:
        errors["choices"] = [_("List the choices, one per line.")]
    if errors:
        raise ValidationError(errors)
    taken = set(CustomFieldDefinition.objects.values_list("key", flat=True))
    key = _unique_key(key, label, taken)
    position = CustomFieldDefinition.objects.count()
    definition = CustomFieldDefinition.objects.create(
        key=key,
        label=label[:100],
        field_type=field_type,
        choices=choices,
        filterable=filterable,
        position=position,
    )
    audit_record(action="custom_field.created", actor=_user(actor), target=key, data={"type": field_type})
    return definition


@transaction.atomic
def custom_field_delete(*, definition: CustomFieldDefinition, actor=None) -> None:
    """Remove a definition; stored values stay in the leads' JSON (recreating the key shows them again)."""
    audit_record(action="custom_field.deleted", actor=_user(actor), target=definition.key)
    definition.delete()


@transaction.atomic
def activity_type_create(*, label: str, key: str = "", actor=None) -> ActivityType:
    label = " ".join((label or "").split())
    if not label:
        raise ValidationError({"label": [_("Give the activity type a name.")]})
    taken = set(ActivityType.objects.values_list("key", flat=True)) | set(ActivityTypes.values)
    activity_type = ActivityType.objects.create(key=_unique_key(key, label, taken, max_length=60), label=label[:100])
    audit_record(action="activity_type.created", actor=_user(actor), target=activity_type.key)
    return activity_type


@transaction.atomic
def mapping_set(*, kind: str, source: str, target: str, actor=None) -> IngestMapping:
    """Map a Segment trait / event / page URL to a lead field / activity type (empty target: ignore it)."""
    source = (source or "").strip()
    target = (target or "").strip()
    errors = {}
    if kind not in MappingKind.values:
        errors["kind"] = [_("Choose a valid kind.")]
    if not source:
        errors["source"] = [_("Enter the name to map.")]
    if target:
        if kind == MappingKind.TRAIT:
            custom = {f"custom.{d.key}" for d in selectors.custom_field_definitions()}
            if target not in TRAIT_TARGETS and target not in custom:
                errors["target"] = [_("Choose a lead field.")]
        elif target not in selectors.known_activity_types():
            errors["target"] = [_("Choose an activity type.")]
    if errors:
        raise ValidationError(errors)
    mapping, _created = IngestMapping.objects.update_or_create(
        kind=kind, source=source[:200], defaults={"target": target}
    )
    audit_record(action="ingest_mapping.set", actor=_user(actor), target=f"{kind}:{source}", data={"target": target})
    return mapping


@transaction.atomic
def mapping_delete(*, mapping: IngestMapping, actor=None) -> None:
    audit_record(action="ingest_mapping.deleted", actor=_user(actor), target=f"{mapping.kind}:{mapping.source}")
    mapping.delete()


@transaction.atomic
def form_endpoint_create(
    *, name: str, channel: str = "", campaign: str = "", redirect_url: str = "", actor=None
) -> FormEndpoint:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError({"name": [_("Give the form a name.")]})
    if channel and channel not in selectors.channel_labels():
        raise ValidationError({"channel": [_("Choose a channel from the list.")]})
    taken = set(FormEndpoint.objects.values_list("key", flat=True))
    key = _unique_key("", name, taken)
    if key == "field":
        key = _unique_key("form", "form", taken)
    form = FormEndpoint.objects.create(
        key=key,
        name=name[:100],
        token=secrets.token_urlsafe(24),
        field_map=dict(DEFAULT_FORM_FIELDS),
        channel=channel,
        campaign=campaign[:200],
        redirect_url=redirect_url,
    )
    audit_record(action="form_endpoint.created", actor=_user(actor), target=key)
    return form


@transaction.atomic
def form_endpoint_rotate_token(*, form: FormEndpoint, actor=None) -> FormEndpoint:
    form.token = secrets.token_urlsafe(24)
    form.save(update_fields=["token"])
    audit_record(action="form_endpoint.token_rotated", actor=_user(actor), target=form.key)
    return form


@transaction.atomic
def form_endpoint_set_active(*, form: FormEndpoint, is_active: bool, actor=None) -> FormEndpoint:
    form.is_active = is_active
    form.save(update_fields=["is_active"])
    audit_record(action="form_endpoint.changed", actor=_user(actor), target=form.key, data={"active": is_active})
    return form
