"""Writes of the MQL app: definition versions, comments, approvals, activation, the approval
policy, the reason taxonomy, and moving qualifying leads to MQL (the hand-over to sales).

Every function takes keyword-only arguments, runs in one transaction, records audit events for
decisions (approval, activation, policy) and enqueues follow-up work on commit.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone
from django.utils.translation import gettext as _

from leads.models import Lead, LeadStageChange, Stage
from tenants.context import require_tenant_id
from tenants.models import Membership, Role, User
from tenants.roles import CAPABILITIES
from tenants.services import audit_record, members_with_role, notify
from tenants.tasking import enqueue_on_commit

from . import evaluation, integration
from .models import (
    DEFAULT_FREE_MAIL_DOMAINS,
    DEFAULT_HIGH_INTENT_ACTIVITY_TYPES,
    DEFAULT_HIGH_INTENT_FORM_KEYS,
    REQUIRED_INFO_KEYS,
    DefinitionStatus,
    FeedbackReason,
    Handover,
    MqlApproval,
    MqlApprovalPolicy,
    MqlComment,
    MqlDefinition,
    ReasonKind,
    ReevaluationRun,
    RunStatus,
)

APPROVER_ROLES = [Role.ADMIN, Role.MARKETING, Role.SALES]

# Defaults of a first draft: the seed's "hot = hand over to sales", plus the seed interview's
# high-intent forms and the information sales needs.
DEFAULT_CONDITIONS = {
    "min_score": 80,
    "segments": [],
    "score_mode": "any",
    "required_info": [],
    "high_intent_activity_types": DEFAULT_HIGH_INTENT_ACTIVITY_TYPES,
    "high_intent_form_keys": DEFAULT_HIGH_INTENT_FORM_KEYS,
    "high_intent_days": 90,
    "competitor_domains": [],
    "exclude_free_mail": False,
    "free_mail_domains": DEFAULT_FREE_MAIL_DOMAINS,
    "exclude_students": True,
    "exclude_customers": True,
    "exclude_unsubscribed": True,
    "sql_criteria": "",
}

# The default rejection / lost-deal taxonomy: (key, ja, en, kind, default stage, note required)
DEFAULT_REASONS = [
    ("not_decision_maker", "決裁者ではない", "Not a decision maker", ReasonKind.BOTH, Stage.RECYCLED, False),
    ("no_budget", "予算がない", "No budget", ReasonKind.BOTH, Stage.RECYCLED, False),
    ("timing_too_early", "時期が早すぎる", "Timing too early", ReasonKind.BOTH, Stage.RECYCLED, False),
    ("no_real_need", "具体的なニーズがない", "No real need", ReasonKind.BOTH, Stage.RECYCLED, False),
    ("competitor", "競合他社", "Competitor", ReasonKind.BOTH, Stage.DISQUALIFIED, False),
    ("existing_customer", "既存顧客", "Existing customer", ReasonKind.REJECT, Stage.DISQUALIFIED, False),
    ("bad_contact_data", "連絡先情報の不備", "Bad contact data", ReasonKind.REJECT, Stage.DISQUALIFIED, False),
    ("student_job_seeker", "学生・求職者", "Student / job seeker", ReasonKind.REJECT, Stage.DISQUALIFIED, False),
    ("duplicate", "重複", "Duplicate", ReasonKind.REJECT, Stage.DISQUALIFIED, False),
    ("other", "その他", "Other", ReasonKind.BOTH, Stage.RECYCLED, True),
]


# --------------------------------------------------------------------------- defaults


def defaults_ensure() -> None:
    """Create the tenant's default reason taxonomy and approval policy (idempotent).

    Registered in ONDO_TENANT_CREATED_HOOKS-style callers and called lazily by the pages.
    """
    reasons_ensure_defaults()
    approval_policy_get()


def reasons_ensure_defaults() -> None:
    if FeedbackReason.objects.exists():
        return
    FeedbackReason.objects.bulk_create(
        [
            FeedbackReason(
                key=key,
                label_ja=ja,
                label_en=en,
                kind=kind,
                default_stage=stage,
                requires_note=note,
                position=(index + 1) * 10,
            )
            for index, (key, ja, en, kind, stage, note) in enumerate(DEFAULT_REASONS)
        ],
        ignore_conflicts=True,
    )


def approval_policy_get() -> MqlApprovalPolicy:
    policy = MqlApprovalPolicy.objects.first()
    if policy is None:
        policy, _created = MqlApprovalPolicy.objects.get_or_create(
            tenant_id=require_tenant_id(), defaults={"required_roles": list(MqlApprovalPolicy.DEFAULT_ROLES)}
        )
    return policy


# --------------------------------------------------------------------------- definitions


def _role_of(user: User) -> str | None:
    return Membership.objects.filter(tenant_id=require_tenant_id(), user=user).values_list("role", flat=True).first()


def _require_capability(user: User, capability: str) -> str:
    role = _role_of(user)
    if role not in CAPABILITIES[capability]:
        raise PermissionDenied(_("Your role may not do this."))
    return role


def _require_draft(definition: MqlDefinition) -> None:
    if definition.status != DefinitionStatus.DRAFT:
        raise ValidationError(
            _("Only a draft can be changed; version %(v)s is %(status)s.")
            % {"v": definition.version, "status": definition.get_status_display()}
        )


def active_definition() -> MqlDefinition | None:
    return MqlDefinition.objects.filter(status=DefinitionStatus.ACTIVE).first()


def _next_version() -> int:
    return (MqlDefinition.objects.aggregate(v=Max("version"))["v"] or 0) + 1


@transaction.atomic
def definition_create_draft(*, actor: User, based_on: MqlDefinition | None = None) -> MqlDefinition:
    """Start a new draft version from `based_on` (default: the active version, else defaults)."""
    _require_capability(actor, "draft_mql")
    source = based_on or active_definition()
    conditions = source.conditions() if source is not None else dict(DEFAULT_CONDITIONS)
    # Lock the tenant's definitions while numbering the version (concurrent drafts).
    list(MqlDefinition.objects.select_for_update().values_list("id", flat=True))
    draft = MqlDefinition.objects.create(
        version=_next_version(),
        status=DefinitionStatus.DRAFT,
        based_on=source,
        created_by=actor,
        updated_by=actor,
        title=_("Draft based on v%(v)s") % {"v": source.version} if source else _("First MQL definition"),
        **conditions,
    )
    audit_record(
        action="mql.definition_drafted",
        actor=actor,
        target=f"v{draft.version}",
        data={"based_on": source.version if source else None},
    )
    return draft


def clean_conditions(data: dict) -> dict:
    """Validate and normalise a definition's conditions; raises ValidationError per field."""
    errors: dict[str, list[str]] = {}
    cleaned = dict(data)

    def _list(name: str) -> list[str]:
        value = cleaned.get(name) or []
        if isinstance(value, str):
            value = value.replace("、", ",").replace("\n", ",").split(",")
        return [str(item).strip() for item in value if str(item).strip()]

    min_score = cleaned.get("min_score")
    if min_score in ("", None):
        cleaned["min_score"] = None
    else:
        try:
            cleaned["min_score"] = int(min_score)
        except (TypeError, ValueError):
            errors.setdefault("min_score", []).append(_("Enter a whole number, e.g. 80."))
        else:
            if not -1000 <= cleaned["min_score"] <= 10000:
                errors.setdefault("min_score", []).append(_("Enter a score between -1000 and 10000."))
    cleaned["segments"] = _list("segments")
    bad_segments = [s for s in cleaned["segments"] if s not in {"hot", "warm", "cold"}]
    if bad_segments:
        errors.setdefault("segments", []).append(_("Unknown segment: %(s)s.") % {"s": ", ".join(bad_segments)})
    cleaned["score_mode"] = cleaned.get("score_mode") or "any"
    if cleaned["score_mode"] not in {"any", "all"}:
        errors.setdefault("score_mode", []).append(_("Choose how score and segment combine."))
    cleaned["required_info"] = _list("required_info")
    bad_info = [k for k in cleaned["required_info"] if k not in REQUIRED_INFO_KEYS]
    if bad_info:
        errors.setdefault("required_info", []).append(
            _("Unknown qualifying field: %(f)s.") % {"f": ", ".join(bad_info)}
        )
    cleaned["high_intent_activity_types"] = [t.lower() for t in _list("high_intent_activity_types")]
    cleaned["high_intent_form_keys"] = _list("high_intent_form_keys")
    for name in ("high_intent_activity_types", "high_intent_form_keys"):
        too_long = [item for item in cleaned[name] if len(item) > 60]
        if too_long:
            errors.setdefault(name, []).append(_("Keep each entry under 60 characters."))
    days = cleaned.get("high_intent_days")
    if days in ("", None):
        cleaned["high_intent_days"] = None
    else:
        try:
            cleaned["high_intent_days"] = int(days)
            if not 1 <= cleaned["high_intent_days"] <= 3650:
                raise ValueError
        except (TypeError, ValueError):
            errors.setdefault("high_intent_days", []).append(_("Enter a number of days between 1 and 3650."))
    for name in ("competitor_domains", "free_mail_domains"):
        domains = [d.lower().lstrip("@") for d in _list(name)]
        bad = [d for d in domains if "." not in d or " " in d or "/" in d or "@" in d]
        if bad:
            errors.setdefault(name, []).append(
                _("Not a domain: %(d)s (write e.g. example.co.jp).") % {"d": ", ".join(bad[:5])}
            )
        cleaned[name] = sorted(set(domains))
    for name in ("exclude_free_mail", "exclude_students", "exclude_customers", "exclude_unsubscribed"):
        cleaned[name] = bool(cleaned.get(name))
    cleaned["sql_criteria"] = (cleaned.get("sql_criteria") or "").strip()
    if len(cleaned["sql_criteria"]) > 5000:
        errors.setdefault("sql_criteria", []).append(_("Keep the criteria under 5,000 characters."))
    if not errors and (
        cleaned["min_score"] is None
        and not cleaned["segments"]
        and not cleaned["required_info"]
        and not cleaned["high_intent_activity_types"]
        and not cleaned["high_intent_form_keys"]
    ):
        errors.setdefault("__all__", []).append(
            _("Give at least one condition: a minimum score, a segment, required information or a high-intent action.")
        )
    if errors:
        raise ValidationError(errors)
    return {name: cleaned.get(name, DEFAULT_CONDITIONS[name]) for name in MqlDefinition.CONDITION_FIELDS}


