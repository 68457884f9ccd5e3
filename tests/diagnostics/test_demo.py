"""The demo builder: two past team assessments answered by marketing and sales, and an auto-diagnosis."""

import io

import pytest

from diagnostics import selectors
from diagnostics.demo import build_demo
from diagnostics.models import Assessment, Respondent
from tenants.context import tenant_scope

pytestmark = pytest.mark.django_db


def test_build_demo(tenant, users, nurturing):
    out = io.StringIO()
    with tenant_scope(tenant.id):
        build_demo(tenant=tenant, lead_count=50, stdout=out)
        manual = list(Assessment.objects.filter(kind="manual").order_by("created_at"))
        assert len(manual) == 2
        assert all(a.completed_at is not None and a.evidence for a in manual)
        assert manual[0].created_at < manual[1].created_at
        for assessment in manual:
            sides = set(Respondent.objects.filter(assessment=assessment).values_list("side", flat=True))
            assert sides == {"marketing", "sales"}
            assert assessment.summary["answered"] == 30 and assessment.summary["respondents"] == 2
        card = selectors.assessment_scorecard(manual[1])
        assert card.disagreements  # marketing and sales do not see it the same way
        assert manual[1].summary["overall"] > manual[0].summary["overall"]  # the re-diagnosis shows progress
        assert Assessment.objects.filter(kind="auto").count() == 1
    assert "diagnostics:" in out.getvalue()


def test_build_demo_without_a_sales_member_is_skipped(tenant, nurturing):
    from tests.factories import member

    member(tenant, "marketing")
    out = io.StringIO()
    with tenant_scope(tenant.id):
        build_demo(tenant=tenant, lead_count=10, stdout=out)
        assert not Assessment.objects.exists()
    assert "skipped" in out.getvalue()
