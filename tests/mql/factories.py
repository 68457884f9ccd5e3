"""Test helpers for the MQL app (use inside `tenant_scope`, like application code)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from leads.models import Activity, Lead
from mql.models import DefinitionStatus, MqlDefinition
from mql.services import DEFAULT_CONDITIONS

_counter = {"n": 0}


def lead(**fields) -> Lead:
    _counter["n"] += 1
    n = _counter["n"]
    defaults = {
        "email": f"mql-lead{n}@prospect.example.jp",
        "name": f"見込 {n}",
        "company": f"株式会社テスト{n}",
        "channel": "seo",
        "stage": "lead",
    }
    defaults.update(fields)
    return Lead.objects.create(**defaults)


def activity(lead_obj: Lead, type_: str = "page_view", *, days_ago: float = 0, **fields) -> Activity:
    return Activity.objects.create(
        lead=lead_obj, type=type_, occurred_at=timezone.now() - timedelta(days=days_ago), **fields
    )


def definition(*, status: str = DefinitionStatus.DRAFT, version: int | None = None, **conditions) -> MqlDefinition:
    data = dict(DEFAULT_CONDITIONS)
    data.update(
        {
            "high_intent_activity_types": [],
            "high_intent_form_keys": [],
            "exclude_students": False,
            "exclude_customers": False,
            "exclude_unsubscribed": False,
            "exclude_free_mail": False,
        }
    )
    data.update(conditions)
    if version is None:
        version = (MqlDefinition.objects.order_by("-version").values_list("version", flat=True).first() or 0) + 1
    return MqlDefinition.objects.create(version=version, status=status, **data)
