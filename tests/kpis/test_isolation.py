"""Tenant isolation of every KPI view, fragment, export and API route, generated from the URL conf."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import resolve

from kpis import api_urls, rollups, services
from kpis import urls as kpis_urls
from kpis.models import Ksf, ReviewLogEntry
from kpis.periods import Period
from kpis.planning import PlanInputs
from tenants.context import tenant_scope
from tenants.models import TenantAPIKey
from tenants.roles import CAPABILITIES
from tests.factories import member
from tests.kpis.factories import feedback, jst, lead

pytestmark = pytest.mark.django_db
PATTERNS = [(p.name, str(p.pattern)) for p in kpis_urls.urlpatterns]
SECRET = "RIVAL-SECRET"


def build(pattern: str, slug: str, *, pk: int, table: str = "channels") -> str:
    path = pattern.replace("<int:pk>", str(pk)).replace("<slug:table>", table)
    assert "<" not in path, f"add a value for {pattern}"
    return f"/t/{slug}/kpis/{path}"


@pytest.fixture
def theirs(other_tenant):
    """The other tenant: data, a plan with a KSF, spend and a review decision, all marked SECRET."""
    outsider = member(other_tenant, "admin", email="admin@rival.example")
    with tenant_scope(other_tenant.id):
        secret = lead(at=jst(2026, 6, 3), channel=SECRET, campaign=SECRET, name=SECRET, segment="hot", stage="mql")
        feedback(secret, "won", jst(2026, 6, 5), amount=7_777_777)
        rollups.refresh(full=True)
        year = Period("year", dt.date(2026, 4, 1))
        kgi = services.plan_save(
            period=year,
            actor=outsider,
            title=SECRET,
            inputs=PlanInputs(
                revenue_target=Decimal(10_000_000),
                avg_deal_size=Decimal(1_000_000),
                win_rate=Decimal(10),
                sql_to_opportunity_rate=Decimal(10),
                mql_to_sql_rate=Decimal(10),
                lead_to_mql_rate=Decimal(10),
            ),
        )
        ksf = services.ksf_save(kgi=kgi, title=SECRET, kpis=["mqls"], actor=outsider)
        services.spend_save(entries=[(SECRET, dt.date(2026, 6, 1), Decimal(12345))], actor=outsider)
        entry = services.review_entry_create(period=Period("month", dt.date(2026, 6, 1)), action=SECRET, actor=outsider)
    return {"ksf": ksf, "entry": entry}


def test_every_view_declares_a_capability():
    for name, pattern in PATTERNS:
        view = resolve(build(pattern, "acme", pk=1)).func
        assert getattr(view, "ondo_capability", None) in CAPABILITIES, name


@pytest.mark.parametrize(("name", "pattern"), PATTERNS, ids=[n for n, _p in PATTERNS])
def test_another_tenants_slug_answers_404(name, pattern, tenant, other_tenant, users, client_for, theirs):
    client = client_for(users["admin"])
    target = build(pattern, other_tenant.slug, pk=theirs["ksf"].pk)
    assert client.get(target).status_code == 404
    assert client.get(target, HTTP_HX_REQUEST="true").status_code == 404
    assert client.post(target, {"status": "done", "action": "x"}).status_code == 404


@pytest.mark.parametrize(("name", "pattern"), PATTERNS, ids=[n for n, _p in PATTERNS])
def test_my_pages_never_show_their_data(name, pattern, tenant, users, client_for, theirs):
    client = client_for(users["admin"])
    target = build(pattern, tenant.slug, pk=10**9)
    for response in (client.get(target), client.get(target + "?period=month&date=2026-06-01", HTTP_HX_REQUEST="true")):
        assert response.status_code in (200, 400, 404, 405), (name, response.status_code)
        assert SECRET.encode() not in response.content and b"7777777" not in response.content


@pytest.mark.parametrize("route", ["ksf_update", "ksf_delete", "review_status"])
def test_their_objects_under_my_slug_answer_404_and_stay_unchanged(route, tenant, users, client_for, theirs):
    client = client_for(users["admin"])
    pk = theirs["entry"].pk if route == "review_status" else theirs["ksf"].pk
    pattern = dict(PATTERNS)[route]
    response = client.post(
        build(pattern, tenant.slug, pk=pk),
        {"status": "done", "period": "year", "date": "2026-04-01", f"ksf{pk}-title": "hijack"},
    )
    assert response.status_code == 404
    with tenant_scope(theirs["ksf"].tenant_id):
        assert Ksf.objects.get(pk=theirs["ksf"].pk).title == SECRET
        assert ReviewLogEntry.objects.get(pk=theirs["entry"].pk).status == "open"


@pytest.mark.parametrize(
    "table",
    ["kpis", "funnel", "trend", "channels", "campaigns", "nurturing", "hot_leads", "review_log", "targets", "spend"],
)
def test_exports_contain_only_my_data(table, tenant, users, client_for, theirs):
    response = client_for(users["admin"]).get(f"/t/{tenant.slug}/kpis/export/{table}.csv?period=month&date=2026-06-01")
    assert response.status_code == 200
    assert SECRET.encode() not in response.content and b"7777777" not in response.content


API_ROUTES = [
    "/api/v1/kpis/summary/?period=month&date=2026-06-01",
    "/api/v1/kpis/targets/",
    "/api/v1/kpis/spend/",
    "/api/v1/kpis/review-log/",
]


def test_api_routes_are_covered():
    assert {str(p.pattern) for p in api_urls.urlpatterns} >= {"kpis/summary/"}


@pytest.mark.parametrize("route", API_ROUTES)
def test_api_key_sees_only_its_tenant(route, tenant, users, client, theirs):
    _key, plain = TenantAPIKey.objects.create_key(name="test", tenant=tenant)
    response = client.get(route, HTTP_AUTHORIZATION=f"Api-Key {plain}")
    assert response.status_code == 200
    assert SECRET.encode() not in response.content and b"7777777" not in response.content


def test_api_objects_of_another_tenant_are_404(tenant, users, client, theirs):
    _key, plain = TenantAPIKey.objects.create_key(name="test", tenant=tenant)
    response = client.get(f"/api/v1/kpis/review-log/{theirs['entry'].pk}/", HTTP_AUTHORIZATION=f"Api-Key {plain}")
    assert response.status_code == 404


def test_api_session_with_another_tenants_header_is_404(tenant, other_tenant, users, client_for, theirs):
    response = client_for(users["admin"]).get("/api/v1/kpis/targets/", HTTP_X_ONDO_TENANT=other_tenant.slug)
    assert response.status_code == 404
