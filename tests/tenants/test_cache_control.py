"""Responses carrying personal data are never stored by browsers or proxies (#19 Low): every tenant
page (full page, htmx fragment, CSV download, error) and every /api/ answer says `Cache-Control:
no-store`; static files, public pages and the ingest endpoints are left as they were."""

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from leads.models import Lead
from tenants.context import tenant_scope
from tenants.middleware import NoStoreMiddleware
from tenants.models import TenantAPIKey


def no_store(response) -> bool:
    return "no-store" in response.get("Cache-Control", "")


@pytest.fixture
def lead(tenant):
    with tenant_scope(tenant.pk):
        return Lead.objects.create(email="taro@prospect.example.jp", name="山田 太郎")


@pytest.mark.parametrize(
    "path",
    ["/t/acme/", "/t/acme/leads/", "/t/acme/leads/export/", "/t/acme/scoring/alerts/", "/t/acme/leads/999999/"],
)
def test_tenant_pages_are_no_store(path, tenant, users, lead, client_for):
    response = client_for(users["admin"]).get(path)
    assert response.status_code in (200, 302, 404), response.status_code
    assert no_store(response)
    assert "private" in response["Cache-Control"]


def test_the_lead_page_and_its_htmx_fragment_are_no_store(tenant, users, lead, client_for):
    client = client_for(users["sales"])
    page = client.get(f"/t/acme/leads/{lead.pk}/")
    fragment = client.get(f"/t/acme/leads/{lead.pk}/timeline/", HTTP_HX_REQUEST="true")
    assert page.status_code == 200 and "taro@prospect.example.jp" in page.content.decode()
    assert no_store(page)
    assert fragment.status_code == 200 and no_store(fragment)


def test_a_tenant_page_asked_for_by_a_stranger_is_no_store_too(tenant, client):
    response = client.get("/t/acme/leads/")
    assert response.status_code == 302
    assert no_store(response)


def test_api_answers_are_no_store(tenant, lead, client):
    _key, plain = TenantAPIKey.objects.create_key(name="crm", tenant=tenant)
    listing = client.get("/api/v1/leads/", HTTP_AUTHORIZATION=f"Api-Key {plain}")
    assert listing.status_code == 200 and "taro@prospect.example.jp" in listing.content.decode()
    assert no_store(listing)
    unauthenticated = client.get("/api/v1/leads/")
    assert unauthenticated.status_code in (401, 403) and no_store(unauthenticated)


def test_a_views_own_public_caching_is_overridden_on_tenant_paths():
    def view(request):
        response = HttpResponse("personal data")
        response["Cache-Control"] = "public, max-age=3600"
        return response

    response = NoStoreMiddleware(view)(RequestFactory().get("/t/acme/leads/"))
    assert "public" not in response["Cache-Control"] and no_store(response)


@pytest.mark.parametrize("path", ["/healthz/", "/static/css/ondo.css"])
def test_static_files_and_public_pages_are_untouched(path, db, client):
    response = client.get(path)
    assert response.status_code == 200
    assert not no_store(response)


@pytest.mark.parametrize("path", ["/", "/accounts/login/", "/f/acme/contact/", "/v1/batch", "/static/css/ondo.css"])
def test_other_paths_keep_the_caching_their_view_chose(path):
    def view(request):
        response = HttpResponse("public")
        response["Cache-Control"] = "public, max-age=60"
        return response

    response = NoStoreMiddleware(view)(RequestFactory().get(path))
    assert response["Cache-Control"] == "public, max-age=60"
