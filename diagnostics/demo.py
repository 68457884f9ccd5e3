"""Demo data of the diagnostics app (runs last in `manage.py seed_demo`, inside the tenant's scope).

Two past team assessments of the 30-item diagnosis, answered separately by a marketing and
a sales member (marketing is more optimistic about collaboration, so the result shows
disagreements; the second one shows progress), and this week's auto-diagnosis.
"""

from __future__ import annotations

import random
from datetime import timedelta

from django.utils import timezone

from tenants.models import Membership, Role, Tenant

from . import services
from .models import Assessment, ChecklistItem

# How far each area is, per assessment: weights of yes / partly / no for the shared view of an item.
PROFILES = {
    "older": {"process_design": (3, 3, 4), "data_targeting": (3, 4, 3), "collaboration": (2, 3, 5)},
    "newer": {"process_design": (6, 3, 1), "data_targeting": (5, 4, 1), "collaboration": (4, 3, 3)},
}
STEPS = ["yes", "partly", "no"]


def _shift(value: str, steps: int) -> str:
    return STEPS[max(0, min(2, STEPS.index(value) + steps))]


NOTES = {
    "sales_ready_definition_agreed": ("スコア80点以上で渡している", "基準はマーケ側だけで決めている印象"),
    "hot_lead_auto_alert": ("MAから通知は出ている", "通知が多すぎて埋もれている"),
    "sales_outcome_feedback": ("", "SFAには入れているが共有されていない"),
    "lead_attributes_collected": ("フォームで業種・役職は必須", ""),
}


def _member(tenant: Tenant, role: str):
    membership = Membership.objects.filter(tenant=tenant, role=role).select_related("user").order_by("id").first()
    return membership.user if membership else None


def build_demo(*, tenant: Tenant, lead_count: int, stdout) -> None:
    marketing = _member(tenant, Role.MARKETING) or _member(tenant, Role.ADMIN)
    sales = _member(tenant, Role.SALES)
    if marketing is None or sales is None:
        stdout.write("  diagnostics: skipped (needs a marketing and a sales member)")
        return
    rng = random.Random(7)  # noqa: S311 - demo data, deterministic on purpose  # nosec B311
    items = list(
        ChecklistItem.objects.filter(template__key="lead_nurturing_30", is_active=True).select_related("category")
    )
    now = timezone.now()
    for label, days_ago, title in (
        ("older", 120, "上期キックオフ時の診断"),
        ("newer", 30, "スコアリング導入後の再診断"),
    ):
        assessment = services.assessment_start(template_key="lead_nurturing_30", title=title, actor=marketing)
        given: dict[str, list[tuple[int, str, str]]] = {"marketing": [], "sales": []}
        for item in items:
            shared = rng.choices(STEPS, weights=PROFILES[label][item.category.key])[0]
            # Marketing sees collaboration rosier than sales does; elsewhere they mostly agree.
            optimism = -1 if item.category.key == "collaboration" and rng.random() < 0.35 else 0
            answers = {
                "marketing": _shift(shared, optimism),
                "sales": shared if rng.random() < 0.85 else _shift(shared, 1),
            }
            if item.key == "content_quality_reviewed":
                answers["sales"] = "na"
            for side in ("marketing", "sales"):
                note = NOTES.get(item.key, ("", ""))[0 if side == "marketing" else 1] if label == "newer" else ""
                given[side].append((item.pk, answers[side], note))
        services.answers_record(assessment=assessment, user=marketing, answers=given["marketing"])
        services.answers_record(assessment=assessment, user=sales, answers=given["sales"])
        when = now - timedelta(days=days_ago)
        services.assessment_complete(assessment=assessment, actor=marketing, now=when + timedelta(days=2))
        Assessment.objects.filter(pk=assessment.pk).update(created_at=when)
    services.auto_diagnosis_run(now=now)
    stdout.write("  diagnostics: 2 team assessments (marketing + sales) and this week's auto-diagnosis")