@transaction.atomic
def definition_update_draft(
    *, definition: MqlDefinition, actor: User, conditions: dict, title: str | None = None
) -> MqlDefinition:
    """Change a draft's conditions. Approvals given for other conditions stop counting."""
    _require_capability(actor, "draft_mql")
    definition = MqlDefinition.objects.select_for_update().get(pk=definition.pk)
    _require_draft(definition)
    cleaned = clean_conditions(conditions)
    for name, value in cleaned.items():
        setattr(definition, name, value)
    if title is not None:
        definition.title = title.strip()[:200]
    definition.updated_by = actor
    definition.save()
    return definition


@transaction.atomic
def definition_discard(*, definition: MqlDefinition, actor: User) -> MqlDefinition:
    _require_capability(actor, "draft_mql")
    definition = MqlDefinition.objects.select_for_update().get(pk=definition.pk)
    _require_draft(definition)
    definition.status = DefinitionStatus.DISCARDED
    definition.save(update_fields=["status", "updated_at"])
    audit_record(action="mql.definition_discarded", actor=actor, target=f"v{definition.version}")
    return definition


def comment_add(*, definition: MqlDefinition, author: User, body: str) -> MqlComment:
    _require_capability(author, "view")
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": _("Write a comment first.")})
    if len(body) > 4000:
        raise ValidationError({"body": _("Keep a comment under 4,000 characters.")})
    comment = MqlComment.objects.create(definition=definition, author=author, body=body)
    recipients = [u for u in _discussion_members(definition) if u.pk != author.pk]
    notify(
        recipients=recipients,
        kind="mql.comment",
        title=_("New comment on MQL definition v%(v)s") % {"v": definition.version},
        body=body[:300],
        dedupe_key=f"mql-comment:{comment.pk}",
        email=False,
    )
    return comment


