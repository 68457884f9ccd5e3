"""Celery tasks of the MQL app: thin wrappers taking ids (see tenants.tasking)."""

from celery import shared_task

from tenants.context import platform_scope
from tenants.models import Tenant
from tenants.tasking import send_task_safely, tenant_task

from . import calibration, services


@tenant_task(atomic=False)
def reevaluate_all(run_id: int) -> None:
    services.reevaluate_all(run_id=run_id)


@tenant_task()
def evaluate_leads(lead_ids: list[int]) -> None:
    services.evaluate_leads(lead_ids=lead_ids)


@tenant_task(atomic=False)
def run_calibration(run_id: int) -> None:
    calibration.calibration_execute(run_id=run_id)


@tenant_task(atomic=False)
def reconcile() -> int:
    return services.reconcile()


@shared_task(name="mql.tasks.fan_out_reconcile")
def fan_out_reconcile() -> int:
    """Beat: evaluate every tenant's promotable leads against its active definition."""
    with platform_scope("mql: periodic MQL reconciliation"):
        tenant_ids = list(Tenant.objects.filter(is_active=True).values_list("pk", flat=True))
    for tenant_id in tenant_ids:
        send_task_safely(reconcile, tenant_id)
    return len(tenant_ids)
