"""Writes of the scoring app. Each function validates, writes in one transaction, records an
audit event and enqueues follow-up tasks on commit. Views, the API, tasks and commands call these."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from tenants.context import require_tenant_id
from tenants.services import audit_record
from tenants.tasking import enqueue_on_commit

from . import sheet
from .models import (
    BehaviourRule,
    FitRule,
    HotLeadAlert,
    ModelStatus,
    RunKind,
    RunStatus,
    ScoreRun,
    ScoringModel,
    ScoringSettings,
    SegmentDefinition,
)
from .validation import validate_behaviour, validate_fit, validate_segments

BEHAVIOUR_FIELDS = [
    "label",
    "description",
    "note",
    "activity_type",
    "url_match",
    "url_value",
    "content_id",
    "campaign",
    "points",
    "count_mode",
    "max_count",
    "min_count",
    "window_days",
    "recency_days",
    "half_life_days",
]
FIT_FIELDS = [
    "label",
    "description",
    "note",
    "group",
    "field",
    "operator",
    "values",
    "number_min",
    "number_max",
    "points",
]
SEGMENT_FIELDS = ["key", "label", "description", "min_total", "colour", "priority", "follow_up"]


# --- sheet <-> model -----------------------------------------------------------------------------


def model_to_sheet(model: ScoringModel) -> sheet.SheetModel:
    return sheet.SheetModel(
        behaviour=[{f: getattr(r, f) for f in BEHAVIOUR_FIELDS} for r in model.behaviour_rules.all()],
        fit=[
            {f: (list(getattr(r, f)) if f == "values" else getattr(r, f)) for f in FIT_FIELDS}
            for r in model.fit_rules.all()
        ],
        segments=sorted(
            ({f: getattr(s, f) for f in SEGMENT_FIELDS} for s in model.segments.all()),
            key=lambda s: (s["min_total"] is None, -(s["min_total"] or 0)),
        ),
        behaviour_cap=model.behaviour_cap,
        fit_cap=model.fit_cap,
    )


def _fill(model: ScoringModel, parsed: sheet.SheetModel) -> None:
    model.behaviour_rules.all().delete()
    model.fit_rules.all().delete()
    model.segments.all().delete()
    BehaviourRule.objects.bulk_create(
        [
            BehaviourRule(model=model, position=i, **{f: r.get(f) for f in BEHAVIOUR_FIELDS if f in r})
            for i, r in enumerate(parsed.behaviour)
        ]
    )
    FitRule.objects.bulk_create(
        [
            FitRule(model=model, position=i, **{f: r.get(f) for f in FIT_FIELDS if f in r})
            for i, r in enumerate(parsed.fit)
        ]
    )
    SegmentDefinition.objects.bulk_create(
        [
            SegmentDefinition(
                model=model, **{f: s.get(f) if s.get(f) is not None or f == "min_total" else "" for f in SEGMENT_FIELDS}
            )
            for s in parsed.segments
        ]
    )
    model.behaviour_cap = parsed.behaviour_cap
    model.fit_cap = parsed.fit_cap
    model.save(update_fields=["behaviour_cap", "fit_cap"])


def _next_version() -> int:
    return (ScoringModel.objects.aggregate(v=Max("version"))["v"] or 0) + 1


# --- defaults ------------------------------------------------------------------------------------


def install_default_model() -> ScoringModel:
    """A new tenant's first scoring model: the seed sheet, published as v1 (idempotent)."""
    existing = ScoringModel.objects.filter(status=ModelStatus.ACTIVE).first()
    if existing is not None:
        return existing
    with transaction.atomic():
        model = ScoringModel.objects.create(
            version=_next_version(),
            status=ModelStatus.ACTIVE,
            name=_("Default model (design sheet)"),
            published_at=timezone.now(),
        )
        _fill(model, sheet.parse(sheet.SEED_SHEET))
        ScoringSettings.objects.get_or_create(tenant_id=require_tenant_id())
    return model


# --- drafts ----------------------------------------------------------------------------------------


def _require_draft(model: ScoringModel) -> None:
    if model.status != ModelStatus.DRAFT:
        raise ValidationError(_("Published versions cannot be changed; edit the draft instead."))