def _discussion_members(definition: MqlDefinition) -> list[User]:
    users = {u.pk: u for u in members_with_role(Role.ADMIN, Role.MARKETING, Role.SALES)}
    return list(users.values())


# --------------------------------------------------------------------------- approvals


def approval_requirements(definition: MqlDefinition) -> list[dict]:
    """What the policy requires for `definition` and whether each requirement is met now."""
    policy = approval_policy_get()
    current_hash = definition.conditions_hash()
    approvals = [a for a in definition.approvals.select_related("approver") if a.conditions_hash == current_hash]
    members = dict(Membership.objects.filter(tenant_id=require_tenant_id()).values_list("user_id", "role"))
    role_labels = dict(Role.choices)
    requirements = []
    for role in policy.required_roles:
        # The role recorded at approval counts (a later promotion or demotion changes nothing); the approver must
        # still be a member. Rows from before the role was recorded fall back to the current role.
        by = [a for a in approvals if a.approver_id in members and (a.role or members[a.approver_id]) == role]
        requirements.append(
            {"kind": "role", "key": role, "label": role_labels.get(role, role), "met": bool(by), "approvals": by}
        )
    users = {u.pk: u for u in User.objects.filter(pk__in=policy.required_approver_ids)}
    for user_id in policy.required_approver_ids:
        user = users.get(user_id)
        if user is None or user_id not in members:
            continue  # a member who left no longer blocks activation
        by = [a for a in approvals if a.approver_id == user_id]
        requirements.append(
            {"kind": "user", "key": str(user_id), "label": user.display_name, "met": bool(by), "approvals": by}
        )
    return requirements


