"""The checklist templates as data: read `diagnostics/checklists/*.json`, validate
them, and sync them into the database (idempotent; run after every `migrate`).

The JSON files are the source of truth. Item keys are stable: an item removed from a
file is deactivated, never deleted, because past answers point at it.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from django.db import transaction

logger = logging.getLogger("ondo.diagnostics")

CHECKLIST_DIR = Path(__file__).resolve().parent / "checklists"

# The seeds' checklists and their exact sizes; the loader refuses anything else.
EXPECTED_ITEM_COUNTS: dict[str, int] = {
    "lead_nurturing_30": 30,
    "lead_acquisition_kpi_13": 13,
    "b2b_kpi_design_12": 12,
    "kpi_five_checks": 5,
}
TEMPLATE_ORDER = list(EXPECTED_ITEM_COUNTS)

CAUSES = {"process", "data", "collaboration", "content", "timing"}
ACTIONS = {
    "mql_editor",
    "scoring_rules",
    "alert_settings",
    "kpi_planner",
    "kpi_dashboard",
    "sales_inbox",
    "lead_import",
    "data_quality",
    "feedback_report",
    "calibration",
    "members",
}
EVIDENCE_KEYS = {
    "attribute_completeness",
    "duplicate_rate",
    "segmentation_active",
    "behaviour_data_collected",
    "hot_alerts_enabled",
    "sales_feedback_given",
    "mql_definition_agreed",
    "shared_kpis_set",
    "kpis_reviewed",
    "nurture_period_designed",
    "rejection_reasons_recorded",
}
ITEM_FIELDS = {
    "key",
    "category",
    "cause",
    "text_ja",
    "text_en",
    "recommendation_ja",
    "recommendation_en",
    "action",
    "roadmap_phase",
    "evidence",
}


class ChecklistDataError(ValueError):
    """A checklist JSON file does not follow the schema in checklists/README.md."""


def read_definitions(directory: Path = CHECKLIST_DIR) -> list[dict]:
    """Every template definition, validated, in display order."""
    definitions = []
    for path in sorted(directory.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise ChecklistDataError(f"{path.name}: not valid JSON ({error})") from error
        validate_definition(data, source=path.name)
        definitions.append(data)
    order = {key: i for i, key in enumerate(TEMPLATE_ORDER)}
    definitions.sort(key=lambda d: (order.get(d["key"], len(order)), d["key"]))
    return definitions


def validate_definition(data: dict, *, source: str = "checklist") -> None:
    """Raise ChecklistDataError naming the file and item for the first problem found."""

    def fail(message: str) -> None:
        raise ChecklistDataError(f"{source}: {message}")

    for field in ("key", "name_ja", "name_en", "categories", "items"):
        if not data.get(field):
            fail(f"missing {field!r}")
    categories = [c.get("key") for c in data["categories"]]
    if len(set(categories)) != len(categories) or not all(categories):
        fail("category keys must be present and unique")
    for category in data["categories"]:
        if not category.get("name_ja") or not category.get("name_en"):
            fail(f"category {category['key']!r} needs name_ja and name_en")
    seen: set[str] = set()
    for index, item in enumerate(data["items"], start=1):
        label = f"item {index} ({item.get('key')!r})"
        missing = ITEM_FIELDS - set(item)
        if missing:
            fail(f"{label} lacks {sorted(missing)}")
        if not item["key"] or item["key"] in seen:
            fail(f"{label}: key missing or repeated")
        seen.add(item["key"])
        if item["category"] not in categories:
            fail(f"{label}: unknown category {item['category']!r}")
        if item["cause"] not in CAUSES:
            fail(f"{label}: cause must be one of {sorted(CAUSES)}")
        if item["action"] is not None and item["action"] not in ACTIONS:
            fail(f"{label}: unknown action {item['action']!r}")
        if item["evidence"] is not None and item["evidence"] not in EVIDENCE_KEYS:
            fail(f"{label}: unknown evidence {item['evidence']!r}")
        if item["roadmap_phase"] not in (1, 2, 3):
            fail(f"{label}: roadmap_phase must be 1, 2 or 3")
        for text in ("text_ja", "text_en", "recommendation_ja", "recommendation_en"):
            if not str(item[text]).strip():
                fail(f"{label}: {text} is empty")
    expected = EXPECTED_ITEM_COUNTS.get(data["key"])
    if expected is not None and len(data["items"]) != expected:
        fail(f"expected {expected} items, found {len(data['items'])}")


def sync_templates(*, apps=None, using: str = "default", directory: Path = CHECKLIST_DIR) -> dict[str, int]:
    """Upsert every template, category and item from the JSON files. Safe to run any number of times.

    `apps` is the app registry of a migration state (post_migrate passes it); the real
    models are used otherwise.
    """
    if apps is None:
        from django.apps import apps as global_apps

        apps = global_apps
    Template = apps.get_model("diagnostics", "ChecklistTemplate")  # noqa: N806
    Category = apps.get_model("diagnostics", "ChecklistCategory")  # noqa: N806
    Item = apps.get_model("diagnostics", "ChecklistItem")  # noqa: N806
    counts: dict[str, int] = {}
    definitions = read_definitions(directory)
    with transaction.atomic(using=using):
        for position, data in enumerate(definitions):
            template, _created = Template.objects.using(using).update_or_create(
                key=data["key"],
                defaults={
                    "name_ja": data["name_ja"],
                    "name_en": data["name_en"],
                    "description_ja": data.get("description_ja", ""),
                    "description_en": data.get("description_en", ""),
                    "source": data.get("source", ""),
                    "position": position,
                    "is_active": True,
                },
            )
            category_ids = {}
            for cat_position, category in enumerate(data["categories"]):
                row, _created = Category.objects.using(using).update_or_create(
                    template=template,
                    key=category["key"],
                    defaults={"name_ja": category["name_ja"], "name_en": category["name_en"], "position": cat_position},
                )
                category_ids[category["key"]] = row.pk
            for item_position, item in enumerate(data["items"]):
                Item.objects.using(using).update_or_create(
                    template=template,
                    key=item["key"],
                    defaults={
                        "category_id": category_ids[item["category"]],
                        "position": item_position,
                        "cause": item["cause"],
                        "text_ja": item["text_ja"],
                        "text_en": item["text_en"],
                        "recommendation_ja": item["recommendation_ja"],
                        "recommendation_en": item["recommendation_en"],
                        "action": item["action"] or "",
                        "roadmap_phase": item["roadmap_phase"],
                        "evidence_key": item["evidence"] or "",
                        "is_active": True,
                    },
                )
            Item.objects.using(using).filter(template=template).exclude(
                key__in=[item["key"] for item in data["items"]]
            ).update(is_active=False)
            counts[data["key"]] = len(data["items"])
        Template.objects.using(using).exclude(key__in=[d["key"] for d in definitions]).update(is_active=False)
    return counts


def sync_after_migrate(sender, *, apps=None, using: str = "default", plan=None, **kwargs) -> None:
    """post_migrate receiver: keep the templates in step with the JSON files."""
    if apps is not None:
        try:
            apps.get_model("diagnostics", "ChecklistItem")
        except LookupError:  # migrating backwards past the app's first migration
            return
    counts = sync_templates(apps=apps, using=using)
    logger.info("checklist templates synced: %s", counts)
