"""Celery tasks of the leads app: one-line wrappers (they take ids and run in the tenant's scope)."""

from tenants.tasking import tenant_task

from . import csv_import, ingest


@tenant_task()
def activities_ingested_task(lead_ids: list[int], reason: str) -> None:
    ingest.activities_ingested(lead_ids, reason=reason)


@tenant_task(atomic=False)
def csv_import_task(job_id: int) -> None:
    csv_import.run_import(job_id)
