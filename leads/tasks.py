"""Celery tasks of the leads app: one-line wrappers (they take ids and run in the tenant's scope)."""

from celery import shared_task

from tenants.context import platform_scope
from tenants.models import Tenant
from tenants.tasking import send_task_safely, tenant_task

from . import csv_import, ingest


@tenant_task()
def activities_ingested_task(lead_ids: list[int], reason: str) -> None:
    ingest.activities_ingested(lead_ids, reason=reason)


@tenant_task(atomic=False)
def csv_import_task(job_id: int) -> None:
    csv_import.run_import(job_id)


@tenant_task()
def recover_stale_imports() -> dict:
    return csv_import.imports_recover_stale()


@shared_task(name="leads.tasks.fan_out_recover_stale_imports")
def fan_out_recover_stale_imports() -> int:
    with platform_scope("leads: resume or fail CSV imports that stopped responding"):
        tenant_ids = list(Tenant.objects.filter(is_active=True).values_list("pk", flat=True))
    for tenant_id in tenant_ids:
        send_task_safely(recover_stale_imports, tenant_id)
    return len(tenant_ids)