def draft_get_or_create(*, actor=None) -> ScoringModel:
    """The tenant's draft, created as a copy of the active version when there is none."""
    draft = ScoringModel.objects.filter(status=ModelStatus.DRAFT).first()
    if draft is not None:
        return draft
    active = ScoringModel.objects.filter(status=ModelStatus.ACTIVE).first()
    with transaction.atomic():
        draft = ScoringModel.objects.create(
            version=_next_version(),
            status=ModelStatus.DRAFT,
            created_by=actor if _is_user(actor) else None,
            name=active.name if active else "",
            based_on_version=active.version if active else None,
        )
        if active is not None:
            _fill(draft, model_to_sheet(active))
        _audit(action="scoring.draft_created", actor=actor, target=f"v{draft.version}")
    return draft


def _is_user(actor) -> bool:
    return actor is not None and getattr(actor, "is_authenticated", False) and getattr(actor, "pk", None) is not None


def _audit(*, action: str, actor=None, target: str = "", data: dict | None = None) -> None:
    # API-key callers are integrations, not users: the event is recorded without a person.
    audit_record(action=action, actor=actor if _is_user(actor) else None, target=target, data=data)


def draft_discard(*, model: ScoringModel, actor=None) -> None:
    _require_draft(model)
    version = model.version
    model.delete()
    _audit(action="scoring.draft_discarded", actor=actor, target=f"v{version}")


@transaction.atomic
def behaviour_rule_save(
    *, model: ScoringModel, data: dict, rule: BehaviourRule | None = None, actor=None
) -> BehaviourRule:
    _require_draft(model)
    spec = validate_behaviour({f: data.get(f) for f in BEHAVIOUR_FIELDS})
    if rule is None:
        position = (model.behaviour_rules.aggregate(p=Max("position"))["p"] or 0) + 1
        rule = BehaviourRule(model=model, position=position)
    for name, value in spec.items():
        setattr(rule, name, value if value is not None or name not in ("description", "note") else "")
    rule.description = rule.description or ""
    rule.note = rule.note or ""
    rule.save()
    _audit(
        action="scoring.rule_saved",
        actor=actor,
        target=f"v{model.version}: {rule.label}",
        data={"kind": "behaviour", "points": rule.points},
    )
    return rule


@transaction.atomic
def fit_rule_save(*, model: ScoringModel, data: dict, rule: FitRule | None = None, actor=None) -> FitRule:
    _require_draft(model)
    spec = validate_fit({f: data.get(f) for f in FIT_FIELDS})
    if rule is None:
        position = (model.fit_rules.aggregate(p=Max("position"))["p"] or 0) + 1
        rule = FitRule(model=model, position=position)
    for name, value in spec.items():
        setattr(rule, name, value)
    rule.description = rule.description or ""
    rule.note = rule.note or ""
    rule.save()
    _audit(
        action="scoring.rule_saved",
        actor=actor,
        target=f"v{model.version}: {rule.label}",
        data={"kind": "fit", "points": rule.points},
    )
    return rule


@transaction.atomic
def rule_delete(*, rule: BehaviourRule | FitRule, actor=None) -> None:
    _require_draft(rule.model)
    _audit(action="scoring.rule_deleted", actor=actor, target=f"v{rule.model.version}: {rule.label}")
    rule.delete()


@transaction.atomic
def segments_save(*, model: ScoringModel, segments: list[dict], behaviour_cap=None, fit_cap=None, actor=None) -> None:
    """Replace the draft's segments and caps."""
    _require_draft(model)
    segments = [{f: s.get(f) for f in SEGMENT_FIELDS} for s in segments]
    for segment in segments:
        for name in ("label", "description", "priority", "follow_up", "colour"):
            segment[name] = (segment.get(name) or "").strip()
        if segment.get("min_total") in ("", None):
            segment["min_total"] = None
        else:
            try:
                segment["min_total"] = int(segment["min_total"])
            except (TypeError, ValueError):
                raise ValidationError({"min_total": _("Enter a whole number.")})
    validate_segments(segments)
    sheet.describe_segments(segments)
    caps = {}
    for name, value in (("behaviour_cap", behaviour_cap), ("fit_cap", fit_cap)):
        if value in (None, ""):
            caps[name] = None
            continue
        try:
            caps[name] = int(value)
        except (TypeError, ValueError):
            raise ValidationError({name: _("Enter a whole number.")})
    model.segments.all().delete()
    SegmentDefinition.objects.bulk_create([SegmentDefinition(model=model, **s) for s in segments])
    model.behaviour_cap, model.fit_cap = caps["behaviour_cap"], caps["fit_cap"]
    model.save(update_fields=["behaviour_cap", "fit_cap"])
    _audit(
        action="scoring.segments_saved",
        actor=actor,
        target=f"v{model.version}",
        data={"segments": [{"key": s["key"], "min": s["min_total"]} for s in segments], **caps},
    )


