"""Layer 2 of tenant isolation, alone: PostgreSQL row-level security.

The application's scoping (layer 1) is bypassed on purpose: raw SQL as the application's database
role. The test database is owned by the superuser pytest connects as, and superusers bypass RLS,
so these tests connect as the app role (not owner, not superuser) explicitly.
"""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection
from psycopg import sql

from leads.models import Lead
from tenants import rls
from tenants.context import platform_scope, tenant_scope

from .conftest import app_role_connection, django_connection_as_app_role
from .objects import diff, existing_tenant_owned_models, snapshot

pytestmark = pytest.mark.django_db(transaction=True)

APPEND_ONLY_TABLES = {"tenants_auditevent"}  # the app role may only INSERT (and read) there


def _tables() -> list[str]:
    existing = set(connection.introspection.table_names())
    return [table for table in rls.tenant_owned_tables() if table in existing]


def _set_tenant(cursor, tenant_id) -> None:
    cursor.execute("SELECT set_config('app.tenant_id', %s, true)", [str(tenant_id)])


def test_the_app_role_is_subject_to_rls(committed_world):
    with app_role_connection() as raw, raw.cursor() as cursor:
        cursor.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        assert cursor.fetchone() == (False, False)
        cursor.execute("SELECT count(*) FROM pg_tables WHERE tableowner = current_user")
        assert cursor.fetchone()[0] == 0, "the app role must not own tables (owners bypass RLS)"


def test_without_a_tenant_setting_no_row_is_visible(committed_world):
    with app_role_connection() as raw, raw.cursor() as cursor:
        for table in _tables():
            cursor.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
            assert cursor.fetchone()[0] == 0, f"{table}: rows visible with no tenant set"


def test_in_tenant_a_no_row_of_tenant_b_is_visible_or_writable(committed_world):
    world = committed_world
    a, b = world.a.id, world.b.id
    before = snapshot(world.b)
    populated = sorted({model._meta.db_table for model in existing_tenant_owned_models()})
    with app_role_connection() as raw:
        for table in populated:
            ident = sql.Identifier(table)
            with raw.transaction(), raw.cursor() as cursor:
                _set_tenant(cursor, a)
                cursor.execute(
                    sql.SQL("SELECT count(*), count(*) FILTER (WHERE tenant_id = %s) FROM {}").format(ident), [a]
                )
                total, own = cursor.fetchone()
                assert total == own >= 1, f"{table}: sees {total} rows, {own} of its own tenant"
                cursor.execute(sql.SQL("SELECT count(*) FROM {} WHERE tenant_id = %s").format(ident), [b])
                assert cursor.fetchone()[0] == 0, f"{table}: tenant B's rows are visible from tenant A"
                if table in APPEND_ONLY_TABLES:
                    continue  # no UPDATE or DELETE at all: see the append-only test below
                cursor.execute(sql.SQL("UPDATE {} SET tenant_id = tenant_id WHERE tenant_id = %s").format(ident), [b])
                assert cursor.rowcount == 0, f"{table}: tenant B's rows are updatable from tenant A"
                cursor.execute(sql.SQL("DELETE FROM {} WHERE tenant_id = %s").format(ident), [b])
                assert cursor.rowcount == 0, f"{table}: tenant B's rows are deletable from tenant A"
            # Writing a row into tenant B, or moving one of A's rows there, violates the policy.
            columns = _columns(raw, table)
            copy = sql.SQL("INSERT INTO {t} ({cols}) SELECT {vals} FROM {t} WHERE tenant_id = %s LIMIT 1").format(
                t=ident,
                cols=sql.SQL(", ").join(sql.Identifier(c) for c in columns),
                vals=sql.SQL(", ").join(sql.Literal(b) if c == "tenant_id" else sql.Identifier(c) for c in columns),
            )
            for statement, params in (
                (copy, [a]),
                (sql.SQL("UPDATE {} SET tenant_id = %s WHERE tenant_id = %s").format(ident), [b, a]),
            ):
                refused = (
                    "permission denied" if table in APPEND_ONLY_TABLES and params == [b, a] else "row-level security"
                )
                with pytest.raises(psycopg.errors.InsufficientPrivilege, match=refused):
                    with raw.transaction(), raw.cursor() as cursor:
                        _set_tenant(cursor, a)
                        cursor.execute(statement, params)
    assert diff(before, snapshot(world.b)) == []


def _columns(raw, table: str) -> list[str]:
    """Columns to copy: all but identity/serial ones (those take their default)."""
    with raw.cursor() as cursor:
        cursor.execute(
            """SELECT column_name FROM information_schema.columns
               WHERE table_schema = current_schema() AND table_name = %s
                 AND is_identity = 'NO' AND coalesce(column_default, '') NOT LIKE 'nextval(%%'
               ORDER BY ordinal_position""",
            [table],
        )
        return [row[0] for row in cursor.fetchall()]


