"""Checklist templates are data: loaded from diagnostics/checklists/*.json with the seeds' exact sizes."""

import json
import shutil

import pytest
from django.db.models import Count

from diagnostics.catalog import CHECKLIST_DIR, ChecklistDataError, read_definitions, sync_templates
from diagnostics.models import Cause, ChecklistCategory, ChecklistItem, ChecklistTemplate

pytestmark = pytest.mark.django_db


def _category_sizes(key):
    return list(
        ChecklistCategory.objects.filter(template__key=key)
        .order_by("position")
        .annotate(n=Count("items"))
        .values_list("key", "n")
    )


class TestTemplatesLoadedByMigrate:
    def test_the_four_templates_with_their_item_counts(self):
        counts = dict(ChecklistTemplate.objects.annotate(n=Count("items")).values_list("key", "n"))
        assert counts == {
            "lead_nurturing_30": 30,
            "lead_acquisition_kpi_13": 13,
            "b2b_kpi_design_12": 12,
            "kpi_five_checks": 5,
        }

    def test_the_lead_nurturing_diagnosis_has_three_categories_of_ten(self):
        assert _category_sizes("lead_nurturing_30") == [
            ("process_design", 10),
            ("data_targeting", 10),
            ("collaboration", 10),
        ]

    def test_the_other_templates_categories(self):
        assert _category_sizes("lead_acquisition_kpi_13") == [("design", 5), ("operation", 8)]
        assert [n for _key, n in _category_sizes("b2b_kpi_design_12")] == [3, 3, 3, 3]
        assert _category_sizes("kpi_five_checks") == [("kpi_design", 5)]

    def test_every_item_maps_to_one_of_the_five_causes_and_is_bilingual(self):
        for item in ChecklistItem.objects.all():
            assert item.cause in Cause.values
            assert item.text_ja and item.text_en and item.recommendation_ja and item.recommendation_en
            assert item.roadmap_phase in (1, 2, 3)

    def test_all_five_causes_occur_in_the_30_item_diagnosis(self):
        causes = set(ChecklistItem.objects.filter(template__key="lead_nurturing_30").values_list("cause", flat=True))
        assert causes == set(Cause.values)

    def test_texts_follow_the_language(self):
        from django.utils import translation

        item = ChecklistItem.objects.get(template__key="lead_nurturing_30", key="nurturing_goal_defined")
        with translation.override("ja"):
            assert item.text == item.text_ja
        with translation.override("en"):
            assert item.text == item.text_en


class TestSync:
    def test_running_the_loader_again_changes_nothing(self):
        before = list(ChecklistItem.objects.order_by("pk").values())
        assert sync_templates() == {
            "lead_nurturing_30": 30,
            "lead_acquisition_kpi_13": 13,
            "b2b_kpi_design_12": 12,
            "kpi_five_checks": 5,
        }
        assert list(ChecklistItem.objects.order_by("pk").values()) == before

    def test_an_edited_text_is_updated_and_a_removed_item_deactivated_not_deleted(self, tmp_path):
        for path in CHECKLIST_DIR.glob("*.json"):
            shutil.copy(path, tmp_path / path.name)
        path = tmp_path / "kpi_five_checks.json"
        data = json.loads(path.read_text())
        data["items"][0]["text_en"] = "Edited text"
        removed = data["items"].pop()["key"]
        path.write_text(json.dumps(data))
        # A 4-item "five checks" is refused: the sizes are part of the data contract.
        with pytest.raises(ChecklistDataError, match="expected 5 items, found 4"):
            sync_templates(directory=tmp_path)
        data["key"] = "kpi_five_checks_custom"
        data["items"].append({**data["items"][0], "key": "extra"})
        path.write_text(json.dumps(data))
        sync_templates(directory=tmp_path)
        custom = ChecklistItem.objects.filter(template__key="kpi_five_checks_custom")
        assert custom.count() == 5 and custom.get(key="extra")
        assert not ChecklistTemplate.objects.get(key="kpi_five_checks").is_active  # no longer in the folder
        assert ChecklistItem.objects.filter(template__key="kpi_five_checks", key=removed).exists()

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            (lambda item: item.update(cause="luck"), "cause must be one of"),
            (lambda item: item.update(action="nowhere"), "unknown action"),
            (lambda item: item.update(evidence="vibes"), "unknown evidence"),
            (lambda item: item.update(roadmap_phase=4), "roadmap_phase"),
            (lambda item: item.update(category="elsewhere"), "unknown category"),
            (lambda item: item.pop("text_ja"), "lacks"),
        ],
    )
    def test_a_broken_file_is_refused_with_the_item_named(self, tmp_path, change, message):
        data = json.loads((CHECKLIST_DIR / "kpi_five_checks.json").read_text())
        change(data["items"][2])
        (tmp_path / "kpi_five_checks.json").write_text(json.dumps(data))
        with pytest.raises(ChecklistDataError, match=message) as error:
            read_definitions(tmp_path)
        assert "item 3" in str(error.value)
