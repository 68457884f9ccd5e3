import pytest
from rest_framework.test import APIClient

from tenants.models import TenantAPIKey


def make_key(tenant, name="integration") -> str:
    _key, plain = TenantAPIKey.objects.create_key(name=name, tenant=tenant)
    return plain


@pytest.fixture
def api_key(tenant):
    return make_key(tenant)


@pytest.fixture
def other_api_key(other_tenant):
    return make_key(other_tenant)


def key_client(plain: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {plain}")
    return client


@pytest.fixture
def api(api_key):
    """An API client authenticated with a key of `tenant`."""
    return key_client(api_key)


@pytest.fixture
def other_api(other_api_key):
    return key_client(other_api_key)
