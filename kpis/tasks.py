"""Celery tasks (thin). The beat schedule is in config/celery.py:

- `kpis.tasks.fan_out_rollup_refresh` every minute → `refresh_rollups(tenant_id)` per active tenant,
  so the dashboard is within a minute of the data;
- `kpis.tasks.fan_out_review_alerts` daily → `evaluate_review_alerts(tenant_id)` per active tenant.
"""

from __future__ import annotations

from celery import shared_task
from django.core.cache import cache

from tenants.context import platform_scope
from tenants.models import Tenant
from tenants.tasking import send_task_safely, tenant_task

from . import alerts, rollups

# At most one queued refresh per tenant and minute, however long a full rebuild takes.
REFRESH_DEBOUNCE_SECONDS = 55


@tenant_task(atomic=False)
def refresh_rollups() -> dict:
    stats = rollups.refresh()
    return {"mode": stats.mode, "ms": stats.milliseconds, "leads": stats.dirty_leads, "days": stats.dirty_days}


@tenant_task(atomic=False)
def rebuild_rollups() -> dict:
    stats = rollups.refresh(full=True)
    return {"mode": stats.mode, "ms": stats.milliseconds}


@tenant_task()
def evaluate_review_alerts() -> int:
    return len(alerts.evaluate())


def _active_tenant_ids() -> list[int]:
    with platform_scope("kpis fan-out over active tenants"):
        return list(Tenant.objects.filter(is_active=True).values_list("id", flat=True))


@shared_task(name="kpis.tasks.fan_out_rollup_refresh")
def fan_out_rollup_refresh() -> int:
    queued = 0
    for tenant_id in _active_tenant_ids():
        if cache.add(f"kpis:rollup-refresh:{tenant_id}", 1, timeout=REFRESH_DEBOUNCE_SECONDS):
            queued += bool(send_task_safely(refresh_rollups, tenant_id))
    return queued


@shared_task(name="kpis.tasks.fan_out_review_alerts")
def fan_out_review_alerts() -> int:
    return sum(bool(send_task_safely(evaluate_review_alerts, tenant_id)) for tenant_id in _active_tenant_ids())
