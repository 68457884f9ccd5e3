"""The `app_role` marker: a test's body runs as the application's database role, so a task step that
runs outside its tenant's context fails in the suite as it does in production (the suite's own role
is the tables' owner and a superuser, which row-level security ignores)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection, transaction

from leads.models import Lead
from scoring import engine, services
from scoring import tasks as scoring_tasks
from scoring.models import ModelStatus, RunStatus, ScoreRun, ScoringModel
from tenants.context import tenant_scope
from tests.factories import leads_with_activity

from .approle import current_role


@pytest.fixture
def scored_tenant(tenant):
    with tenant_scope(tenant.id):
        services.install_default_model()
        leads_with_activity(30, seed=3, email_prefix="marker-")
    return tenant


def count_leads_outside_the_tenant_context(tenant_id: int) -> int:
    """The defect of issue #19 (High 2): the counting step opened its own transaction without the
    tenant setting."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM leads_lead WHERE tenant_id = %s", [tenant_id])
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_without_the_marker_the_suite_role_sees_rows_outside_the_tenant_context(scored_tenant):
    assert current_role() != settings.ONDO_DB_APP_ROLE
    assert count_leads_outside_the_tenant_context(scored_tenant.id) == 30  # why such a bug passed before


@pytest.mark.app_role
@pytest.mark.django_db(transaction=True)
def test_with_the_marker_a_step_outside_the_tenant_context_sees_no_rows(scored_tenant):
    assert current_role() == settings.ONDO_DB_APP_ROLE
    assert count_leads_outside_the_tenant_context(scored_tenant.id) == 0
    with tenant_scope(scored_tenant.id), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM leads_lead")
        assert cursor.fetchone()[0] == 30


@pytest.mark.app_role
@pytest.mark.django_db(transaction=True)
def test_with_the_marker_a_recompute_whose_count_ignores_the_tenant_context_is_caught(scored_tenant, monkeypatch):
    with tenant_scope(scored_tenant.id):
        run = engine.run_create()

    def chunks_outside_the_context(tenant_id):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT min(id), max(id), count(*) FROM leads_lead WHERE tenant_id = %s", [tenant_id])
            low, high, count = cursor.fetchone()
        return (low or 0), (high or 0), int(count or 0)

    monkeypatch.setattr(engine, "_chunks", chunks_outside_the_context)
    scoring_tasks.recompute_run(scored_tenant.id, run.pk)
    with tenant_scope(scored_tenant.id):
        assert ScoreRun.objects.get(pk=run.pk).leads_total == 0  # the production symptom, now visible here


@pytest.mark.app_role
@pytest.mark.django_db(transaction=True)
def test_with_the_marker_the_real_full_recompute_task_scores_every_lead(scored_tenant):
    with tenant_scope(scored_tenant.id):
        run = engine.run_create()
    assert scoring_tasks.recompute_run(scored_tenant.id, run.pk) == RunStatus.SUCCEEDED
    with tenant_scope(scored_tenant.id):
        run = ScoreRun.objects.get(pk=run.pk)
        assert (run.leads_total, run.leads_changed) == (30, 30)
        # The stored scores are what the explanation credits (the rules were read in the tenant's context,
        # not an empty rule set cached for the worker process).
        engine._PUBLISHED_SPECS.clear()
        spec = engine.spec_for(engine.active_model())
        assert spec.behaviour, "the default model has behaviour rules"
        stored = dict(Lead.objects.values_list("id", "score_total"))
        explained = {i: s.total for i, s in engine.score_python(spec, list(stored), run.as_of).items()}
        assert stored == explained
        assert max(stored.values()) > 0


@pytest.mark.app_role
@pytest.mark.django_db(transaction=True)
def test_a_query_between_the_transactions_of_a_long_task_still_runs_in_its_tenant_context(scored_tenant):
    with tenant_scope(scored_tenant.id, atomic=False):
        assert not connection.in_atomic_block
        assert Lead.objects.count() == 30
        assert ScoringModel.objects.get(status=ModelStatus.ACTIVE).behaviour_rules.count() > 0


@pytest.mark.app_role
def test_the_marker_also_works_inside_the_test_transaction(scored_tenant):
    assert current_role() == settings.ONDO_DB_APP_ROLE
    assert count_leads_outside_the_tenant_context(scored_tenant.id) == 0
