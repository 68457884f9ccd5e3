"""Running the registered checks: one at a time, several with a short-lived cache, and the
snapshot an assessment keeps of them. Run inside a tenant scope."""

from __future__ import annotations

import logging
from datetime import datetime

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from tenants.context import require_tenant_id

from .base import EVIDENCE, UNAVAILABLE, Evidence

logger = logging.getLogger("ondo.diagnostics")

# Pages showing live evidence (answering, an open assessment's result) reuse a measurement for a
# few minutes; completing an assessment and the auto-diagnosis always measure afresh.
CACHE_SECONDS = 300


def compute(key: str, *, now: datetime | None = None) -> Evidence:
    """Measure one check. A crash in one check is logged and never breaks a page."""
    check = EVIDENCE.get(key)
    if check is None:
        return Evidence(key=key, state=UNAVAILABLE, metrics={"needs": "unknown"})
    try:
        # A savepoint: a failing query must not abort the request's transaction (PostgreSQL).
        with transaction.atomic():
            return check.compute(now or timezone.now())
    except Exception:
        logger.exception("evidence %s failed", key)
        return Evidence(key=key, state=UNAVAILABLE, metrics={"needs": "error"})


def _cache_key(key: str) -> str:
    return f"ondo:diagnostics:evidence:{require_tenant_id()}:{key}"


def compute_many(keys, *, now: datetime | None = None, cached: bool = False) -> dict[str, Evidence]:
    """Measure several checks. With `cached` (and no explicit `now`) recent measurements are reused."""
    use_cache = cached and now is None
    now = now or timezone.now()
    result = {}
    for key in dict.fromkeys(k for k in keys if k):
        if use_cache:
            hit = _cache_get(_cache_key(key))
            if hit is not None:
                result[key] = Evidence.from_json(hit)
                continue
        result[key] = compute(key, now=now)
        if use_cache and result[key].metrics.get("needs") != "error":
            _cache_set(_cache_key(key), result[key].to_json())
    return result


def _cache_get(key: str):
    try:
        return cache.get(key)
    except Exception:  # a cache outage only costs a fresh measurement
        logger.warning("evidence cache unavailable", exc_info=True)
        return None


def _cache_set(key: str, value: dict) -> None:
    try:
        cache.set(key, value, CACHE_SECONDS)
    except Exception:
        logger.warning("evidence cache unavailable", exc_info=True)


def snapshot(evidence: dict[str, Evidence]) -> dict:
    return {key: ev.to_json() for key, ev in evidence.items()}


def from_snapshot(data: dict) -> dict[str, Evidence]:
    return {key: Evidence.from_json(value) for key, value in (data or {}).items()}