def approvals_complete(definition: MqlDefinition) -> bool:
    requirements = approval_requirements(definition)
    return bool(requirements) and all(r["met"] for r in requirements)


@transaction.atomic
def definition_approve(*, definition: MqlDefinition, approver: User, note: str = "") -> MqlApproval:
    """Approve the draft as it is now; the last required approval activates it."""
    role = _require_capability(approver, "approve_mql")
    definition = MqlDefinition.objects.select_for_update().get(pk=definition.pk)
    _require_draft(definition)
    now = timezone.now()
    approval, _created = MqlApproval.objects.update_or_create(
        definition=definition,
        approver=approver,
        defaults={
            "role": role,
            "conditions_hash": definition.conditions_hash(),
            "note": (note or "").strip()[:500],
            "approved_at": now,
        },
    )
    audit_record(
        action="mql.definition_approved",
        actor=approver,
        target=f"v{definition.version}",
        data={"role": role, "conditions": definition.conditions()},
    )
    if approvals_complete(definition):
        _activate(definition=definition, actor=approver, now=now)
    return approval


@transaction.atomic
def definition_activate(*, definition: MqlDefinition, actor: User) -> MqlDefinition:
    """Activate a draft whose required approvals are all in place (normally automatic)."""
    _require_capability(actor, "approve_mql")
    definition = MqlDefinition.objects.select_for_update().get(pk=definition.pk)
    _require_draft(definition)
    if not approvals_complete(definition):
        raise ValidationError(_("This version still needs the required approvals before it can become active."))
    _activate(definition=definition, actor=actor, now=timezone.now())
    return definition


