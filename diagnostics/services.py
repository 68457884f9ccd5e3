"""Writes of the diagnostics app: start an assessment, record answers as they are
chosen, complete it (freezing the evidence), and run (or request) the weekly auto-diagnosis."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tenants.context import require_tenant_id
from tenants.models import Membership, User
from tenants.services import audit_record
from tenants.tasking import enqueue_on_commit

from . import evidence as evidence_module
from . import selectors
from .models import Answer, AnswerValue, Assessment, ChecklistItem, ChecklistTemplate, Respondent, Side

NOTE_MAX_LENGTH = 2000
TITLE_MAX_LENGTH = 200


def _role_of(user: User) -> str | None:
    return Membership.objects.filter(user=user, tenant_id=require_tenant_id()).values_list("role", flat=True).first()


@transaction.atomic
def assessment_start(*, template_key: str, title: str = "", actor: User) -> Assessment:
    """Start a team assessment of a checklist."""
    template = ChecklistTemplate.objects.filter(key=template_key, is_active=True).first()
    if template is None:
        raise ValidationError({"template": _("Choose one of the checklists.")})
    title = (title or "").strip()
    if len(title) > TITLE_MAX_LENGTH:
        raise ValidationError({"title": _("Keep the title under %(max)s characters.") % {"max": TITLE_MAX_LENGTH}})
    assessment = Assessment.objects.create(template=template, title=title, started_by=actor)
    assessment.summary = selectors.assessment_scorecard(assessment, with_evidence=False).summary()
    assessment.save(update_fields=["summary"])
    audit_record(action="diagnosis.started", actor=actor, target=str(assessment.pk), data={"template": template.key})
    return assessment


def _ensure_open(assessment: Assessment) -> None:
    if assessment.kind != Assessment.Kind.MANUAL:
        raise ValidationError(_("The auto-diagnosis is measured from data and cannot be answered."))
    if assessment.completed_at is not None:
        raise ValidationError(_("This assessment is completed; its answers can no longer change."))


def _respondent(assessment: Assessment, user: User, side: str | None) -> Respondent:
    allowed = selectors.respondent_sides_for_role(_role_of(user))
    if not allowed:
        raise ValidationError(_("Your role cannot answer the diagnosis."))
    respondent = Respondent.objects.filter(assessment=assessment, user=user).first()
    if side is not None and side not in allowed:
        raise ValidationError(
            {"side": _("You can answer for: %(sides)s.") % {"sides": ", ".join(str(Side(s).label) for s in allowed)}}
        )
    if respondent is None:
        respondent = Respondent.objects.create(assessment=assessment, user=user, side=side or allowed[0])
    elif side is not None and respondent.side != side:
        respondent.side = side
        respondent.save(update_fields=["side"])
    return respondent


def _refresh_summary(assessment: Assessment) -> None:
    assessment.summary = selectors.assessment_scorecard(assessment, with_evidence=False).summary()
    assessment.save(update_fields=["summary"])


@transaction.atomic
def respondent_set_side(*, assessment: Assessment, user: User, side: str) -> Respondent:
    """Admins answer for marketing or for sales; members of those teams answer for their own side."""
    assessment = Assessment.objects.select_for_update().get(pk=assessment.pk)
    _ensure_open(assessment)
    if side not in (Side.MARKETING, Side.SALES):
        raise ValidationError({"side": _("Choose marketing or sales.")})
    respondent = _respondent(assessment, user, side)
    _refresh_summary(assessment)
    return respondent


def _validated(value: str, note: str) -> str:
    errors = {}
    if value not in AnswerValue.values:
        errors["value"] = _("Choose yes, partly, no or not applicable.")
    note = (note or "").strip()
    if len(note) > NOTE_MAX_LENGTH:
        errors["note"] = _("Keep the note under %(max)s characters.") % {"max": NOTE_MAX_LENGTH}
    if errors:
        raise ValidationError(errors)
    return note


@transaction.atomic
def answer_record(*, assessment: Assessment, user: User, item_id: int, value: str, note: str = "") -> Answer:
    """Save one member's answer to one item (an upsert), and bring the assessment's scores up to date."""
    return answers_record(assessment=assessment, user=user, answers=[(item_id, value, note)])[0]


@transaction.atomic
def answers_record(*, assessment: Assessment, user: User, answers: list[tuple[int, str, str]]) -> list[Answer]:
    """Save several answers of one member at once ((item id, value, note) each): all or nothing."""
    cleaned = [(item_id, value, _validated(value, note)) for item_id, value, note in answers]
    # Serialises concurrent answers to the same assessment, so the kept summary counts every one.
    assessment = Assessment.objects.select_for_update().get(pk=assessment.pk)
    _ensure_open(assessment)
    items = ChecklistItem.objects.filter(
        pk__in=[item_id for item_id, _v, _n in cleaned], template_id=assessment.template_id, is_active=True
    ).in_bulk()
    if len(items) != len({item_id for item_id, _v, _n in cleaned}):
        raise ValidationError({"item": _("This item is not part of the checklist.")})
    respondent = _respondent(assessment, user, None)
    existing = {a.item_id: a for a in Answer.objects.filter(respondent=respondent, item_id__in=items)}
    now = timezone.now()
    saved, changed, created = [], [], []
    for item_id, value, note in cleaned:
        answer = existing.get(item_id)
        if answer is None:
            answer = Answer(assessment=assessment, respondent=respondent, item=items[item_id])
            created.append(answer)
        else:
            changed.append(answer)
        answer.value, answer.note, answer.answered_at = value, note, now
        saved.append(answer)
    Answer.objects.bulk_create(created)
    Answer.objects.bulk_update(changed, ["value", "note", "answered_at"])
    _refresh_summary(assessment)
    return saved


@transaction.atomic
def assessment_complete(*, assessment: Assessment, actor: User, now: datetime | None = None) -> Assessment:
    """Close the assessment: answers are frozen together with the evidence measured now."""
    assessment = Assessment.objects.select_for_update().get(pk=assessment.pk)
    _ensure_open(assessment)
    if not Answer.objects.filter(assessment=assessment).exists():
        raise ValidationError(_("Answer at least one item before completing the assessment."))
    now = now or timezone.now()
    measured = selectors.assessment_evidence(assessment, now=now)
    assessment.evidence = evidence_module.snapshot(measured)
    assessment.completed_at = now
    assessment.summary = selectors.assessment_scorecard(assessment, evidence=measured).summary()
    assessment.save(update_fields=["evidence", "completed_at", "summary"])
    audit_record(
        action="diagnosis.completed",
        actor=actor,
        target=str(assessment.pk),
        data={"overall": assessment.summary.get("overall")},
    )
    return assessment


def iso_week(moment: datetime) -> str:
    year, week, _weekday = timezone.localtime(moment).isocalendar()
    return f"{year}-W{week:02d}"


@transaction.atomic
def auto_diagnosis_run(*, now: datetime | None = None) -> Assessment:
    """Measure the evidence-backed items and score them like a team's answers.

    One auto-diagnosis per ISO week: running again in the same week refreshes it
    (a retried or duplicated task is harmless).
    """
    now = now or timezone.now()
    template = ChecklistTemplate.objects.get(key=selectors.AUTO_TEMPLATE_KEY)
    _categories, items = selectors.template_structure(template, evidence_only=True)
    measured = evidence_module.compute_many([item.evidence_key for item in items], now=now)
    assessment, _created = Assessment.objects.select_for_update().get_or_create(
        kind=Assessment.Kind.AUTO,
        template=template,
        period_key=iso_week(now),
        defaults={"created_at": now, "title": ""},
    )
    respondent, _created = Respondent.objects.get_or_create(assessment=assessment, side=Side.EVIDENCE, user=None)
    Answer.objects.filter(assessment=assessment).delete()
    Answer.objects.bulk_create(
        [
            Answer(
                assessment=assessment,
                respondent=respondent,
                item=item,
                value=measured[item.evidence_key].suggested,
                note="",
                answered_at=now,
            )
            for item in items
            if measured[item.evidence_key].is_measured
        ]
    )
    assessment.created_at = now
    assessment.completed_at = now
    assessment.evidence = evidence_module.snapshot(measured)
    assessment.summary = selectors.assessment_scorecard(assessment, evidence=measured).summary()
    assessment.summary["measured"] = sum(1 for item in items if measured[item.evidence_key].is_measured)
    assessment.save(update_fields=["created_at", "completed_at", "evidence", "summary"])
    return assessment


def auto_diagnosis_request() -> datetime:
    """Measure the auto-diagnosis now, in the background. Returns the moment the waiting card
    compares against: the latest auto-diagnosis' completion (or long ago when there is none)."""
    from . import tasks  # tasks import this module

    latest = selectors.latest_auto_diagnosis()
    enqueue_on_commit(tasks.run_auto_diagnosis, require_tenant_id())
    return latest.completed_at if latest else timezone.now() - timedelta(days=3650)
