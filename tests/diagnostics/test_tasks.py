"""The weekly auto-diagnosis: Celery beat fans out to every active tenant; one result per tenant per week."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation

from diagnostics import evidence, selectors, services, tasks
from diagnostics.models import Answer, Assessment
from tenants.context import platform_scope, tenant_scope
from tests.diagnostics.helpers import scoring_model
from tests.factories import LeadFactory, TenantFactory

pytestmark = pytest.mark.django_db

MONDAY = datetime(2026, 11, 23, 6, 30, tzinfo=ZoneInfo("Asia/Tokyo"))


def autos():
    with platform_scope("test: auto-diagnoses of all tenants"):
        return list(Assessment.unscoped_for_platform.filter(kind="auto").order_by("tenant_id", "created_at"))


def test_the_beat_schedule_runs_the_fan_out_weekly():
    from config.celery import app

    entry = app.conf.beat_schedule["diagnostics-weekly-auto-diagnosis"]
    assert entry["task"] == tasks.fan_out_auto_diagnosis.name == "diagnostics.tasks.fan_out_auto_diagnosis"
    assert entry["schedule"].day_of_week == {1}


def test_fan_out_measures_every_active_tenant(tenant, other_tenant, nurturing):
    TenantFactory(slug="closed", is_active=False)
    with tenant_scope(tenant.id):
        scoring_model("hot", "warm", "cold")
        LeadFactory(industry="", title="", segment="hot")
    assert tasks.fan_out_auto_diagnosis() == 2
    results = autos()
    assert [a.tenant_id for a in results] == sorted([tenant.id, other_tenant.id])
    mine = next(a for a in results if a.tenant_id == tenant.id)
    assert mine.completed_at is not None and mine.period_key
    assert mine.evidence["attribute_completeness"]["suggested"] == "no"
    assert mine.evidence["segmentation_active"]["suggested"] == "yes"
    assert mine.summary["measured"] >= 2


def test_the_auto_diagnosis_scores_the_measured_items_like_answers(tenant, nurturing):
    with tenant_scope(tenant.id):
        scoring_model("hot", "warm", "cold")
        LeadFactory(industry="", title="", segment="hot")
        auto = services.auto_diagnosis_run(now=MONDAY)
        answers = dict(Answer.objects.filter(assessment=auto).values_list("item__key", "value"))
        measured = evidence.from_snapshot(auto.evidence)
        card = selectors.assessment_scorecard(auto, evidence=measured)
    assert answers["lead_attributes_collected"] == "no"
    assert answers["leads_segmented"] == "yes"
    # Only items with evidence are in the auto-diagnosis; unmeasurable ones are left unanswered.
    assert card.total == 13
    assert set(answers) <= {r.item.key for r in card.items}
    assert "sales_outcome_feedback" not in answers  # no hand-overs yet: no data, no answer
    assert card.summary()["overall"] == auto.summary["overall"]
    with translation.override("en"):
        assert card.weakest_cause is not None


def test_a_retry_in_the_same_week_refreshes_instead_of_duplicating(tenant, nurturing):
    with tenant_scope(tenant.id):
        first = services.auto_diagnosis_run(now=MONDAY)
        LeadFactory(industry="IT", title="部長", employee_count=300, segment="warm")
        again = services.auto_diagnosis_run(now=MONDAY + timedelta(hours=3))
        assert again.pk == first.pk
        assert Assessment.objects.filter(kind="auto").count() == 1
        assert again.evidence["attribute_completeness"]["state"] == "measured"
        next_week = services.auto_diagnosis_run(now=MONDAY + timedelta(days=7))
        assert next_week.pk != first.pk
        assert selectors.latest_auto_diagnosis().pk == next_week.pk


def test_a_broker_outage_for_one_tenant_does_not_stop_the_others(tenant, other_tenant, nurturing, monkeypatch):
    original = tasks.run_auto_diagnosis.apply_async
    calls = []

    def flaky(args=(), kwargs=None, **options):
        calls.append(args[0])
        if len(calls) == 1:
            raise ConnectionError("redis is down")
        return original(args=args, kwargs=kwargs, **options)

    monkeypatch.setattr(tasks.run_auto_diagnosis, "apply_async", flaky)
    assert tasks.fan_out_auto_diagnosis() == 2
    assert len(calls) == 2 and len(autos()) == 1
