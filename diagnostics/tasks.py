"""Celery tasks of the diagnostics app (thin: ids in, service call)."""

from __future__ import annotations

from celery import shared_task

from tenants.context import platform_scope
from tenants.models import Tenant
from tenants.tasking import send_task_safely, tenant_task

from . import services


@tenant_task()
def run_auto_diagnosis() -> int:
    """Refresh this week's auto-diagnosis of one tenant (idempotent: one per ISO week)."""
    return services.auto_diagnosis_run().pk


@shared_task(name="diagnostics.tasks.fan_out_auto_diagnosis")
def fan_out_auto_diagnosis() -> int:
    """Weekly (config/celery.py): enqueue the auto-diagnosis of every active tenant."""
    with platform_scope("weekly auto-diagnosis fan-out"):
        tenant_ids = list(Tenant.objects.filter(is_active=True).values_list("id", flat=True))
    for tenant_id in tenant_ids:
        send_task_safely(run_auto_diagnosis, tenant_id)
    return len(tenant_ids)
