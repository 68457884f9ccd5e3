"""How `leads` tells the layers above it that leads changed, without importing them.

Scoring registers in its AppConfig.ready():  register_leads_changed(enqueue_rescore)
Leads services call `leads_changed(lead_ids, reason=...)` inside their transaction; the
hooks run after commit with (tenant_id, lead_ids, reason).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from django.db import transaction

from tenants.context import require_tenant_id

logger = logging.getLogger("ondo.leads")

LeadsChangedHook = Callable[[int, list[int], str], None]
_hooks: list[LeadsChangedHook] = []


def register_leads_changed(hook: LeadsChangedHook) -> None:
    if hook not in _hooks:
        _hooks.append(hook)


def leads_changed(lead_ids: Iterable[int], *, reason: str) -> None:
    """Announce that these leads' activities or attributes changed (after commit)."""
    ids = sorted({int(i) for i in lead_ids if i})
    if not ids:
        return
    tenant_id = require_tenant_id()

    def run() -> None:
        for hook in _hooks:
            try:
                hook(tenant_id, ids, reason)
            except Exception:  # a hook failure never loses the committed data
                logger.exception("leads_changed hook %s failed", hook)

    transaction.on_commit(run)
