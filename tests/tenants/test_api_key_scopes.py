"""API key scopes (#19 Medium 10): a write key (Segment, tag) only writes events and identifies;
reading leads and changing anything else needs a key with the `read` or `admin` scope."""

import base64
import json
import uuid

import pytest
from django.test import Client
from rest_framework.test import APIClient

from leads.models import Lead
from tenants.context import tenant_scope
from tenants.models import ApiScope, TenantAPIKey
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def key_with(tenant, *scopes: str) -> str:
    _key, plain = TenantAPIKey.objects.create_key(name="k", tenant=tenant, scopes=list(scopes))
    return plain


def client_with(plain: str, language: str = "en") -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE=language)
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {plain}")
    return client


@pytest.fixture
def lead(tenant):
    with tenant_scope(tenant.id):
        return LeadFactory(email="known@prospect.example.jp", title="担当")


class TestWriteKey:
    @pytest.fixture
    def api(self, tenant):
        return client_with(key_with(tenant, ApiScope.INGEST))

    def test_cannot_list_leads_and_gets_a_clear_english_error(self, api, lead):
        response = api.get("/api/v1/leads/")
        assert response.status_code == 403
        assert response.json() == {"detail": "This API key may not do this: it needs the “read” scope."}

    def test_error_is_japanese_for_japanese_callers(self, tenant, lead):
        response = client_with(key_with(tenant, ApiScope.INGEST), "ja").get("/api/v1/leads/")
        assert response.status_code == 403
        assert "このAPIキーには「read」スコープが必要です" in response.json()["detail"]

    def test_cannot_read_one_lead_or_its_activities(self, api, lead):
        assert api.get(f"/api/v1/leads/{lead.pk}/").status_code == 403
        assert api.get("/api/v1/activities/").status_code == 403

    def test_cannot_edit_a_lead(self, api, tenant, lead):
        response = api.patch(f"/api/v1/leads/{lead.pk}/", {"title": "社長"}, format="json")
        assert response.status_code == 403
        assert "admin" in response.json()["detail"]
        assert api.post(f"/api/v1/leads/{lead.pk}/stage/", {"stage": "sql"}, format="json").status_code == 403
        assert api.delete(f"/api/v1/leads/{lead.pk}/").status_code == 403
        with tenant_scope(tenant.id):
            assert Lead.objects.get(pk=lead.pk).title == "担当"

    def test_cannot_start_a_recompute(self, api):
        assert api.post("/api/v1/scoring/recompute/").status_code == 403

    def test_ingests_activities_and_identifies(self, api, tenant):
        item = {"email": "new@prospect.example.jp", "type": "page_view", "occurred_at": "2026-11-01T10:00:00Z"}
        body = {"items": [item]}
        response = api.post("/api/v1/activities/bulk/", body, format="json")
        assert response.status_code == 200, response.content
        assert response.json()["accepted"] == 1
        lead = {"email": "new@prospect.example.jp", "name": "新規"}
        response = api.post("/api/v1/leads/upsert/", lead, format="json")
        assert response.status_code in (200, 201), response.content
        response = api.post("/api/v1/leads/bulk/", {"items": [{"email": "b@prospect.example.jp"}]}, format="json")
        assert response.status_code == 200, response.content

    def test_sends_segment_batches(self, tenant):
        plain = key_with(tenant, ApiScope.INGEST)
        message = {
            "type": "identify",
            "messageId": str(uuid.uuid4()),
            "timestamp": "2026-11-01T10:00:00.000+09:00",
            "userId": "seg@prospect.example.jp",
            "traits": {"email": "seg@prospect.example.jp"},
        }
        auth = "Basic " + base64.b64encode(f"{plain}:".encode()).decode()
        response = Client().post(
            "/v1/batch", json.dumps({"batch": [message]}), content_type="application/json", HTTP_AUTHORIZATION=auth
        )
        assert response.status_code == 200, response.content


class TestReadKey:
    @pytest.fixture
    def api(self, tenant):
        return client_with(key_with(tenant, ApiScope.READ))

    def test_reads_leads(self, api, lead):
        assert api.get("/api/v1/leads/").status_code == 200
        assert api.get(f"/api/v1/leads/{lead.pk}/").status_code == 200

    def test_cannot_write_anything(self, api, tenant, lead):
        assert api.patch(f"/api/v1/leads/{lead.pk}/", {"title": "社長"}, format="json").status_code == 403
        assert api.post("/api/v1/leads/upsert/", {"email": "x@prospect.example.jp"}, format="json").status_code == 403
        assert api.post("/api/v1/scoring/recompute/").status_code == 403
        with tenant_scope(tenant.id):
            assert not Lead.objects.filter(email="x@prospect.example.jp").exists()

    def test_cannot_send_segment_batches(self, tenant):
        auth = "Basic " + base64.b64encode(f"{key_with(tenant, ApiScope.READ)}:".encode()).decode()
        response = Client().post(
            "/v1/batch", json.dumps({"batch": []}), content_type="application/json", HTTP_AUTHORIZATION=auth
        )
        assert response.status_code == 403
        assert response.json()["code"] == "forbidden"


def test_admin_key_edits_a_lead(tenant, lead):
    api = client_with(key_with(tenant, ApiScope.READ, ApiScope.ADMIN))
    assert api.patch(f"/api/v1/leads/{lead.pk}/", {"title": "社長"}, format="json").status_code == 200


def test_session_users_are_not_limited_by_scopes(tenant, users, client_for, lead):
    client = client_for(users["admin"])
    assert client.get("/api/v1/leads/", HTTP_X_ONDO_TENANT=tenant.slug).status_code == 200


def test_every_tenant_api_view_checks_the_key_scope():
    """One permission class on every API view: no view may drop it by setting its own permission_classes."""
    from django.urls import URLPattern, URLResolver, get_resolver

    from tenants.api import HasAPIKeyScope

    def views(patterns):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from views(pattern.url_patterns)
            elif isinstance(pattern, URLPattern):
                cls = getattr(pattern.callback, "cls", None) or getattr(pattern.callback, "view_class", None)
                if cls is not None and hasattr(cls, "permission_classes"):
                    yield cls

    api_views = list(views(get_resolver("config.api_urls").url_patterns))
    assert len(api_views) > 10
    for cls in api_views:
        assert HasAPIKeyScope in cls.permission_classes, cls


class TestKeyPage:
    def test_admin_creates_an_ingest_only_key_by_default(self, tenant, users, client_for):
        client = client_for(users["admin"])
        response = client.post(f"/t/{tenant.slug}/api-keys/", {"name": "Segment"})
        assert response.status_code == 200
        key = TenantAPIKey.objects.get(tenant=tenant, name="Segment")
        assert key.scopes == [ApiScope.INGEST]

    def test_admin_chooses_scopes_and_sees_them(self, tenant, users, client_for):
        client = client_for(users["admin"])
        client.post(f"/t/{tenant.slug}/api-keys/", {"name": "CRM", "scopes": ["read", "admin"]})
        key = TenantAPIKey.objects.get(tenant=tenant, name="CRM")
        assert sorted(key.scopes) == ["admin", "read"]
        page = client.get(f"/t/{tenant.slug}/api-keys/").content.decode()
        assert "読み取り" in page and "管理" in page

    def test_an_unknown_scope_is_refused_with_a_message(self, tenant, users, client_for):
        client = client_for(users["admin"])
        response = client.post(f"/t/{tenant.slug}/api-keys/", {"name": "Bogus", "scopes": ["superuser"]})
        assert response.status_code == 400
        assert not TenantAPIKey.objects.filter(tenant=tenant, name="Bogus").exists()
