"""Evidence: what the tenant's own data says about a checklist item.

A registry of small functions keyed by the evidence key used in the checklist JSON. Each returns
an `Evidence`: the figures it measured (JSON-safe, so an assessment can keep a snapshot), the
answer the data suggests (yes / partly / no), or `no_data` when there is nothing to measure yet.

One module per concept: `base` (the measurement and the registry), `measure` (running checks,
cache, snapshots) and the checks by checklist area: `lead_data`, `segments`, `collaboration`,
`kpi_routine`. Callers use this package: `evidence.compute(key)`, `evidence.compute_many(keys)`.
Run inside a tenant scope.
"""

from . import collaboration, kpi_routine, lead_data, segments  # noqa: F401  (importing registers the checks)
from .base import EVIDENCE, MEASURED, NO_DATA, UNAVAILABLE, Evidence, EvidenceCheck, evidence_check
from .measure import CACHE_SECONDS, compute, compute_many, from_snapshot, snapshot

__all__ = [
    "CACHE_SECONDS",
    "EVIDENCE",
    "MEASURED",
    "NO_DATA",
    "UNAVAILABLE",
    "Evidence",
    "EvidenceCheck",
    "compute",
    "compute_many",
    "evidence_check",
    "from_snapshot",
    "snapshot",
]