def sheet_import(*, data: bytes | str, actor=None) -> ScoringModel:
    """Replace the draft's rules with an uploaded sheet. Any bad row: SheetError, nothing changed."""
    text = sheet.decode(data) if isinstance(data, bytes) else data
    parsed = sheet.parse(text)
    with transaction.atomic():
        draft = draft_get_or_create(actor=actor)
        _fill(draft, parsed)
        _audit(
            action="scoring.sheet_imported",
            actor=actor,
            target=f"v{draft.version}",
            data={"behaviour": len(parsed.behaviour), "fit": len(parsed.fit)},
        )
    return draft


def sheet_export(*, model: ScoringModel) -> str:
    return sheet.export(model_to_sheet(model))


# --- publishing ----------------------------------------------------------------------------------------


@transaction.atomic
def model_publish(*, model: ScoringModel, actor=None) -> ScoreRun | None:
    """Make the draft the active version and recompute every lead (Celery, set-based)."""
    model = ScoringModel.objects.select_for_update().get(pk=model.pk)
    _require_draft(model)
    validate_segments([{f: getattr(s, f) for f in SEGMENT_FIELDS} for s in model.segments.all()])
    if not model.behaviour_rules.exists() and not model.fit_rules.exists():
        raise ValidationError(_("Add at least one rule before publishing."))
    previous = ScoringModel.objects.select_for_update().filter(status=ModelStatus.ACTIVE).first()
    if previous is not None:
        previous.status = ModelStatus.ARCHIVED
        previous.save(update_fields=["status"])
    model.status = ModelStatus.ACTIVE
    model.published_at = timezone.now()
    model.published_by = actor if _is_user(actor) else None
    model.save(update_fields=["status", "published_at", "published_by"])
    _audit(
        action="scoring.model_published",
        actor=actor,
        target=f"v{model.version}",
        data={"previous": previous.version if previous else None},
    )
    return recompute_request(actor=actor)


@transaction.atomic
def model_rollback(*, model: ScoringModel, actor=None) -> ScoringModel:
    """Publish a copy of an older version as a new version (version numbers never change meaning)."""
    if model.status == ModelStatus.DRAFT:
        raise ValidationError(_("A draft cannot be rolled back to; publish it instead."))
    if model.status == ModelStatus.ACTIVE:
        raise ValidationError(_("This version is already active."))
    ScoringModel.objects.filter(status=ModelStatus.DRAFT).delete()
    copy = ScoringModel.objects.create(
        version=_next_version(),
        status=ModelStatus.DRAFT,
        name=model.name,
        based_on_version=model.version,
        note=_("Rollback to v%(version)s") % {"version": model.version},
        created_by=actor if _is_user(actor) else None,
    )
    _fill(copy, model_to_sheet(model))
    model_publish(model=copy, actor=actor)
    _audit(
        action="scoring.model_rolled_back", actor=actor, target=f"v{model.version}", data={"new_version": copy.version}
    )
    copy.refresh_from_db()
    return copy


# --- recompute -----------------------------------------------------------------------------------------


def recompute_request(*, actor=None, kind: str = RunKind.FULL) -> ScoreRun | None:
    """Queue a set-based recompute of the tenant (progress is on the ScoreRun)."""
    from . import engine, tasks

    running = ScoreRun.objects.filter(status__in=[RunStatus.QUEUED, RunStatus.RUNNING], kind=kind).first()
    active = engine.active_model()
    if running is not None and active is not None and running.model_version == active.version:
        return running  # the same work is already on its way
    run = engine.run_create(kind=kind, requested_by=actor if _is_user(actor) else None)
    if run is None:
        return None
    if kind == RunKind.FULL:
        _audit(action="scoring.recompute_requested", actor=actor, target=f"v{run.model_version}")
    enqueue_on_commit(tasks.recompute_run, require_tenant_id(), run.pk)
    return run


# A queued or running recompute whose heartbeat is older than this, and whose row no worker holds, is
# stale (its worker was killed, or Redis lost its task): it is queued again, up to MAX_RECOVERIES times,
# then marked failed (the page offers a retry).
STALE_AFTER = timedelta(minutes=5)
MAX_RECOVERIES = 3


