"""The demo builder: a plan, spend, KSFs, review decisions — on top of whatever leads exist."""

import io

import pytest

from kpis import demo
from kpis.models import ChannelSpend, Kgi, KpiTarget, Ksf, ReviewLogEntry
from tenants.context import tenant_scope
from tests.kpis.factories import activity, feedback, jst, lead, stage

pytestmark = pytest.mark.django_db


def test_build_demo(tenant, users):
    with tenant_scope(tenant.id):
        for i in range(12):
            x = lead(at=jst(2026, 5 + i % 6, 1 + i), channel=["seo", "webinar", "event"][i % 3])
            activity(x, "email_open", jst(2026, 5 + i % 6, 2 + i))
            if i % 2:
                stage(x, "mql", jst(2026, 5 + i % 6, 3 + i))
            if i % 4 == 1:
                feedback(x, "won", jst(2026, 5 + i % 6, 5 + i), amount=1_500_000)
        out = io.StringIO()
        demo.build_demo(tenant=tenant, lead_count=12, stdout=out)
        assert Kgi.objects.count() == 1 and KpiTarget.objects.filter(kpi="revenue").exists()
        assert Ksf.objects.count() == 3 and ChannelSpend.objects.exists()
        assert ReviewLogEntry.objects.count() == 3
    assert "kpis: plan" in out.getvalue()


def test_build_demo_without_leads(tenant, users):
    with tenant_scope(tenant.id):
        demo.build_demo(tenant=tenant, lead_count=0, stdout=io.StringIO())
        assert Kgi.objects.get().target_value == 50_000_000  # the seed's ¥50億 × 1 %
