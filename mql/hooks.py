"""How leads become MQL the moment they meet the active definition.

`leads` announces changed leads after commit (`leads.hooks`). Scoring registered first (its app
comes before this one in INSTALLED_APPS) and queues their rescore; this hook queues the MQL
evaluation of the same leads. Order is guaranteed without relying on queue order: the
evaluation task rescores, in its own transaction, any lead whose stored score is older than its
latest change (`services.evaluate_leads`), then evaluates the definition on the fresh score.
Big batches (a CSV import) are left to scoring's staged full recompute and to the periodic
`reconcile` task here, which evaluates every promotable lead of the tenant.
"""

from __future__ import annotations

import logging

from tenants.tasking import send_task_safely

logger = logging.getLogger("ondo.mql")

# Same bound as scoring's incremental path: above it scoring stages a full recompute.
INCREMENTAL_MAX_LEADS = 5000


def on_leads_changed(tenant_id: int, lead_ids: list[int], reason: str) -> None:
    if reason == "feedback" or len(lead_ids) > INCREMENTAL_MAX_LEADS:
        return  # sales outcomes never make a lead MQL; big batches: see `reconcile`
    from . import tasks

    for index in range(0, len(lead_ids), 500):
        send_task_safely(tasks.evaluate_leads, tenant_id, lead_ids[index : index + 500])


def connect() -> None:
    from leads.hooks import register_leads_changed

    register_leads_changed(on_leads_changed)
