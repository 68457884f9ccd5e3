"""Celery tasks of the scoring app: thin wrappers taking ids (see tenants.tasking)."""

from __future__ import annotations

from celery import shared_task

from tenants.context import platform_scope, tenant_scope
from tenants.models import Tenant
from tenants.tasking import send_task_safely, tenant_task

# More leads than this in one change (e.g. a CSV import) are rescored by a staged set-based run.
INCREMENTAL_MAX_LEADS = 5000
# Leads the reconciliation compares with a fresh computation per run (every 5 minutes), walking by id.
RECONCILE_BATCH = 5000
WEBHOOK_MAX_RETRIES = 8
WEBHOOK_RETRY_BASE_SECONDS = 30


@tenant_task()
def rescore_leads(lead_ids: list[int]) -> int:
    from . import engine

    return engine.rescore_leads(lead_ids).updated


@tenant_task(atomic=False)
def recompute_run(run_id: int) -> str:
    from . import engine

    return engine.run_execute(run_id).status


@tenant_task()
def deliver_hot_lead_alert(alert_id: int) -> bool:
    from . import alerts

    return alerts.deliver(alert_id)


@tenant_task()
def deliver_run_alerts(run_id: int, alert_ids: list[int], summary_count: int) -> None:
    from . import alerts

    alerts.alerts_created_by_recompute(run_id=run_id, alert_ids=alert_ids, summary_count=summary_count)


@shared_task(bind=True, name="scoring.tasks.send_alert_webhook", max_retries=WEBHOOK_MAX_RETRIES)
def send_alert_webhook(self, tenant_id: int, alert_id: int) -> str:
    from . import webhooks

    failure = None
    with tenant_scope(tenant_id):
        try:
            return webhooks.send(alert_id)
        except webhooks.WebhookFailed as error:  # caught inside the scope: the attempt is recorded
            failure = error
    if self.request.retries >= self.max_retries:
        with tenant_scope(tenant_id):
            webhooks.give_up(alert_id, str(failure))
        return "failed"
    # 30 s, 1 min, 2 min, … capped at 1 h.
    raise self.retry(exc=failure, countdown=min(WEBHOOK_RETRY_BASE_SECONDS * 2**self.request.retries, 3600))


@tenant_task()
def time_based_rescore() -> int | None:
    from . import services
    from .engine import active_model, spec_for
    from .models import RunKind

    model = active_model()
    if model is None or not spec_for(model).is_time_based:
        return None
    run = services.recompute_request(kind=RunKind.TIME)
    return run.pk if run else None


@tenant_task()
def reconcile_unscored() -> int:
    from . import services

    return services.scores_reconcile(recent_limit=INCREMENTAL_MAX_LEADS, batch=RECONCILE_BATCH)


@tenant_task()
def recover_stale_runs() -> dict:
    from . import services

    return services.runs_recover_stale()


@tenant_task()
def sla_check() -> int:
    from . import alerts

    return alerts.sla_check()


def _fan_out(task, reason: str) -> int:
    with platform_scope(reason):
        tenant_ids = list(Tenant.objects.filter(is_active=True).values_list("pk", flat=True))
    for tenant_id in tenant_ids:
        send_task_safely(task, tenant_id)
    return len(tenant_ids)


@shared_task(name="scoring.tasks.fan_out_time_based_rescore")
def fan_out_time_based_rescore() -> int:
    return _fan_out(time_based_rescore, "scoring: periodic time-based rescore")


@shared_task(name="scoring.tasks.fan_out_reconcile_unscored")
def fan_out_reconcile_unscored() -> int:
    return _fan_out(reconcile_unscored, "scoring: reconcile leads with unscored activity")


@shared_task(name="scoring.tasks.fan_out_recover_stale_runs")
def fan_out_recover_stale_runs() -> int:
    return _fan_out(recover_stale_runs, "scoring: resume or fail recompute runs that stopped responding")


@shared_task(name="scoring.tasks.fan_out_sla_check")
def fan_out_sla_check() -> int:
    return _fan_out(sla_check, "scoring: hot-lead follow-up deadlines")


def on_leads_changed(tenant_id: int, lead_ids: list[int], reason: str) -> None:
    """leads.hooks callback (after commit): rescore the leads, or stage a run for big batches."""
    if len(lead_ids) > INCREMENTAL_MAX_LEADS:
        with tenant_scope(tenant_id):
            from . import services

            services.recompute_request()
        return
    for index in range(0, len(lead_ids), 500):
        send_task_safely(rescore_leads, tenant_id, lead_ids[index : index + 500])
