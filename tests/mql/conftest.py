import pytest

from tests.factories import member


@pytest.fixture
def sales2(tenant):
    return member(tenant, "sales", email="sales2@acme.example")
