"""Fixtures of the reliability suite: two tenants with one object of every tenant-owned model each,
API keys, and connections as the application's database role (row-level security applies)."""

from __future__ import annotations

import contextlib

import psycopg
import pytest
from django.core.cache import cache
from django.db import connection

from tenants.context import tenant_scope
from tenants.models import Role, TenantAPIKey, TenantOwned
from tenants.rls import app_role
from tests.factories import TenantFactory, member

from .objects import build_realistic_data, build_tenant_objects, mark_text_fields

MARKER_A = "QZXA7"
MARKER_B = "QZXB9"


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Throttle and lockout counters live in the cache: each test starts with none."""
    cache.clear()
    yield
    cache.clear()


def app_role_conninfo() -> str:
    params = connection.settings_dict
    return psycopg.conninfo.make_conninfo(
        host=params.get("HOST") or "127.0.0.1",
        port=str(params.get("PORT") or 5432),
        dbname=params["NAME"],
        user=app_role(),
        password=params.get("PASSWORD") or None,
    )


@contextlib.contextmanager
def app_role_connection():
    """A raw psycopg connection to the test database as the app role (not owner, not superuser)."""
    with psycopg.connect(app_role_conninfo(), autocommit=False) as raw:
        yield raw


@contextlib.contextmanager
def django_connection_as_app_role():
    """Run Django's own connection as the app role inside the test's transaction (SET LOCAL ROLE):
    everything in the block is subject to row-level security, like production."""
    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL ROLE {connection.ops.quote_name(app_role())}")
    try:
        yield
    finally:
        if not connection.needs_rollback:
            with connection.cursor() as cursor:
                cursor.execute("RESET ROLE")


class World:
    """Tenant A (the attacker's side: a user per role and an API key) and tenant B (the victim).

    Both get realistic data when `realistic` (new-tenant defaults and the apps' demo data, small);
    then every tenant-owned model gets at least one row in each tenant (generic rows, built from
    model metadata: tests/reliability/objects.py). B additionally gets one generic, marked row of
    every model (numbers 907: per-tenant numbers such as versions differ from A's) and the marker
    appended to every free-text value, so a leak of any B row is recognisable."""

    def __init__(self, *, realistic: bool = False):
        self.a = TenantFactory(slug="acme", name="株式会社アクメ")
        self.b = TenantFactory(slug="rival", name="ライバル株式会社")
        self.users_a = {role: member(self.a, role, email=f"{role}@acme.example") for role in Role.values}
        self.users_b = {role: member(self.b, role, email=f"{role}@rival.example") for role in Role.values}
        self.build_failures: list[str] = []
        if realistic:
            self.build_failures += build_realistic_data(self.a)
            self.build_failures += build_realistic_data(self.b)
        self.objects_a = build_tenant_objects(
            self.a, marker=MARKER_A, user=self.users_a["admin"], only_missing=realistic
        )
        self.objects_b = build_tenant_objects(self.b, marker=MARKER_B, user=self.users_b["admin"], number=907)
        if realistic:
            mark_text_fields(self.b, MARKER_B)
        self.key_a, self.plain_key_a = TenantAPIKey.objects.create_key(name="a-integration", tenant=self.a)
        self.key_b, self.plain_key_b = TenantAPIKey.objects.create_key(name="b-integration", tenant=self.b)

    def tenant(self, side: str):
        return self.a if side == "a" else self.b

    def users(self, side: str) -> dict:
        return self.users_a if side == "a" else self.users_b

    def objects(self, side: str) -> dict:
        return self.objects_a if side == "a" else self.objects_b

    def object_of(self, model, side: str):
        """The side's object of `model`; platform models: their admin's membership, their API key,
        or (global catalogue tables) the first row."""
        from tenants.models import Membership

        if model in self.objects(side):
            return self.objects(side)[model]
        if model is Membership:
            return Membership.objects.get(tenant=self.tenant(side), user=self.users(side)["admin"])
        if model is TenantAPIKey:
            return self.key_a if side == "a" else self.key_b
        if not issubclass(model, TenantOwned):
            return model._default_manager.order_by("pk").first()
        return None

    def scope_a(self):
        return tenant_scope(self.a.id)


@pytest.fixture
def world(db):
    return World()


@pytest.fixture
def realistic_committed_world(transactional_db):
    return World(realistic=True)


@pytest.fixture(scope="module")
def realistic_world(django_db_setup, django_db_blocker):
    """A realistic world shared by a module's tests (building it takes seconds): created in a
    transaction rolled back after the module; each test runs in a savepoint inside it (request
    `db` too, or use a module's `world` override that does)."""
    from django.db import transaction

    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            yield World(realistic=True)
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture
def committed_world(transactional_db):
    """The same world, committed: visible to other connections (raw app-role connections, live server)."""
    return World()
