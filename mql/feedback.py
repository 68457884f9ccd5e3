"""Sales outcomes on handed-over leads: accept → SQL, reject with a reason → recycled/disqualified,
opportunity, won, lost. One service used by the inbox (htmx), the API (CRM/SFA push) and the demo.

Every outcome records a `LeadFeedback` row (with the MQL definition version the lead was handed
over under), changes the lead's stage with history, and records first contact on the hand-over.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from leads.models import FeedbackOutcome, Lead, LeadFeedback, LeadStageChange, Stage
from leads.services import lead_change_stage
from leads.validation import EARLIEST_EVENT
from tenants.context import require_tenant_id
from tenants.models import Membership, User
from tenants.params import parse_id
from tenants.roles import CAPABILITIES

from . import integration
from .models import FeedbackReason, Handover, MqlDefinition, ReasonKind

# Which stages each outcome may be recorded from, and the stage it leads to (None: chosen).
ALLOWED_FROM: dict[str, set[str]] = {
    FeedbackOutcome.ACCEPTED: {Stage.MQL, Stage.LEAD, Stage.RECYCLED},
    FeedbackOutcome.REJECTED: {Stage.MQL, Stage.SQL},
    FeedbackOutcome.OPPORTUNITY: {Stage.MQL, Stage.SQL},
    FeedbackOutcome.WON: {Stage.MQL, Stage.SQL, Stage.OPPORTUNITY},
    FeedbackOutcome.LOST: {Stage.SQL, Stage.OPPORTUNITY},
}
TARGET_STAGE: dict[str, str | None] = {
    FeedbackOutcome.ACCEPTED: Stage.SQL,
    FeedbackOutcome.REJECTED: None,
    FeedbackOutcome.OPPORTUNITY: Stage.OPPORTUNITY,
    FeedbackOutcome.WON: Stage.CUSTOMER,
    FeedbackOutcome.LOST: None,
}
CLOSING_STAGES = (Stage.RECYCLED, Stage.DISQUALIFIED)
MAX_AMOUNT = Decimal("99999999999999")


@dataclass
class FeedbackResult:
    feedback: LeadFeedback
    lead: Lead
    created: bool


def _parse_amount(value, *, required: bool) -> Decimal | None:
    if value in (None, ""):
        if required:
            raise ValidationError({"amount": _("Enter the amount in yen.")})
        return None
    try:
        amount = Decimal(str(value).replace(",", "").replace("¥", "").replace("円", "").strip())
    except InvalidOperation:
        raise ValidationError({"amount": _("Enter the amount as a number of yen, e.g. 1200000.")})
    if amount < 0 or amount > MAX_AMOUNT or amount != amount.to_integral_value():
        raise ValidationError({"amount": _("Enter a whole, non-negative number of yen.")})
    return amount


def _parse_date(value, *, field: str) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.date):
        return value
    try:
        value = dt.date.fromisoformat(str(value).strip().replace("/", "-"))
    except ValueError:
        raise ValidationError({field: _("Enter a date like 2026-12-31.")})
    if not dt.date(2000, 1, 1) <= value <= dt.date(2100, 12, 31):  # as the database constraint
        raise ValidationError({field: _("Choose a date between 2000 and 2100.")})
    return value


def _parse_moment(value) -> dt.datetime:
    now = timezone.now()
    if value in (None, ""):
        return now
    date_only = not isinstance(value, dt.datetime) and (
        isinstance(value, dt.date) or not any(sep in str(value) for sep in ("T", " "))
    )
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime.combine(value, dt.time(12, 0))
    else:
        text = str(value).strip().replace("/", "-")
        try:
            moment = (
                dt.datetime.fromisoformat(text)
                if "T" in text or " " in text
                else dt.datetime.combine(dt.date.fromisoformat(text), dt.time(12, 0))
            )
        except ValueError:
            raise ValidationError({"occurred_at": _("Enter a date like 2026-12-31 or a time like 2026-12-31T10:00.")})
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    if moment < EARLIEST_EVENT:  # year 1 would be stored as 1 BC, unreadable (the database refuses it too)
        raise ValidationError({"occurred_at": _("The time lies before the year 2000.")})
    moment = moment.astimezone(dt.UTC)  # PostgreSQL refuses offsets beyond ±15:59
    if date_only and timezone.localdate(moment) == timezone.localdate(now):
        moment = min(moment, now)  # "today" before noon is now, not a time still to come
    if moment > now + dt.timedelta(minutes=5):
        raise ValidationError({"occurred_at": _("The outcome cannot be in the future.")})
    return moment


def reason_for(key: str, *, outcome: str) -> FeedbackReason:
    kinds = {
        FeedbackOutcome.REJECTED: [ReasonKind.REJECT, ReasonKind.BOTH],
        FeedbackOutcome.LOST: [ReasonKind.LOST, ReasonKind.BOTH],
    }[outcome]
    reason = FeedbackReason.objects.filter(key=(key or "").strip(), is_active=True, kind__in=kinds).first()
    if reason is None:
        if not key:
            message = (
                _("Choose a reason for the rejection.")
                if outcome == FeedbackOutcome.REJECTED
                else _("Choose a reason for the lost deal.")
            )
        else:
            message = _("Unknown reason “%(key)s”. Choose one of the tenant's reasons.") % {"key": key}
        raise ValidationError({"reason": message})
    return reason


def _definition_version_for(lead: Lead) -> int | None:
    handover = Handover.objects.filter(lead=lead).order_by("-handed_over_at", "-id").first()
    if handover is not None:
        return handover.definition_version
    change = (
        LeadStageChange.objects.filter(lead=lead, to_stage=Stage.MQL)
        .exclude(mql_definition_version=None)
        .order_by("-changed_at")
        .first()
    )
    if change is not None:
        return change.mql_definition_version
    return MqlDefinition.objects.filter(status="active").values_list("version", flat=True).first()


def _require_feedback_permission(actor: User | None) -> None:
    if actor is None:
        return  # API key principals are checked by the API permission class
    role = Membership.objects.filter(tenant_id=require_tenant_id(), user=actor).values_list("role", flat=True).first()
    if role not in CAPABILITIES["give_feedback"]:
        raise PermissionDenied(_("Your role may not record sales outcomes."))


@transaction.atomic
def feedback_record(
    *,
    lead: Lead,
    outcome: str,
    actor: User | None,
    reason: str = "",
    note: str = "",
    amount=None,
    expected_close_on=None,
    occurred_at=None,
    stage: str = "",
) -> FeedbackResult:
    """Record one sales outcome on `lead`. Raises ValidationError (nothing changed) on bad input."""
    _require_feedback_permission(actor)
    if outcome not in FeedbackOutcome.values:
        raise ValidationError(
            {
                "outcome": _("Unknown outcome “%(o)s”. Use accepted, rejected, opportunity, won or lost.")
                % {"o": outcome}
            }
        )
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    note = (note or "").strip()
    if len(note) > 4000:
        raise ValidationError({"note": _("Keep the note under 4,000 characters.")})
    moment = _parse_moment(occurred_at)
    reason_obj = None
    if outcome in (FeedbackOutcome.REJECTED, FeedbackOutcome.LOST):
        reason_obj = reason_for(reason, outcome=outcome)
        if reason_obj.requires_note and not note:
            raise ValidationError({"note": _("Describe the reason in a few words.")})
    elif reason:
        raise ValidationError({"reason": _("A reason is only recorded for rejections and lost deals.")})
    amount_value = _parse_amount(amount, required=outcome == FeedbackOutcome.WON)
    if amount_value is not None and outcome not in (FeedbackOutcome.OPPORTUNITY, FeedbackOutcome.WON):
        raise ValidationError({"amount": _("An amount is only recorded for opportunities and won deals.")})
    close_on = _parse_date(expected_close_on, field="expected_close_on")
    if close_on is not None and outcome != FeedbackOutcome.OPPORTUNITY:
        raise ValidationError({"expected_close_on": _("An expected close date belongs to an opportunity.")})

    target = TARGET_STAGE[outcome]
    if target is None:
        target = stage or reason_obj.default_stage
        if target not in CLOSING_STAGES:
            raise ValidationError({"stage": _("After a rejection the lead is either recycled or disqualified.")})
    elif stage and stage != target:
        raise ValidationError(
            {"stage": _("This outcome always moves the lead to %(stage)s.") % {"stage": Stage(target).label}}
        )

    latest = LeadFeedback.objects.filter(lead=lead).order_by("-occurred_at", "-id").first()
    if (
        latest is not None
        and lead.stage == target
        and latest.outcome == outcome
        and (latest.reason == (reason_obj.key if reason_obj else "") and latest.amount == amount_value)
    ):
        return FeedbackResult(feedback=latest, lead=lead, created=False)  # a retried push changes nothing

    if lead.stage not in ALLOWED_FROM[outcome]:
        raise ValidationError(
            {
                "outcome": _("A lead in stage “%(stage)s” cannot be marked “%(outcome)s”.")
                % {"stage": Stage(lead.stage).label, "outcome": FeedbackOutcome(outcome).label}
            }
        )

    version = _definition_version_for(lead)
    feedback = LeadFeedback.objects.create(
        lead=lead,
        outcome=outcome,
        reason=reason_obj.key if reason_obj else "",
        note=note,
        amount=amount_value,
        expected_close_on=close_on,
        occurred_at=moment,
        recorded_by=actor,
        mql_definition_version=version,
    )
    label = FeedbackOutcome(outcome).label
    change_reason = f"{label}: {reason_obj.label_en}" if reason_obj else str(label)
    if lead.stage != target:
        # The leads app's stage service: history row, and it announces the change to the layers above.
        lead_change_stage(
            lead=lead,
            stage=target,
            actor=actor,
            reason=change_reason,
            changed_at=moment,
            mql_definition_version=version,
        )
    _handover_touch(lead=lead, actor=actor, now=moment, outcome=outcome)
    return FeedbackResult(feedback=feedback, lead=lead, created=True)


def _handover_touch(*, lead: Lead, actor: User | None, now: dt.datetime, outcome: str) -> None:
    integration.follow_up_hot_alerts(lead=lead, actor=actor)
    handover = Handover.objects.select_for_update().filter(lead=lead, closed_at__isnull=True).first()
    if handover is None:
        return
    if handover.first_contact_at is None:
        handover.first_contact_at = max(now, handover.handed_over_at)
        handover.first_contact_by = actor
    handover.closed_at = max(now, handover.handed_over_at)
    handover.outcome = outcome
    handover.save(update_fields=["first_contact_at", "first_contact_by", "closed_at", "outcome"])


@transaction.atomic
def handover_mark_contacted(*, lead: Lead, actor: User) -> Handover:
    """Sales reached the lead (first contact), before deciding accept or reject."""
    _require_feedback_permission(actor)
    handover = Handover.objects.select_for_update().filter(lead=lead, closed_at__isnull=True).first()
    if handover is None:
        raise ValidationError(_("This lead is not waiting in the sales inbox."))
    if handover.first_contact_at is None:
        handover.first_contact_at = timezone.now()
        handover.first_contact_by = actor
        handover.save(update_fields=["first_contact_at", "first_contact_by"])
    integration.follow_up_hot_alerts(lead=lead, actor=actor)
    return handover


@dataclass
class ImportedOutcomes:
    created: int
    stage_changes: int


def feedback_import(*, rows: list[dict], actor: User | None, chunk_size: int = 5000) -> ImportedOutcomes:
    """Backfill outcome history from a CRM export, set-based (calibration needs past outcomes).

    Each row: lead_id (or email), outcome, reason, note, amount, occurred_at, and optionally
    recorded_by (a member's email or user id: the sales rep). Every row is validated first with the
    same rules as `feedback_record` (reasons required for rejections and losses, amounts for wins);
    any error raises ValidationError({"row N": [...]}) and nothing is written. Then:
    one bulk insert of LeadFeedback per chunk (attributed to the MQL definition version the lead
    was handed over under), open hand-overs of these leads closed at their first imported outcome
    (first contact by its recorder), and each lead moved to the stage its latest outcome implies
    through the leads app's bulk stage service (history rows included).
    """
    _require_feedback_permission(actor)
    if not rows:
        return ImportedOutcomes(0, 0)
    tenant_id = require_tenant_id()
    reasons = {r.key: r for r in FeedbackReason.objects.filter(is_active=True)}
    emails = {str(r["email"]).strip().lower() for r in rows if not r.get("lead_id") and r.get("email")}
    by_email = dict(Lead.objects.filter(email__in=emails).values_list("email", "id")) if emails else {}
    ids = {int(r["lead_id"]) for r in rows if r.get("lead_id")}
    known = set(Lead.objects.filter(pk__in=ids).values_list("id", flat=True)) if ids else set()
    members = {
        user_id: email.lower()
        for user_id, email in Membership.objects.filter(tenant_id=tenant_id).values_list("user_id", "user__email")
    }
    member_by_email = {email: user_id for user_id, email in members.items()}
    errors: dict[str, list[str]] = {}
    prepared: list[LeadFeedback] = []
    latest: dict[int, tuple[dt.datetime, str]] = {}
    first: dict[int, tuple[dt.datetime, str, int | None]] = {}
    for number, row in enumerate(rows, start=1):
        try:
            lead_id = int(row["lead_id"]) if row.get("lead_id") else by_email.get(str(row.get("email", "")).lower())
            if lead_id is None or (row.get("lead_id") and lead_id not in known):
                raise ValidationError({"lead": _("No lead with this id or email.")})
            outcome = row.get("outcome")
            if outcome not in FeedbackOutcome.values:
                raise ValidationError(
                    {
                        "outcome": _("Unknown outcome “%(o)s”. Use accepted, rejected, opportunity, won or lost.")
                        % {"o": outcome}
                    }
                )
            reason_key, note = (row.get("reason") or "").strip(), (row.get("note") or "").strip()
            target = TARGET_STAGE[outcome]
            if outcome in (FeedbackOutcome.REJECTED, FeedbackOutcome.LOST):
                reason = reasons.get(reason_key)
                kinds = ("reject", "both") if outcome == FeedbackOutcome.REJECTED else ("lost", "both")
                if reason is None or reason.kind not in kinds:
                    raise ValidationError(
                        {
                            "reason": _("Choose a reason for the rejection.")
                            if outcome == FeedbackOutcome.REJECTED
                            else _("Choose a reason for the lost deal.")
                        }
                    )
                if reason.requires_note and not note:
                    raise ValidationError({"note": _("Describe the reason in a few words.")})
                target = row.get("stage") or reason.default_stage
            amount = _parse_amount(row.get("amount"), required=outcome == FeedbackOutcome.WON)
            moment = _parse_moment(row.get("occurred_at"))
            recorder = _member_id(row.get("recorded_by"), members, member_by_email)
            if recorder is None and row.get("recorded_by"):
                raise ValidationError(
                    {
                        "recorded_by": _("No member of this workspace matches “%(value)s”.")
                        % {"value": str(row.get("recorded_by"))[:80]}
                    }
                )
        except ValidationError as error:
            errors[f"row {number}"] = [m for messages in error.message_dict.values() for m in messages]
            continue
        with_reason = outcome in (FeedbackOutcome.REJECTED, FeedbackOutcome.LOST)
        prepared.append(
            LeadFeedback(
                lead_id=lead_id,
                outcome=outcome,
                reason=reason_key if with_reason else "",
                note=note[:4000],
                amount=amount,
                occurred_at=moment,
                recorded_by_id=recorder if recorder is not None else getattr(actor, "pk", None),
            )
        )
        if lead_id not in latest or moment >= latest[lead_id][0]:
            latest[lead_id] = (moment, target)
        if lead_id not in first or moment < first[lead_id][0]:
            first[lead_id] = (moment, outcome, recorder if recorder is not None else getattr(actor, "pk", None))
    if errors:
        raise ValidationError(errors)
    from leads.services import leads_bulk_change_stage

    with transaction.atomic():
        versions: dict[int, int | None] = {}
        for lead_id, version in (
            Handover.objects.filter(lead_id__in=list(first))
            .order_by("lead_id", "handed_over_at", "id")
            .values_list("lead_id", "definition_version")
        ):
            versions[lead_id] = version  # the latest hand-over wins (ordered ascending)
        for item in prepared:
            item.mql_definition_version = versions.get(item.lead_id)
        for start in range(0, len(prepared), chunk_size):
            LeadFeedback.objects.bulk_create(prepared[start : start + chunk_size])
        open_handovers = list(Handover.objects.filter(lead_id__in=list(first), closed_at__isnull=True))
        for handover in open_handovers:
            moment, outcome, recorder = first[handover.lead_id]
            moment = max(moment, handover.handed_over_at)
            handover.first_contact_at = handover.first_contact_at or moment
            handover.first_contact_by_id = handover.first_contact_by_id or recorder
            handover.closed_at, handover.outcome = moment, outcome
        Handover.objects.bulk_update(
            open_handovers, ["first_contact_at", "first_contact_by", "closed_at", "outcome"], batch_size=1000
        )
        by_stage: dict[str, list[int]] = {}
        for lead_id, (_moment, stage) in latest.items():
            by_stage.setdefault(stage, []).append(lead_id)
        changed = 0
        for stage, lead_ids in sorted(by_stage.items()):
            changed += leads_bulk_change_stage(
                lead_ids=lead_ids, stage=stage, actor=actor, reason=_("Outcome imported")
            )
    return ImportedOutcomes(created=len(prepared), stage_changes=changed)


def _member_id(raw, members: dict[int, str], member_by_email: dict[str, int]) -> int | None:
    if raw in (None, ""):
        return None
    if hasattr(raw, "pk"):
        return raw.pk if raw.pk in members else None
    text = str(raw).strip()
    if parse_id(text) in members:
        return parse_id(text)
    return member_by_email.get(text.lower())