def _activate(*, definition: MqlDefinition, actor: User, now: datetime) -> None:
    previous = MqlDefinition.objects.select_for_update().filter(status=DefinitionStatus.ACTIVE).first()
    if previous is not None:
        previous.status = DefinitionStatus.SUPERSEDED
        previous.superseded_at = now
        previous.save(update_fields=["status", "superseded_at", "updated_at"])
    definition.status = DefinitionStatus.ACTIVE
    definition.activated_at = now
    definition.activated_by = actor
    definition.save(update_fields=["status", "activated_at", "activated_by", "updated_at"])
    current_hash = definition.conditions_hash()
    approvals = [
        {"approver": a.approver.email, "role": a.role, "approved_at": a.approved_at.isoformat()}
        for a in definition.approvals.select_related("approver")
        if a.conditions_hash == current_hash
    ]
    audit_record(
        action="mql.definition_activated",
        actor=actor,
        target=f"v{definition.version}",
        data={
            "version": definition.version,
            "previous": previous.version if previous else None,
            "approvals": approvals,
            "conditions": definition.conditions(),
        },
    )
    run = ReevaluationRun.objects.create(definition=definition)
    from . import tasks

    enqueue_on_commit(tasks.reevaluate_all, require_tenant_id(), run.pk)
    notify(
        recipients=_discussion_members(definition),
        kind="mql.activated",
        title=_("MQL definition v%(v)s is now active") % {"v": definition.version},
        body=definition.title,
        dedupe_key=f"mql-activated:{definition.pk}",
        email=True,
    )


@transaction.atomic
def approval_policy_update(
    *, actor: User, required_roles: list[str], required_approver_ids: list[int]
) -> MqlApprovalPolicy:
    """The tenant admin decides who must approve a draft (roles and/or named members)."""
    _require_capability(actor, "admin_tenant")
    roles = sorted({r for r in required_roles if r})
    bad = [r for r in roles if r not in APPROVER_ROLES]
    if bad:
        raise ValidationError({"required_roles": _("These roles cannot approve: %(r)s.") % {"r": ", ".join(bad)}})
    ids = sorted({int(i) for i in required_approver_ids})
    approvers = dict(
        Membership.objects.filter(tenant_id=require_tenant_id(), user_id__in=ids).values_list("user_id", "role")
    )
    not_allowed = [i for i in ids if approvers.get(i) not in APPROVER_ROLES]
    if not_allowed:
        raise ValidationError({"required_approver_ids": _("Choose members who may approve (admin, marketing, sales).")})
    if not roles and not ids:
        raise ValidationError({"required_roles": _("At least one role or member must approve.")})
    policy = MqlApprovalPolicy.objects.select_for_update().get(pk=approval_policy_get().pk)
    before = {"roles": policy.required_roles, "members": policy.required_approver_ids}
    policy.required_roles = roles
    policy.required_approver_ids = ids
    policy.updated_by = actor
    policy.save()
    audit_record(
        action="mql.approval_policy_changed",
        actor=actor,
        data={"before": before, "after": {"roles": roles, "members": ids}},
    )
    return policy


# --------------------------------------------------------------------------- reason taxonomy


@transaction.atomic
def reason_save(*, actor: User, data: dict, reason: FeedbackReason | None = None) -> FeedbackReason:
    """Create or edit one reason of the taxonomy (admin or marketing)."""
    _require_capability(actor, "draft_mql")
    errors = {}
    label_ja = (data.get("label_ja") or "").strip()
    label_en = (data.get("label_en") or "").strip()
    if not label_ja:
        errors["label_ja"] = _("Enter the Japanese label.")
    if not label_en:
        errors["label_en"] = _("Enter the English label.")
    kind = data.get("kind") or ReasonKind.BOTH
    if kind not in ReasonKind.values:
        errors["kind"] = _("Choose what the reason is used for.")
    stage = data.get("default_stage") or Stage.RECYCLED
    if stage not in (Stage.RECYCLED, Stage.DISQUALIFIED):
        errors["default_stage"] = _("Choose recycled or disqualified.")
    if errors:
        raise ValidationError(errors)
    if reason is None:
        from django.utils.text import slugify

        base = slugify(label_en)[:50] or "reason"
        key, n = base, 2
        while FeedbackReason.objects.filter(key=key).exists():
            key, n = f"{base}-{n}", n + 1
        position = (FeedbackReason.objects.aggregate(p=Max("position"))["p"] or 0) + 10
        reason = FeedbackReason(key=key, position=position)
    reason.label_ja, reason.label_en = label_ja[:100], label_en[:100]
    reason.kind, reason.default_stage = kind, stage
    reason.requires_note = bool(data.get("requires_note"))
    reason.is_active = bool(data.get("is_active", True))
    reason.save()
    return reason


