"""Periodic reconciliation: every lead whose stored score disagrees with its inputs is repaired,
whatever the age of the activity that was missed (issue #19, High 2). Besides the fast path (recently
received activity, never-scored leads), each run checks the next batch of leads after a persistent
cursor, so across runs every lead of the tenant is compared with a fresh computation."""

from datetime import timedelta

import pytest
from django.utils import timezone

from leads.models import Activity, Lead
from scoring import engine, services, tasks
from scoring.models import ScoringSettings
from tenants.context import tenant_scope

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.app_role]


@pytest.fixture
def scored_leads(tenant):
    """Five leads, scored under the default model (no activity yet: fit points only)."""
    with tenant_scope(tenant.id):
        services.install_default_model()
        leads = [
            Lead.objects.create(email=f"r{i}@prospect.example.jp", title="部長", employee_count=150) for i in range(5)
        ]
        engine.rescore_leads([lead.pk for lead in leads])
    return leads


def lose_a_rescore(tenant, lead, *, days_old: float, received_minutes_ago: float = 3) -> None:
    """Activity stored while its rescore task was lost (e.g. Redis was down)."""
    with tenant_scope(tenant.id):
        activity = Activity.objects.create(
            lead=lead, type="pricing_view", occurred_at=timezone.now() - timedelta(days=days_old)
        )
        Activity.objects.filter(pk=activity.pk).update(
            received_at=timezone.now() - timedelta(minutes=received_minutes_ago)
        )


def stored_and_explained(tenant, lead) -> tuple[int, int]:
    with tenant_scope(tenant.id):
        lead = Lead.objects.get(pk=lead.pk)
        return lead.score_total, engine.explain(lead).total


def test_a_lead_given_ten_day_old_activity_whose_task_was_lost_is_repaired(tenant, scored_leads):
    lead = scored_leads[2]
    before, _ = stored_and_explained(tenant, lead)
    lose_a_rescore(tenant, lead, days_old=10)
    stored, explained = stored_and_explained(tenant, lead)
    assert stored == before < explained  # the defect: the explanation credits points the score lacks

    tasks.fan_out_reconcile_unscored()  # the beat's periodic task (tasks run eagerly here)

    stored, explained = stored_and_explained(tenant, lead)
    assert stored == explained > before


def test_activity_received_long_ago_is_found_too(tenant, scored_leads):
    """The watermark of the fast path has long passed it: only the lead-by-lead check finds it."""
    lead = scored_leads[0]
    tasks.reconcile_unscored(tenant.id)  # watermark now
    lose_a_rescore(tenant, lead, days_old=30, received_minutes_ago=60 * 24 * 20)
    tasks.reconcile_unscored(tenant.id)
    stored, explained = stored_and_explained(tenant, lead)
    assert stored == explained


def test_the_cursor_walks_every_lead_across_runs_and_starts_over(tenant, scored_leads, monkeypatch):
    monkeypatch.setattr(tasks, "RECONCILE_BATCH", 2)
    last = scored_leads[-1]
    lose_a_rescore(tenant, last, days_old=10, received_minutes_ago=60 * 24 * 20)

    def cursor():
        with tenant_scope(tenant.id):
            return ScoringSettings.objects.get().reconcile_cursor

    tasks.reconcile_unscored(tenant.id)  # leads 0, 1
    assert cursor() == scored_leads[1].pk
    tasks.reconcile_unscored(tenant.id)  # leads 2, 3
    assert cursor() == scored_leads[3].pk
    assert stored_and_explained(tenant, last)[0] != stored_and_explained(tenant, last)[1]
    tasks.reconcile_unscored(tenant.id)  # lead 4: the end, the next run starts over
    assert cursor() == 0
    assert stored_and_explained(tenant, last)[0] == stored_and_explained(tenant, last)[1]
    tasks.reconcile_unscored(tenant.id)
    assert cursor() == scored_leads[1].pk


def test_checking_leads_that_are_up_to_date_writes_nothing(tenant, scored_leads):
    with tenant_scope(tenant.id):
        before = dict(Lead.objects.values_list("pk", "scored_at"))
    tasks.reconcile_unscored(tenant.id)
    with tenant_scope(tenant.id):
        assert dict(Lead.objects.values_list("pk", "scored_at")) == before
