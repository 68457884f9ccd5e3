"""Fixtures of the diagnostics tests: the 30-item template, assessments and answers."""

import pytest

from diagnostics import services
from diagnostics.models import Assessment, ChecklistItem, ChecklistTemplate
from tenants.context import tenant_scope


@pytest.fixture
def nurturing(db) -> ChecklistTemplate:
    """The seed's 30-item diagnosis, loaded by migrate from diagnostics/checklists/."""
    return ChecklistTemplate.objects.get(key="lead_nurturing_30")


@pytest.fixture
def items(nurturing) -> dict[str, ChecklistItem]:
    return {item.key: item for item in ChecklistItem.objects.filter(template=nurturing).select_related("category")}


@pytest.fixture
def assessment(tenant, users, nurturing) -> Assessment:
    with tenant_scope(tenant.id):
        return services.assessment_start(template_key="lead_nurturing_30", title="Q3", actor=users["marketing"])


@pytest.fixture
def answer():
    """answer(assessment, user, item, value, note="") — records through the service, in the tenant's scope."""

    def record(assessment, user, item, value, note=""):
        with tenant_scope(assessment.tenant_id):
            return services.answer_record(assessment=assessment, user=user, item_id=item.pk, value=value, note=note)

    return record
