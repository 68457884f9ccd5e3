import pytest
from django.test import Client

from tenants.context import tenant_scope
from tenants.models import Role

from .factories import TenantFactory, member


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters live in the (real) Redis cache: start every test clean."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture
def tenant(db):
    return TenantFactory(slug="acme", name="株式会社アクメ")


@pytest.fixture
def other_tenant(db):
    return TenantFactory(slug="rival", name="ライバル株式会社")


@pytest.fixture
def users(tenant):
    """One member of `tenant` per role."""
    return {role: member(tenant, role, email=f"{role}@acme.example") for role in Role.values}


def login_client(user) -> Client:
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


@pytest.fixture
def client_for():
    return login_client


@pytest.fixture
def scoped(tenant):
    """Run the test body as `tenant` (like a task does)."""
    with tenant_scope(tenant.id):
        yield tenant
