"""Drafting, approvals and activation: no activation without the required approvals; roles enforced."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from leads.models import LeadStageChange
from mql import services
from mql.models import DefinitionStatus, MqlDefinition
from tenants.models import AuditEvent

from .factories import lead

pytestmark = pytest.mark.django_db


def test_marketing_drafts_and_both_sides_must_approve(scoped, users):
    draft = services.definition_create_draft(actor=users["marketing"])
    assert draft.status == DefinitionStatus.DRAFT and draft.version == 1

    services.definition_approve(definition=draft, approver=users["marketing"])
    draft.refresh_from_db()
    assert draft.status == DefinitionStatus.DRAFT  # sales has not approved yet
    with pytest.raises(ValidationError):
        services.definition_activate(definition=draft, actor=users["marketing"])

    services.definition_approve(definition=draft, approver=users["sales"])
    draft.refresh_from_db()
    assert draft.status == DefinitionStatus.ACTIVE
    assert draft.activated_by == users["sales"]
    event = AuditEvent.objects.get(action="mql.definition_activated")
    assert {a["role"] for a in event.data["approvals"]} == {"marketing", "sales"}


def test_activation_supersedes_the_previous_version(scoped, users):
    first = services.definition_create_draft(actor=users["marketing"])
    for role in ("marketing", "sales"):
        services.definition_approve(definition=first, approver=users[role])
    second = services.definition_create_draft(actor=users["marketing"])
    assert second.based_on_id == first.pk and second.min_score == first.min_score
    for role in ("marketing", "sales"):
        services.definition_approve(definition=second, approver=users[role])
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (DefinitionStatus.SUPERSEDED, DefinitionStatus.ACTIVE)
    assert MqlDefinition.objects.filter(status=DefinitionStatus.ACTIVE).count() == 1


def test_editing_a_draft_makes_earlier_approvals_stale(scoped, users):
    draft = services.definition_create_draft(actor=users["marketing"])
    services.definition_approve(definition=draft, approver=users["sales"])
    conditions = draft.conditions() | {"min_score": 70}
    services.definition_update_draft(definition=draft, actor=users["marketing"], conditions=conditions)
    draft.refresh_from_db()
    services.definition_approve(definition=draft, approver=users["marketing"])
    draft.refresh_from_db()
    assert draft.status == DefinitionStatus.DRAFT  # sales approved the old conditions only
    assert [r["met"] for r in services.approval_requirements(draft)] == [True, False]
    services.definition_approve(definition=draft, approver=users["sales"])
    draft.refresh_from_db()
    assert draft.status == DefinitionStatus.ACTIVE


def test_roles_are_enforced(scoped, users):
    with pytest.raises(PermissionDenied):
        services.definition_create_draft(actor=users["sales"])
    with pytest.raises(PermissionDenied):
        services.definition_create_draft(actor=users["viewer"])
    draft = services.definition_create_draft(actor=users["admin"])
    with pytest.raises(PermissionDenied):
        services.definition_approve(definition=draft, approver=users["viewer"])
    with pytest.raises(PermissionDenied):
        services.definition_update_draft(definition=draft, actor=users["sales"], conditions=draft.conditions())
    with pytest.raises(PermissionDenied):
        services.approval_policy_update(actor=users["marketing"], required_roles=["sales"], required_approver_ids=[])


def test_admin_configures_who_must_approve(scoped, users, sales2):
    services.approval_policy_update(actor=users["admin"], required_roles=["sales"], required_approver_ids=[sales2.pk])
    draft = services.definition_create_draft(actor=users["marketing"])
    services.definition_approve(definition=draft, approver=users["sales"])
    draft.refresh_from_db()
    assert draft.status == DefinitionStatus.DRAFT  # the named member has not approved
    services.definition_approve(definition=draft, approver=sales2)
    draft.refresh_from_db()
    assert draft.status == DefinitionStatus.ACTIVE


def test_policy_needs_at_least_one_approver_and_valid_roles(scoped, users):
    with pytest.raises(ValidationError):
        services.approval_policy_update(actor=users["admin"], required_roles=[], required_approver_ids=[])
    with pytest.raises(ValidationError):
        services.approval_policy_update(actor=users["admin"], required_roles=["viewer"], required_approver_ids=[])
    with pytest.raises(ValidationError):
        services.approval_policy_update(
            actor=users["admin"], required_roles=[], required_approver_ids=[users["viewer"].pk]
        )
    assert services.approval_policy_get().required_roles == ["marketing", "sales"]


def test_active_versions_cannot_be_edited(scoped, users):
    draft = services.definition_create_draft(actor=users["marketing"])
    for role in ("marketing", "sales"):
        services.definition_approve(definition=draft, approver=users[role])
    draft.refresh_from_db()
    with pytest.raises(ValidationError):
        services.definition_update_draft(definition=draft, actor=users["marketing"], conditions=draft.conditions())
    with pytest.raises(ValidationError):
        services.definition_approve(definition=draft, approver=users["sales"])


def test_bad_conditions_are_refused_with_field_messages(scoped, users):
    draft = services.definition_create_draft(actor=users["marketing"])
    bad = draft.conditions() | {
        "min_score": "eighty",
        "segments": ["lukewarm"],
        "competitor_domains": "not a domain",
        "required_info": ["shoe_size"],
    }
    with pytest.raises(ValidationError) as error:
        services.definition_update_draft(definition=draft, actor=users["marketing"], conditions=bad)
    assert set(error.value.message_dict) == {"min_score", "segments", "competitor_domains", "required_info"}
    draft.refresh_from_db()
    assert draft.min_score == 80
    empty = draft.conditions() | {
        "min_score": None,
        "segments": [],
        "required_info": [],
        "high_intent_activity_types": [],
        "high_intent_form_keys": [],
    }
    with pytest.raises(ValidationError):
        services.clean_conditions(empty)


def test_activation_reevaluates_all_leads_without_demoting_sales_leads(
    scoped, users, django_capture_on_commit_callbacks
):
    promoted = lead(score_total=90)
    accepted = lead(score_total=10, stage="sql")
    low = lead(score_total=20)
    recycled_quiet = lead(score_total=95, stage="recycled")
    draft = services.definition_create_draft(actor=users["marketing"])  # min score 80
    with django_capture_on_commit_callbacks(execute=True):
        for role in ("marketing", "sales"):
            services.definition_approve(definition=draft, approver=users[role])
    for item in (promoted, accepted, low, recycled_quiet):
        item.refresh_from_db()
    assert (promoted.stage, accepted.stage, low.stage, recycled_quiet.stage) == ("mql", "sql", "lead", "recycled")
    change = LeadStageChange.objects.get(lead=promoted)
    assert (change.from_stage, change.to_stage, change.mql_definition_version) == ("lead", "mql", 1)
    assert promoted.mql_handovers.get().deadline_at > promoted.mql_handovers.get().handed_over_at
    run = draft.reevaluations.get()
    assert (run.status, run.promoted, run.progress) == ("done", 1, 100)


# --- the role counts as it was when approving (issue #19, Low 3) ------------------------------------


def _set_role(tenant, user, role):
    from tenants.models import Membership

    Membership.objects.filter(tenant=tenant, user=user).update(role=role)


def test_an_approval_counts_with_the_role_the_approver_held_when_approving(scoped, users, sales2):
    """Sales approved, then was made marketing: their approval still stands for sales."""
    draft = services.definition_create_draft(actor=users["marketing"])
    approval = services.definition_approve(definition=draft, approver=sales2)
    assert approval.role == "sales"
    _set_role(scoped, sales2, "marketing")

    services.definition_approve(definition=draft, approver=users["marketing"])
    draft.refresh_from_db()
    assert draft.status == DefinitionStatus.ACTIVE
    requirement = next(r for r in services.approval_requirements(draft) if r["key"] == "sales")
    assert [a.approver_id for a in requirement["approvals"]] == [sales2.pk]


def test_a_promotion_after_approving_does_not_count_retroactively(scoped, users, sales2):
    """Marketing approved, then was made sales: that approval does not stand for sales."""
    draft = services.definition_create_draft(actor=users["marketing"])
    services.definition_approve(definition=draft, approver=users["marketing"])
    _set_role(scoped, users["marketing"], "sales")

    requirements = {r["key"]: r for r in services.approval_requirements(draft)}
    assert requirements["marketing"]["met"] is True
    assert requirements["sales"]["met"] is False
    assert services.approvals_complete(draft) is False
    draft.refresh_from_db()
    assert draft.status == DefinitionStatus.DRAFT

    services.definition_approve(definition=draft, approver=sales2)
    draft.refresh_from_db()
    assert draft.status == DefinitionStatus.ACTIVE


def test_an_approval_by_someone_who_left_no_longer_counts(scoped, users, sales2):
    from tenants.models import Membership

    draft = services.definition_create_draft(actor=users["marketing"])
    services.definition_approve(definition=draft, approver=sales2)
    Membership.objects.filter(tenant=scoped, user=sales2).delete()
    requirements = {r["key"]: r for r in services.approval_requirements(draft)}
    assert requirements["sales"]["met"] is False
