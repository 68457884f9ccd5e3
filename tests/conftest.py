import os
from pathlib import Path

import pytest
from django.test import Client

from tenants.context import tenant_scope
from tenants.models import Role

from .factories import TenantFactory, member


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """`@pytest.mark.app_role`: the test body runs as the application's database role, with
    row-level security applying as in production (fixtures still set up data as the owner). A task
    step that runs outside its tenant's context then sees no rows here too, instead of passing
    because the suite's own role ignores row-level security."""
    if item.get_closest_marker("app_role") is None:
        return (yield)
    from .reliability.approle import body_as_app_role

    transactional = "transactional_db" in item.fixturenames or "live_server" in item.fixturenames
    marker = item.get_closest_marker("django_db")
    transactional = transactional or bool(marker and marker.kwargs.get("transaction"))
    with body_as_app_role(transactional=transactional):
        return (yield)


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


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]


@pytest.fixture(scope="session")
def browser():
    """One headless Debian Chromium for every browser test (one sync Playwright per thread)."""
    from playwright.sync_api import sync_playwright

    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (CI: .ci/run installs it)")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()
