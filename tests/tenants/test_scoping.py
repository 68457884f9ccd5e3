"""Tenant scoping: one mechanism makes every tenant-owned query scoped."""

import pytest

from leads.models import Lead
from tenants.context import TenantContextMissing, platform_scope, tenant_scope
from tests.factories import LeadFactory


@pytest.mark.django_db
class TestScopedManager:
    def test_unscoped_query_of_tenant_owned_model_raises(self, tenant):
        with pytest.raises(TenantContextMissing):
            list(Lead.objects.all())

    def test_create_without_tenant_raises(self, tenant):
        with pytest.raises(TenantContextMissing):
            Lead.objects.create(email="x@example.jp")

    def test_queries_see_only_the_active_tenant(self, tenant, other_tenant):
        with tenant_scope(tenant.id):
            LeadFactory(email="mine@example.jp")
        with tenant_scope(other_tenant.id):
            LeadFactory(email="theirs@example.jp")
            assert list(Lead.objects.values_list("email", flat=True)) == ["theirs@example.jp"]
        with tenant_scope(tenant.id):
            assert list(Lead.objects.values_list("email", flat=True)) == ["mine@example.jp"]
            assert not Lead.objects.filter(email="theirs@example.jp").exists()

    def test_saving_another_tenants_row_is_refused(self, tenant, other_tenant):
        with tenant_scope(other_tenant.id):
            theirs = LeadFactory()
        with tenant_scope(tenant.id):
            theirs.name = "overwritten"
            with pytest.raises(TenantContextMissing):
                theirs.save()

    def test_bulk_create_fills_the_active_tenant(self, tenant):
        with tenant_scope(tenant.id):
            Lead.objects.bulk_create([Lead(email=f"b{i}@example.jp") for i in range(3)])
            assert set(Lead.objects.values_list("tenant_id", flat=True)) == {tenant.id}

    def test_platform_bypass_is_explicit(self, tenant, other_tenant):
        with tenant_scope(tenant.id):
            LeadFactory()
        with tenant_scope(other_tenant.id):
            LeadFactory()
        with platform_scope("test: counting across tenants"):
            assert Lead.objects.count() == 2

    def test_scope_sets_the_database_tenant_setting(self, tenant):
        from django.db import connection

        with tenant_scope(tenant.id), connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('app.tenant_id', true)")
            assert cursor.fetchone()[0] == str(tenant.id)


@pytest.mark.django_db
class TestTenantUrls:
    def test_member_of_a_gets_404_for_tenant_b_pages(self, tenant, other_tenant, users, client_for):
        client = client_for(users["admin"])
        assert client.get(f"/t/{tenant.slug}/members/").status_code == 200
        assert client.get(f"/t/{other_tenant.slug}/members/").status_code == 404
        assert client.get("/t/no-such-tenant/members/").status_code == 404

    def test_anonymous_is_sent_to_login(self, tenant, client):
        response = client.get(f"/t/{tenant.slug}/members/")
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]

    def test_tenant_home_redirects_to_dashboard(self, tenant, users, client_for):
        response = client_for(users["viewer"]).get(f"/t/{tenant.slug}/")
        assert response.status_code == 302
        assert response["Location"] == f"/t/{tenant.slug}/kpis/dashboard/"

    def test_home_sends_user_to_their_tenant(self, tenant, users, client_for):
        response = client_for(users["sales"]).get("/")
        assert response["Location"] == f"/t/{tenant.slug}/"

    def test_user_of_several_tenants_switches_between_them(self, tenant, other_tenant, users, client_for):
        from tenants.models import Membership

        user = users["marketing"]
        Membership.objects.create(user=user, tenant=other_tenant, role="viewer")
        client = client_for(user)
        page = client.get(f"/t/{other_tenant.slug}/kpis/dashboard/")
        assert page.status_code == 200
        assert f"/t/{tenant.slug}/" in page.content.decode()  # the switcher lists both
        assert client.get("/")["Location"] == f"/t/{other_tenant.slug}/"  # remembers the last one