# --------------------------------------------------------------------------- promotion to MQL

PROMOTE_CHUNK = 5000


def _handover_recipients(owner_ids: set[int]) -> dict[int | None, list[User]]:
    owners = {u.pk: u for u in User.objects.filter(pk__in=owner_ids, is_active=True)}
    return owners


def promote_qualifying(
    *,
    definition: MqlDefinition,
    lead_ids: list[int] | None = None,
    id_range: tuple[int, int] | None = None,
    now: datetime | None = None,
    notify_each: bool = True,
) -> list[int]:
    """Move leads meeting `definition` from lead/recycled to MQL, with stage history and a hand-over.

    Set-based: one query selects (and locks) the qualifying promotable leads, then one UPDATE and
    two bulk INSERTs. Leads sales already owns (SQL, opportunity, customer) are never touched.
    Must run inside a transaction in the tenant's scope.
    """
    now = now or timezone.now()
    queryset = Lead.objects.filter(evaluation.promotable_q())
    if lead_ids is not None:
        queryset = queryset.filter(pk__in=lead_ids)
    if id_range is not None:
        queryset = queryset.filter(pk__gte=id_range[0], pk__lt=id_range[1])
    rows = list(
        evaluation.qualifying_leads(definition, queryset, now=now)
        .select_for_update(of=("self",))
        .values_list("id", "stage", "owner_id")
    )
    if not rows:
        return []
    ids = [row[0] for row in rows]
    Lead.objects.filter(pk__in=ids).update(stage=Stage.MQL, stage_changed_at=now, updated_at=now)
    reason = _("Met MQL definition v%(v)s") % {"v": definition.version}
    LeadStageChange.objects.bulk_create(
        [
            LeadStageChange(
                lead_id=lead_id,
                from_stage=stage,
                to_stage=Stage.MQL,
                changed_at=now,
                reason=reason[:200],
                mql_definition_version=definition.version,
            )
            for lead_id, stage, _owner in rows
        ],
        batch_size=1000,
    )
    deadline = now + timedelta(hours=integration.follow_up_hours())
    # A lead re-qualifying closes any hand-over left open (e.g. recycled without a recorded contact).
    Handover.objects.filter(lead_id__in=ids, closed_at__isnull=True).update(closed_at=now, outcome="superseded")
    handovers = Handover.objects.bulk_create(
        [
            Handover(
                lead_id=lead_id,
                definition_version=definition.version,
                handed_over_at=now,
                deadline_at=deadline,
                owner_id=owner,
            )
            for lead_id, _stage, owner in rows
        ],
        batch_size=1000,
    )
    _notify_handover(rows=rows, handovers=handovers, definition=definition, notify_each=notify_each)
    return ids


def _notify_handover(*, rows, handovers, definition: MqlDefinition, notify_each: bool) -> None:
    from django.urls import reverse

    from tenants.models import Tenant

    tenant = Tenant.objects.get(pk=require_tenant_id())
    inbox_url = reverse("mql:inbox", kwargs={"slug": tenant.slug})
    sales = members_with_role(Role.SALES)
    if not notify_each or len(rows) > 20:
        notify(
            recipients=sales,
            kind="mql.handover",
            title=_("%(n)s leads became MQL (definition v%(v)s)") % {"n": len(rows), "v": definition.version},
            url=inbox_url,
            dedupe_key=f"mql-handover-batch:{definition.pk}:{handovers[0].pk}",
            email=False,
        )
        return
    owners = _handover_recipients({owner for _id, _stage, owner in rows if owner})
    names = dict(Lead.objects.filter(pk__in=[r[0] for r in rows]).values_list("pk", "email"))
    for (lead_id, _stage, owner_id), handover in zip(rows, handovers, strict=True):
        recipients = [owners[owner_id]] if owner_id in owners else sales
        notify(
            recipients=recipients,
            kind="mql.handover",
            title=_("New MQL to follow up: %(lead)s") % {"lead": names.get(lead_id, lead_id)},
            body=_("Please contact the lead by %(deadline)s.")
            % {"deadline": timezone.localtime(handover.deadline_at).strftime("%Y/%m/%d %H:%M")},
            url=inbox_url,
            dedupe_key=f"mql-handover:{handover.pk}",
        )


