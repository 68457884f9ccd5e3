"""KPI API: summary figures, spend writes (role-checked, validated), review log entries."""

import datetime as dt
from decimal import Decimal

import pytest

from kpis import rollups
from kpis.models import ChannelSpend, ReviewLogEntry
from tenants.context import tenant_scope
from tests.factories import member
from tests.kpis.factories import feedback, jst, lead, stage

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(tenant, users, client_for):
    client = client_for(users["marketing"])
    client.defaults["HTTP_X_ONDO_TENANT"] = tenant.slug
    return client


def test_summary(tenant, users, api):
    with tenant_scope(tenant.id):
        a = lead(at=jst(2026, 6, 3))
        stage(a, "mql", jst(2026, 6, 4))
        feedback(a, "won", jst(2026, 6, 5), amount=1_000_000)
        rollups.refresh(full=True)
    body = api.get("/api/v1/kpis/summary/?period=month&date=2026-06-10").json()
    assert body["period"]["start"] == "2026-06-01" and body["period"]["kind"] == "month"
    values = {row["code"]: row for row in body["kpis"]}
    assert Decimal(values["leads"]["actual"]) == 1 and Decimal(values["revenue"]["actual"]) == 1000000
    assert api.get("/api/v1/kpis/summary/?period=decade").status_code == 400


def test_spend_write_and_validation(tenant, users, api, client_for):
    ok = api.post("/api/v1/kpis/spend/", {"channel": "seo", "month": "2026-06-15", "amount": "120000"})
    assert ok.status_code == 201 and ok.json()["month"] == "2026-06-01"
    again = api.post("/api/v1/kpis/spend/", {"channel": "seo", "month": "2026-06-01", "amount": "90000"})
    assert again.status_code == 201
    bad = api.post("/api/v1/kpis/spend/", {"channel": "seo", "month": "2026-06-01", "amount": "-5"})
    assert bad.status_code == 400
    sales = client_for(users["sales"])
    denied = sales.post(
        "/api/v1/kpis/spend/", {"channel": "seo", "month": "2026-06-01", "amount": "1"}, HTTP_X_ONDO_TENANT=tenant.slug
    )
    assert denied.status_code == 403
    with tenant_scope(tenant.id):
        assert list(ChannelSpend.objects.values_list("amount", flat=True)) == [Decimal(90000)]


def test_review_log_entries(tenant, other_tenant, users, api):
    outsider = member(other_tenant, "sales", email="x@rival.example")
    created = api.post(
        "/api/v1/kpis/review-log/",
        {
            "period_type": "month",
            "period_start": "2026-06-01",
            "kpi": "mqls",
            "action": "MQL定義を見直す",
            "owner": users["sales"].pk,
            "due_on": "2026-07-01",
        },
    )
    assert created.status_code == 201
    foreign = api.post(
        "/api/v1/kpis/review-log/",
        {"period_type": "month", "period_start": "2026-06-01", "action": "x", "owner": outsider.pk},
    )
    assert foreign.status_code == 400
    with tenant_scope(tenant.id):
        assert ReviewLogEntry.objects.count() == 1
        assert ReviewLogEntry.objects.get().period_start == dt.date(2026, 6, 1)


@pytest.mark.parametrize("day", ["0001-01-05", "9999-12-31"])
def test_dates_outside_the_supported_range_are_a_clear_400(api, day):
    """A review-log entry or a spend row for year 1 or 9999 is refused with a message (no period math on it)."""
    review = api.post(
        "/api/v1/kpis/review-log/",
        {"period_type": "quarter", "period_start": day, "action": "見直す"},
        format="json",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert review.status_code == 400
    assert review.json()["period_start"] == ["2000年から2100年までの日付を選んでください。"]  # the user's language
    spend = api.post(
        "/api/v1/kpis/spend/",
        {"channel": "seo", "month": day, "amount": 1000},
        format="json",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert spend.status_code == 400
