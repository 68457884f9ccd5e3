"""The scoring sheet CSV: the seed sheet is the default model, every model round-trips, bad rows are
reported one by one and nothing is imported."""

import os
from pathlib import Path

import pytest
from django.conf import settings

from scoring import services, sheet
from scoring.models import ModelStatus, ScoringModel
from tenants.context import tenant_scope
from tenants.services import tenant_create


def _seed_file() -> Path | None:
    """The seed article with the scoring sheet: ../shared next to the checkout, or the workplace's
    /work/shared for a clone elsewhere (CI), or ONDO_SHARED_DIR."""
    candidates = [os.environ.get("ONDO_SHARED_DIR", ""), Path(settings.BASE_DIR).parent / "shared", "/work/shared"]
    for base in filter(None, candidates):
        found = next((Path(base) / "seeds").glob("000_*.txt"), None)
        if found is not None:
            return found
    return None


def test_the_built_in_sheet_is_the_seed_articles_sheet():
    seed_file = _seed_file()
    assert seed_file is not None, "the seed articles (shared/seeds) were not found; set ONDO_SHARED_DIR"
    text = seed_file.read_text()
    start = text.index("スコア種別,項目,条件,配点,備考")
    lines = [line for line in text[start:].splitlines()[:19]]
    assert "\n".join(lines) + "\n" == sheet.SEED_SHEET


def test_a_new_tenant_starts_from_the_seed_sheet(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        tenant = tenant_create(name="新規株式会社", slug="newco")
    with tenant_scope(tenant.pk):
        model = ScoringModel.objects.get(status=ModelStatus.ACTIVE)
        assert model.version == 1
        assert model.behaviour_rules.count() == 7
        assert model.fit_rules.count() == 8
        assert {s.key: s.min_total for s in model.segments.all()} == {"hot": 80, "warm": 50, "cold": None}
        assert services.sheet_export(model=model) == sheet.SEED_SHEET


def test_default_model_exports_byte_for_byte_as_the_seed(model):
    assert services.sheet_export(model=model) == sheet.SEED_SHEET


def test_seed_segments_keep_priority_and_follow_up(model):
    hot = model.segments.get(key="hot")
    assert (hot.label, hot.priority, hot.follow_up, hot.colour) == (
        "ホットリード",
        "商談化優先",
        "即座に営業へ引き渡し",
        "red",
    )


def test_custom_model_round_trips(model):
    draft = services.draft_get_or_create()
    services.behaviour_rule_save(
        model=draft,
        data={
            "label": "料金ページ再訪",
            "description": "料金ページを1週間に2回",
            "note": "=SUM(A1)",
            "activity_type": "page_view",
            "url_match": "contains",
            "url_value": "/pricing",
            "points": 15,
            "min_count": 2,
            "window_days": 7,
            "recency_days": 30,
            "count_mode": "once",
        },
    )
    services.behaviour_rule_save(
        model=draft,
        data={
            "label": "配信停止",
            "activity_type": "unsubscribe",
            "points": -40,
            "count_mode": "at_most",
            "max_count": 1,
            "half_life_days": 90,
        },
    )
    services.fit_rule_save(
        model=draft,
        data={
            "label": "予算:確保済み",
            "field": "budget",
            "operator": "in",
            "values": ["secured", "planned"],
            "points": 25,
        },
    )
    services.fit_rule_save(
        model=draft,
        data={
            "label": "席数",
            "field": "custom:seats",
            "operator": "range",
            "number_min": 100,
            "points": 5,
            "group": "規模",
        },
    )
    services.segments_save(
        model=draft,
        behaviour_cap=90,
        fit_cap=None,
        segments=[
            {
                "key": "hot",
                "label": "ホットリード",
                "min_total": 85,
                "colour": "purple",
                "priority": "最優先",
                "follow_up": "24時間以内",
            },
            {"key": "warm", "label": "ウォームリード", "min_total": 40, "colour": "amber"},
            {"key": "cold", "label": "コールドリード", "min_total": None, "colour": "blue-grey"},
        ],
    )
    exported = services.sheet_export(model=draft)
    assert "'=SUM(A1)" in exported  # formula-leading cells are escaped for spreadsheets
    parsed = sheet.parse(exported)
    assert parsed == services.model_to_sheet(draft)
    assert sheet.export(parsed) == exported


def test_import_replaces_the_draft_and_keeps_the_active_model(model):
    text = sheet.SEED_SHEET.replace(
        "価格ページ閲覧,料金・プランページを閲覧した,25", "価格ページ閲覧,料金・プランページを閲覧した,40"
    )
    draft = services.sheet_import(data=text.encode("cp932"))
    assert draft.status == ModelStatus.DRAFT
    assert draft.behaviour_rules.get(label="価格ページ閲覧").points == 40
    assert model.behaviour_rules.get(label="価格ページ閲覧").points == 25


def test_import_reports_every_bad_row_and_changes_nothing(model):
    bad = (
        "スコア種別,項目,条件,配点,備考\n"
        "行動スコア,メール開封,メールを開封した,五点,\n"
        "行動スコア,謎の行動,なにかした,10,\n"
        "属性スコア,役職:部長クラス,肩書 [field=title; op=range],20,\n"
        "ボーナス,何か,条件,5,\n"
        "セグメント定義,ホットリード,とても熱い,商談化優先,\n"
    )
    with pytest.raises(sheet.SheetError) as caught:
        services.sheet_import(data=bad.encode())
    rows = {e.row: e.message for e in caught.value.errors}
    assert set(rows) == {2, 3, 4, 5, 6}
    assert "五点" in rows[2]
    assert ScoringModel.objects.filter(status=ModelStatus.DRAFT).count() == 0


def test_import_rejects_a_wrong_header(model):
    with pytest.raises(sheet.SheetError) as caught:
        sheet.parse("type,item,condition,points,note\n")
    assert caught.value.errors[0].row == 1


def test_import_messages_are_in_the_users_language(model):
    from django.utils import translation

    with translation.override("ja"), pytest.raises(sheet.SheetError) as caught:
        sheet.parse("スコア種別,項目,条件,配点,備考\n行動スコア,メール開封,開封,abc,\n")
    assert "整数" in caught.value.errors[0].message
    with translation.override("en"), pytest.raises(sheet.SheetError) as caught:
        sheet.parse("スコア種別,項目,条件,配点,備考\n行動スコア,メール開封,開封,abc,\n")
    assert "whole number" in caught.value.errors[0].message
