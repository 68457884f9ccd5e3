"""Sales outcomes: transitions, reasons (required for rejections and losses), hand-over bookkeeping."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from leads.models import LeadFeedback, LeadStageChange
from mql import feedback, services
from mql.models import Handover

from .factories import definition, lead

pytestmark = pytest.mark.django_db


@pytest.fixture
def mql_lead(scoped):
    services.reasons_ensure_defaults()
    active = definition(status="active", min_score=80)
    subject = lead(score_total=90)
    services.promote_qualifying(definition=active, lead_ids=[subject.pk])
    subject.refresh_from_db()
    assert subject.stage == "mql"
    return subject


def test_accept_moves_the_lead_to_sql_and_records_first_contact(mql_lead, users):
    result = feedback.feedback_record(lead=mql_lead, outcome="accepted", actor=users["sales"])
    mql_lead.refresh_from_db()
    assert mql_lead.stage == "sql"
    assert result.feedback.mql_definition_version == 1 and result.feedback.recorded_by == users["sales"]
    handover = Handover.objects.get(lead=mql_lead)
    assert handover.first_contact_by == users["sales"] and handover.closed_at and handover.outcome == "accepted"
    assert list(LeadStageChange.objects.filter(lead=mql_lead).values_list("to_stage", flat=True)) == ["mql", "sql"]


def test_reject_needs_a_reason_and_nothing_changes_without_one(mql_lead, users):
    with pytest.raises(ValidationError) as error:
        feedback.feedback_record(lead=mql_lead, outcome="rejected", actor=users["sales"])
    assert "reason" in error.value.message_dict
    with pytest.raises(ValidationError):
        feedback.feedback_record(lead=mql_lead, outcome="rejected", actor=users["sales"], reason="made_up")
    mql_lead.refresh_from_db()
    assert mql_lead.stage == "mql" and not LeadFeedback.objects.exists()
    assert Handover.objects.get(lead=mql_lead).closed_at is None


def test_reject_follows_the_reason_or_the_chosen_stage(scoped, users):
    services.reasons_ensure_defaults()
    active = definition(status="active", min_score=80)
    timing, rival, chosen = lead(score_total=90), lead(score_total=90), lead(score_total=90)
    services.promote_qualifying(definition=active, lead_ids=[timing.pk, rival.pk, chosen.pk])
    feedback.feedback_record(lead=timing, outcome="rejected", actor=users["sales"], reason="timing_too_early")
    feedback.feedback_record(lead=rival, outcome="rejected", actor=users["sales"], reason="competitor")
    feedback.feedback_record(
        lead=chosen, outcome="rejected", actor=users["sales"], reason="no_budget", stage="disqualified"
    )
    for item in (timing, rival, chosen):
        item.refresh_from_db()
    assert (timing.stage, rival.stage, chosen.stage) == ("recycled", "disqualified", "disqualified")
    assert LeadFeedback.objects.get(lead=rival).reason == "competitor"


def test_other_needs_free_text(mql_lead, users):
    with pytest.raises(ValidationError) as error:
        feedback.feedback_record(lead=mql_lead, outcome="rejected", actor=users["sales"], reason="other")
    assert "note" in error.value.message_dict
    feedback.feedback_record(
        lead=mql_lead, outcome="rejected", actor=users["sales"], reason="other", note="展示会で名刺交換しただけ"
    )
    mql_lead.refresh_from_db()
    assert mql_lead.stage == "recycled"


def test_opportunity_won_and_lost_paths(scoped, users):
    services.reasons_ensure_defaults()
    active = definition(status="active", min_score=80)
    winner, loser = lead(score_total=90), lead(score_total=90)
    services.promote_qualifying(definition=active, lead_ids=[winner.pk, loser.pk])
    for item in (winner, loser):
        feedback.feedback_record(lead=item, outcome="accepted", actor=users["sales"])
    feedback.feedback_record(
        lead=winner, outcome="opportunity", actor=users["sales"], amount="1,200,000", expected_close_on="2027-03-31"
    )
    won = feedback.feedback_record(
        lead=winner, outcome="won", actor=users["sales"], amount="1150000", occurred_at=timezone.localdate().isoformat()
    )
    feedback.feedback_record(lead=loser, outcome="lost", actor=users["sales"], reason="no_budget")
    winner.refresh_from_db()
    loser.refresh_from_db()
    assert (winner.stage, loser.stage) == ("customer", "recycled")
    assert won.feedback.amount == Decimal("1150000")
    assert LeadFeedback.objects.get(lead=winner, outcome="opportunity").expected_close_on.isoformat() == "2027-03-31"


def test_invalid_transitions_and_inputs_are_refused(mql_lead, users):
    with pytest.raises(ValidationError):  # lost before it was ever accepted
        feedback.feedback_record(lead=mql_lead, outcome="lost", actor=users["sales"], reason="no_budget")
    with pytest.raises(ValidationError):  # a win needs its amount
        feedback.feedback_record(lead=mql_lead, outcome="won", actor=users["sales"])
    with pytest.raises(ValidationError):
        feedback.feedback_record(lead=mql_lead, outcome="won", actor=users["sales"], amount="-5")
    with pytest.raises(ValidationError):
        feedback.feedback_record(
            lead=mql_lead,
            outcome="accepted",
            actor=users["sales"],
            occurred_at=(timezone.now() + timedelta(days=2)).isoformat(),
        )
    with pytest.raises(ValidationError):
        feedback.feedback_record(lead=mql_lead, outcome="maybe", actor=users["sales"])
    with pytest.raises(ValidationError):
        feedback.feedback_record(lead=mql_lead, outcome="accepted", actor=users["sales"], reason="no_budget")
    mql_lead.refresh_from_db()
    assert mql_lead.stage == "mql" and not LeadFeedback.objects.exists()


def test_only_sales_and_admins_record_outcomes(mql_lead, users):
    for role in ("marketing", "viewer"):
        with pytest.raises(PermissionDenied):
            feedback.feedback_record(lead=mql_lead, outcome="accepted", actor=users[role])
    feedback.feedback_record(lead=mql_lead, outcome="accepted", actor=users["admin"])


def test_a_retried_push_changes_nothing(mql_lead, users):
    first = feedback.feedback_record(lead=mql_lead, outcome="accepted", actor=None)
    again = feedback.feedback_record(lead=mql_lead, outcome="accepted", actor=None)
    assert first.created and not again.created and again.feedback.pk == first.feedback.pk
    assert LeadFeedback.objects.count() == 1


def test_mark_contacted_records_first_contact_only_once(mql_lead, users):
    first = feedback.handover_mark_contacted(lead=mql_lead, actor=users["sales"])
    contacted_at = first.first_contact_at
    again = feedback.handover_mark_contacted(lead=mql_lead, actor=users["admin"])
    assert again.first_contact_at == contacted_at and again.first_contact_by == users["sales"]


def test_reasons_taxonomy_is_editable(scoped, users):
    services.reasons_ensure_defaults()
    reason = services.reason_save(
        actor=users["marketing"],
        data={
            "label_ja": "担当者退職",
            "label_en": "Contact left the company",
            "kind": "reject",
            "default_stage": "disqualified",
            "requires_note": False,
            "is_active": True,
        },
    )
    assert reason.key == "contact-left-the-company"
    with pytest.raises(ValidationError):
        services.reason_save(actor=users["marketing"], data={"label_ja": "", "label_en": "x"})
    with pytest.raises(PermissionDenied):
        services.reason_save(actor=users["sales"], data={"label_ja": "a", "label_en": "b"})


def test_outcome_history_import_is_all_or_nothing(scoped, users):
    services.reasons_ensure_defaults()
    won, lost = lead(email="won@x.jp"), lead(email="lost@x.jp")
    bad = [{"email": "won@x.jp", "outcome": "won", "amount": "100"}, {"email": "lost@x.jp", "outcome": "lost"}]
    with pytest.raises(ValidationError) as error:
        feedback.feedback_import(rows=bad, actor=users["sales"])
    assert list(error.value.message_dict) == ["row 2"]
    assert not LeadFeedback.objects.exists()
    good = [
        {"email": "won@x.jp", "outcome": "won", "amount": "100"},
        {"lead_id": lost.pk, "outcome": "lost", "reason": "no_budget", "occurred_at": "2026-10-01"},
    ]
    result = feedback.feedback_import(rows=good, actor=users["sales"])
    won.refresh_from_db()
    lost.refresh_from_db()
    assert (result.created, won.stage, lost.stage) == (2, "customer", "recycled")
    assert LeadStageChange.objects.filter(lead=won, to_stage="customer").exists()
