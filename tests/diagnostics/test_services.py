"""Writes of the diagnostics app: answers are validated as a whole, respondents' sides follow their role."""

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from diagnostics import evidence, services
from diagnostics.models import Answer, Assessment
from tenants.context import tenant_scope
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def test_several_answers_are_saved_all_or_nothing(tenant, users, assessment, items):
    good, other = items["nurturing_goal_defined"], items["buyer_journey_mapped"]
    with tenant_scope(tenant.id):
        with pytest.raises(ValidationError):
            services.answers_record(
                assessment=assessment, user=users["sales"], answers=[(good.pk, "yes", ""), (other.pk, "perhaps", "")]
            )
        assert not Answer.objects.exists()
        saved = services.answers_record(
            assessment=assessment, user=users["sales"], answers=[(good.pk, "yes", " 概ね "), (other.pk, "no", "")]
        )
        assert [(a.value, a.note) for a in saved] == [("yes", "概ね"), ("no", "")]
        assert Assessment.objects.get(pk=assessment.pk).summary["overall"] == 50.0


def test_sides_follow_the_role(tenant, users, assessment, items, answer):
    for role in ("marketing", "sales", "admin"):
        answer(assessment, users[role], items["nurturing_goal_defined"], "yes")
    with tenant_scope(tenant.id):
        sides = dict(Answer.objects.values_list("respondent__user__email", "respondent__side"))
    assert sides == {
        "marketing@acme.example": "marketing",
        "sales@acme.example": "sales",
        "admin@acme.example": "marketing",
    }


def test_viewers_and_the_auto_diagnosis_cannot_be_answered(tenant, users, assessment, items, nurturing):
    with tenant_scope(tenant.id), translation.override("en"):
        with pytest.raises(ValidationError, match="Your role cannot answer"):
            services.answer_record(
                assessment=assessment, user=users["viewer"], item_id=items["nurturing_goal_defined"].pk, value="yes"
            )
        auto = services.auto_diagnosis_run()
        with pytest.raises(ValidationError, match="measured from data"):
            services.answer_record(
                assessment=auto, user=users["admin"], item_id=items["nurturing_goal_defined"].pk, value="yes"
            )


def test_a_title_too_long_or_an_unknown_checklist_is_refused(tenant, users, nurturing):
    with tenant_scope(tenant.id):
        with pytest.raises(ValidationError) as error:
            services.assessment_start(template_key="lead_nurturing_30", title="x" * 201, actor=users["admin"])
        assert "title" in error.value.message_dict
        with pytest.raises(ValidationError):
            services.assessment_start(template_key="tarot", actor=users["admin"])
        assert not Assessment.objects.exists()


def test_pages_reuse_a_recent_measurement_but_completion_measures_afresh(tenant, users, assessment, items, answer):
    with tenant_scope(tenant.id):
        LeadFactory(industry="")
        first = evidence.compute_many(["attribute_completeness"], cached=True)["attribute_completeness"]
        LeadFactory(industry="IT")
        again = evidence.compute_many(["attribute_completeness"], cached=True)["attribute_completeness"]
        assert again.metrics["leads"] == first.metrics["leads"] == 1  # reused for a few minutes
    answer(assessment, users["marketing"], items["lead_attributes_collected"], "yes")
    with tenant_scope(tenant.id):
        done = services.assessment_complete(assessment=assessment, actor=users["marketing"])
    assert done.evidence["attribute_completeness"]["metrics"]["leads"] == 2