def evaluate_leads(*, lead_ids: list[int]) -> list[int]:
    """Incremental: promote these leads if they now meet the active definition.

    Runs after scoring: leads whose stored score is older than their latest change (scoring's own
    rescore task has not run yet) are rescored here first, in the same transaction, so the
    definition is never evaluated on a stale score whatever order the workers pick tasks in.
    """
    definition = active_definition()
    if definition is None or not lead_ids:
        return []
    with transaction.atomic():
        stale = integration.stale_score_ids(list(lead_ids))
        if stale:
            integration.rescore(stale)
        return promote_qualifying(definition=definition, lead_ids=list(lead_ids))


def reconcile() -> int:
    """Periodic catch-up: promote every lead meeting the active definition (after a full
    recompute, a big import, or a lost task). Set-based, chunked by lead id."""
    definition = active_definition()
    if definition is None:
        return 0
    promoted = 0
    bounds = Lead.objects.filter(evaluation.promotable_q()).aggregate(lo=Min("id"), hi=Max("id"))
    if bounds["lo"] is None:
        return 0
    for start in range(bounds["lo"], bounds["hi"] + 1, PROMOTE_CHUNK * 10):
        with transaction.atomic():
            promoted += len(promote_qualifying(definition=definition, id_range=(start, start + PROMOTE_CHUNK * 10)))
    return promoted


def reevaluate_all(*, run_id: int) -> ReevaluationRun:
    """Re-evaluate every lead against the run's definition in lead-id chunks (one transaction each).

    Idempotent: promoted leads are no longer promotable, so a re-run (or a retried task after a
    worker died mid-way) promotes only what is still missing.
    """
    from tenants.context import activate_in_transaction

    with transaction.atomic():
        activate_in_transaction()
        run = ReevaluationRun.objects.select_related("definition").get(pk=run_id)
        if run.status == RunStatus.DONE:
            return run
        ReevaluationRun.objects.filter(pk=run_id).update(status=RunStatus.RUNNING, progress=0)
        bounds = Lead.objects.aggregate(lo=Min("id"), hi=Max("id"))
    definition = run.definition
    promoted = 0
    try:
        if bounds["lo"] is not None and definition.status == DefinitionStatus.ACTIVE:
            lo, hi = bounds["lo"], bounds["hi"] + 1
            step = max(PROMOTE_CHUNK, 1)
            starts = list(range(lo, hi, step))
            for index, start in enumerate(starts):
                with transaction.atomic():
                    activate_in_transaction()
                    promoted += len(
                        promote_qualifying(
                            definition=definition, id_range=(start, min(start + step, hi)), notify_each=False
                        )
                    )
                    ReevaluationRun.objects.filter(pk=run_id).update(
                        progress=int(100 * (index + 1) / len(starts)), promoted=promoted
                    )
    except Exception as error:
        with transaction.atomic():
            activate_in_transaction()
            ReevaluationRun.objects.filter(pk=run_id).update(
                status=RunStatus.FAILED, error=str(error)[:2000], finished_at=timezone.now()
            )
        raise
    with transaction.atomic():
        activate_in_transaction()
        ReevaluationRun.objects.filter(pk=run_id).update(
            status=RunStatus.DONE, progress=100, promoted=promoted, finished_at=timezone.now()
        )
        run.refresh_from_db()
    return run