def runs_recover_stale() -> dict[str, int]:
    """Resume or fail the tenant's stale recompute runs (the beat runs this every two minutes)."""
    from . import tasks

    now = timezone.now()
    stale = list(
        ScoreRun.objects.select_for_update(skip_locked=True)
        .filter(status__in=[RunStatus.QUEUED, RunStatus.RUNNING], heartbeat_at__lt=now - STALE_AFTER)
        .order_by("pk")
    )
    outcome = {"resumed": 0, "failed": 0}
    for run in stale:
        if run.recoveries >= MAX_RECOVERIES:
            ScoreRun.objects.filter(pk=run.pk).update(
                status=RunStatus.FAILED,
                finished_at=now,
                error=_("The recompute stopped responding and was given up after %(n)d attempts.")
                % {"n": run.recoveries + 1},
            )
            outcome["failed"] += 1
        else:
            ScoreRun.objects.filter(pk=run.pk).update(recoveries=run.recoveries + 1, heartbeat_at=now)
            enqueue_on_commit(tasks.recompute_run, require_tenant_id(), run.pk)
            outcome["resumed"] += 1
    return outcome


# --- alerts and settings -------------------------------------------------------------------------------


def settings_get() -> ScoringSettings:
    row = ScoringSettings.objects.first()
    if row is None:
        try:
            with transaction.atomic():
                row = ScoringSettings.objects.create()
        except IntegrityError:
            row = ScoringSettings.objects.get()
    return row


def scores_reconcile(*, recent_limit: int, batch: int) -> int:
    """Repair stored scores that disagree with their inputs (a lost rescore task, e.g. during a Redis outage).

    Two passes: leads never scored or scored under another version, and leads with activity received
    since the last run (up to `recent_limit`); then the next `batch` leads after the persistent cursor,
    whatever the age of their activity, so across runs every lead is compared with a fresh computation.
    Rescoring writes only the leads whose score differs. Returns how many leads were checked."""
    from datetime import timedelta

    from . import engine, selectors

    settings_row = settings_get()
    # A minute of slack: activity committing right now is still handled by its own task.
    until = timezone.now() - timedelta(minutes=1)
    recent = selectors.leads_needing_rescore(since=settings_row.reconciled_until, until=until, limit=recent_limit)
    if recent:
        engine.rescore_leads(recent)
    walked = selectors.lead_ids_after(settings_row.reconcile_cursor, limit=batch)
    if walked:
        engine.rescore_leads(walked)
    changes = {"reconcile_cursor": walked[-1] if len(walked) == batch else 0}
    if len(recent) < recent_limit:
        changes["reconciled_until"] = until
    ScoringSettings.objects.filter(pk=settings_row.pk).update(**changes)
    return len(set(recent) | set(walked))


@transaction.atomic
def settings_update(
    *, follow_up_hours: int, email_alerts: bool, webhook_url: str, webhook_secret: str | None, actor=None
) -> ScoringSettings:
    row = settings_get()
    if not 1 <= int(follow_up_hours) <= 24 * 30:
        raise ValidationError({"follow_up_hours": _("Enter between 1 and 720 hours.")})
    if webhook_url and not webhook_url.startswith(("https://", "http://")):
        raise ValidationError({"webhook_url": _("The webhook URL must start with https://.")})
    row.follow_up_hours = int(follow_up_hours)
    row.email_alerts = bool(email_alerts)
    row.webhook_url = webhook_url or ""
    if webhook_secret:
        row.webhook_secret = webhook_secret
    if row.webhook_url and not row.webhook_secret:
        import secrets

        row.webhook_secret = secrets.token_urlsafe(32)
    row.save()
    _audit(
        action="scoring.settings_changed",
        actor=actor,
        data={"follow_up_hours": row.follow_up_hours, "webhook": bool(row.webhook_url)},
    )
    return row


@transaction.atomic
def alert_follow_up(*, alert: HotLeadAlert, actor=None) -> HotLeadAlert:
    """Mark a hot-lead alert as followed up (idempotent)."""
    updated = HotLeadAlert.objects.filter(pk=alert.pk, followed_up_at__isnull=True).update(
        followed_up_at=timezone.now(), followed_up_by=actor if _is_user(actor) else None
    )
    if updated:
        _audit(action="scoring.alert_followed_up", actor=actor, target=f"alert {alert.pk}")
    alert.refresh_from_db()
    return alert


def sheet_as_dict(model: ScoringModel) -> dict:
    return asdict(model_to_sheet(model))