def test_the_setting_ends_with_the_transaction(committed_world):
    with app_role_connection() as raw:
        with raw.transaction(), raw.cursor() as cursor:
            _set_tenant(cursor, committed_world.a.id)
            cursor.execute("SELECT array_agg(DISTINCT tenant_id) FROM leads_lead")
            assert cursor.fetchone()[0] == [committed_world.a.id]
        with raw.cursor() as cursor:  # next transaction on the same (pooled) connection
            cursor.execute("SELECT current_setting('app.tenant_id', true), count(*) FROM leads_lead")
            assert cursor.fetchone() == ("", 0)


def test_platform_bypass_sees_every_tenant_only_while_on(committed_world):
    with app_role_connection() as raw:
        with raw.transaction(), raw.cursor() as cursor:
            cursor.execute("SELECT set_config('app.bypass_rls', 'on', true)")
            cursor.execute("SELECT count(DISTINCT tenant_id) FROM leads_lead")
            assert cursor.fetchone()[0] == 2
        with raw.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM leads_lead")
            assert cursor.fetchone()[0] == 0


def test_a_superuser_connection_would_bypass_rls(committed_world):
    """Why the app must not connect as the owner/superuser: the same query sees everything."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        assert cursor.fetchone()[0] is True
        cursor.execute("SELECT count(DISTINCT tenant_id) FROM leads_lead")
        assert cursor.fetchone()[0] == 2


class TestScopesDriveRls:
    """tenant_scope()/platform_scope() set what the policies read; checked with the ORM's
    unscoped manager (layer 1 off) on Django's connection switched to the app role."""

    def _visible_tenants(self):
        return set(Lead.unscoped_for_platform.values_list("tenant_id", flat=True))

    def test_scopes(self, committed_world):
        a, b = committed_world.a.id, committed_world.b.id
        from django.db import transaction

        with transaction.atomic(), django_connection_as_app_role():
            assert self._visible_tenants() == set()
            with tenant_scope(a):
                assert self._visible_tenants() == {a}
                with tenant_scope(b):
                    assert self._visible_tenants() == {b}
                assert self._visible_tenants() == {a}, "leaving a nested scope restores the outer tenant"
                with platform_scope("test: cross-tenant read"):
                    assert self._visible_tenants() == {a, b}
                assert self._visible_tenants() == {a}, "the bypass ends with the platform scope"
            assert self._visible_tenants() == set()
            with platform_scope("test: fan-out"):
                assert self._visible_tenants() == {a, b}
            assert self._visible_tenants() == set()

    def test_orm_writes_into_another_tenant_are_refused_by_the_database(self, committed_world):
        from django.db import transaction
        from django.db.utils import ProgrammingError

        with transaction.atomic(), django_connection_as_app_role(), tenant_scope(committed_world.a.id):
            with pytest.raises(ProgrammingError, match="row-level security"), transaction.atomic():
                # Layer 1 bypassed: the base manager does not fill or check the tenant.
                Lead.unscoped_for_platform.bulk_create(
                    [Lead(tenant_id=committed_world.b.id, email="smuggled@example.jp")]
                )
            assert Lead.unscoped_for_platform.filter(tenant_id=committed_world.b.id).update(name="x") == 0


def test_the_audit_trail_is_append_only_for_the_app_role(committed_world):
    """The app can record what happened in its tenant, never rewrite or erase it (#19 Low)."""
    from tenants.models import AuditEvent
    from tenants.services import audit_record

    world = committed_world
    with tenant_scope(world.a.id):
        audit_record(action="test.recorded", actor=world.users_a["admin"], target="x")
        before = AuditEvent.objects.count()
    with app_role_connection() as raw:
        for statement in (
            "DELETE FROM tenants_auditevent",
            "UPDATE tenants_auditevent SET action = 'rewritten'",
            "TRUNCATE tenants_auditevent",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege), raw.transaction(), raw.cursor() as cursor:
                _set_tenant(cursor, world.a.id)
                cursor.execute(statement)
        with raw.transaction(), raw.cursor() as cursor:
            _set_tenant(cursor, world.a.id)
            cursor.execute(
                "INSERT INTO tenants_auditevent (tenant_id, action, target, data, created_at)"
                " VALUES (%s, 'app.appended', '', '{}', now())",
                [world.a.id],
            )
    with tenant_scope(world.a.id):
        assert AuditEvent.objects.count() == before + 1
        assert not AuditEvent.objects.filter(action="rewritten").exists()
