"""Leads become MQL the moment they meet the active definition, driven by the scoring engine's
incremental updates: ingest → rescore → evaluate, in that order, with stage history and hand-over."""

import pytest
from django.utils import timezone

from leads import ingest
from leads.models import Activity, LeadStageChange
from mql import services
from mql.models import DefinitionStatus, Handover
from scoring.services import install_default_model

from .factories import definition, lead

pytestmark = pytest.mark.django_db


def push(lead_obj, *types):
    items = [
        ingest.ActivityIn(index=i, type=t, occurred_at=timezone.now(), lead_id=lead_obj.pk) for i, t in enumerate(types)
    ]
    ingest.ingest_activities(items)


def test_scored_activity_makes_the_lead_an_mql(scoped, django_capture_on_commit_callbacks):
    install_default_model()
    definition(status=DefinitionStatus.ACTIVE, min_score=40)
    subject = lead(email="buyer@maker.co.jp")
    with django_capture_on_commit_callbacks(execute=True):
        push(subject, "pricing_view", "download")  # 25 + 20 points in the seed sheet
    subject.refresh_from_db()
    assert (subject.score_total, subject.stage) == (45, "mql")
    change = LeadStageChange.objects.get(lead=subject, to_stage="mql")
    assert change.mql_definition_version == 1
    assert Handover.objects.get(lead=subject).closed_at is None


def test_high_intent_form_qualifies_immediately(scoped, django_capture_on_commit_callbacks):
    install_default_model()
    definition(status=DefinitionStatus.ACTIVE, min_score=80, high_intent_activity_types=["demo_request"])
    subject = lead()
    with django_capture_on_commit_callbacks(execute=True):
        push(subject, "demo_request")
    subject.refresh_from_db()
    assert subject.stage == "mql" and subject.score_total < 80


def test_evaluation_rescores_a_stale_lead_first(scoped):
    install_default_model()
    active = definition(status=DefinitionStatus.ACTIVE, min_score=40)
    subject = lead()
    # Activities written without announcing them: the stored score (0) is stale.
    Activity.objects.bulk_create(
        [Activity(lead=subject, type=t, occurred_at=timezone.now()) for t in ("pricing_view", "download")]
    )
    assert services.evaluate_leads(lead_ids=[subject.pk]) == [subject.pk]
    subject.refresh_from_db()
    assert (subject.score_total, subject.stage) == (45, "mql")
    assert active.version == Handover.objects.get(lead=subject).definition_version


def test_sales_leads_are_never_demoted_or_repromoted(scoped, django_capture_on_commit_callbacks):
    install_default_model()
    definition(status=DefinitionStatus.ACTIVE, min_score=10)
    accepted = lead(stage="sql")
    rejected = lead(stage="recycled")
    with django_capture_on_commit_callbacks(execute=True):
        push(accepted, "pricing_view")
    accepted.refresh_from_db()
    assert accepted.stage == "sql"
    Activity.objects.create(lead=rejected, type="pricing_view", occurred_at=timezone.now())
    assert services.evaluate_leads(lead_ids=[rejected.pk]) == []  # no new activity since it was recycled


def test_periodic_reconcile_catches_up(scoped):
    definition(status=DefinitionStatus.ACTIVE, min_score=50)
    missed = lead(score_total=70)
    assert services.reconcile() == 1
    missed.refresh_from_db()
    assert missed.stage == "mql"
    assert services.reconcile() == 0  # idempotent
