"""Versioned scoring models: draft, publish, rollback, compare; published versions never change."""

import pytest
from django.core.exceptions import ValidationError

from leads.models import Lead
from scoring import engine, selectors, services
from scoring.models import ModelStatus, ScoringModel


def test_editing_happens_on_a_draft_copied_from_the_active_version(model):
    draft = services.draft_get_or_create()
    assert (draft.status, draft.version, draft.based_on_version) == (ModelStatus.DRAFT, 2, 1)
    assert services.sheet_export(model=draft) == services.sheet_export(model=model)
    assert services.draft_get_or_create() == draft  # one draft at a time


def test_published_versions_cannot_be_edited(model):
    rule = model.behaviour_rules.first()
    with pytest.raises(ValidationError):
        services.behaviour_rule_save(
            model=model, data={"label": "x", "activity_type": "email_open", "points": 99}, rule=rule
        )
    rule.refresh_from_db()
    assert rule.points == 5


def test_publish_archives_the_previous_version_and_rescores(model, make_lead, act, django_capture_on_commit_callbacks):
    lead = make_lead()
    act(lead, "pricing_view")
    draft = services.draft_get_or_create()
    pricing = draft.behaviour_rules.get(label="価格ページ閲覧")
    services.behaviour_rule_save(
        model=draft,
        rule=pricing,
        data={
            "label": pricing.label,
            "activity_type": "pricing_view",
            "points": 60,
        },
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.model_publish(model=draft)  # the recompute task runs eagerly in the test settings
    model.refresh_from_db()
    draft.refresh_from_db()
    assert (model.status, draft.status) == (ModelStatus.ARCHIVED, ModelStatus.ACTIVE)
    lead.refresh_from_db()
    assert (lead.score_total, lead.segment, lead.score_model_version) == (60, "warm", 2)


def test_rollback_publishes_a_copy_of_the_old_version(model, make_lead, act, django_capture_on_commit_callbacks):
    lead = make_lead()
    act(lead, "pricing_view")
    draft = services.draft_get_or_create()
    services.rule_delete(rule=draft.behaviour_rules.get(label="価格ページ閲覧"))
    with django_capture_on_commit_callbacks(execute=True):
        services.model_publish(model=draft)
    lead.refresh_from_db()
    assert lead.score_total == 0
    with django_capture_on_commit_callbacks(execute=True):
        restored = services.model_rollback(model=ScoringModel.objects.get(version=1))
    assert (restored.version, restored.status, restored.based_on_version) == (3, ModelStatus.ACTIVE, 1)
    assert services.sheet_export(model=restored) == services.sheet_export(model=ScoringModel.objects.get(version=1))
    lead.refresh_from_db()
    assert (lead.score_total, lead.score_model_version) == (25, 3)
    assert list(ScoringModel.objects.values_list("version", "status")) == [
        (3, "active"),
        (2, "archived"),
        (1, "archived"),
    ]


def test_rollback_to_the_active_version_is_refused(model):
    with pytest.raises(ValidationError):
        services.model_rollback(model=model)


def test_compare_lists_added_removed_and_changed_rules(model):
    draft = services.draft_get_or_create()
    services.rule_delete(rule=draft.behaviour_rules.get(label="メール開封"))
    services.fit_rule_save(
        model=draft,
        rule=draft.fit_rules.get(label="業種:製造業"),
        data={
            "label": "業種:製造業",
            "field": "industry",
            "operator": "contains_any",
            "values": ["製造"],
            "points": 15,
        },
    )
    services.fit_rule_save(
        model=draft,
        data={"label": "予算:確保済み", "field": "budget", "operator": "equals", "values": ["secured"], "points": 20},
    )
    diff = selectors.compare_versions(model, draft)
    states = {row["label"]: row["state"] for section in diff["sections"] for row in section["rows"]}
    assert states["メール開封"] == "removed"
    assert states["業種:製造業"] == "changed"
    assert states["予算:確保済み"] == "added"
    assert states["メールクリック"] == "same"


def test_impact_preview_counts_segments_before_and_after(model, make_lead):
    leads = [make_lead(title="CEO", employee_count=600) for _ in range(3)]  # fit 55: warm
    engine.rescore_leads([lead.pk for lead in leads])
    assert {lead.segment for lead in Lead.objects.all()} == {"warm"}
    draft = services.draft_get_or_create()
    spec = selectors.spec_with_edit(
        draft,
        kind="fit",
        rule_id=None,
        data={
            "label": "big",
            "field": "employee_count",
            "operator": "range",
            "number_min": 500,
            "points": 30,
            "values": [],
            "number_max": None,
            "group": "",
        },
    )
    preview = selectors.impact_preview(spec)
    rows = {row["key"]: (row["before"], row["after"]) for row in preview["rows"]}
    assert rows == {"hot": (0, 3), "warm": (3, 0), "cold": (0, 0)}
    assert not preview["estimated"]
