"""The database schema keeps tenants apart: every tenant-owned table carries tenant_id, row-level
security and tenant-including unique constraints; every other table is a known platform table.

Read from the PostgreSQL catalogs of the migrated test database, so tables added by any app (or
by hand-written SQL in a migration) are checked without anyone listing them here — except a new
platform table, which must be added to PLATFORM_TABLES below with the reason it holds no tenant data.
"""

from __future__ import annotations

import pytest
from django.db import connection

from tenants import rls

pytestmark = pytest.mark.django_db

# Tables that are deliberately not tenant-owned, and why. Anything else must be tenant-owned.
PLATFORM_TABLES = {
    "tenants_tenant": "the tenants themselves",
    "tenants_user": "people log in once and may belong to several tenants",
    "tenants_user_groups": "Django auth plumbing of users (unused groups)",
    "tenants_user_user_permissions": "Django auth plumbing of users (operators' admin permissions)",
    "tenants_membership": "resolves a request's tenant and role before a tenant is active",
    "tenants_tenantapikey": "looked up by key prefix to find the tenant of an API call (only hashes stored)",
    "rest_framework_api_key_apikey": "the library's concrete model, unused (TenantAPIKey replaces it)",
    "auth_group": "Django auth plumbing",
    "auth_group_permissions": "Django auth plumbing",
    "auth_permission": "Django auth plumbing",
    "django_content_type": "Django model registry",
    "django_migrations": "migration history",
    "django_session": "login sessions (per user, not per tenant)",
    "django_admin_log": "operators' Django admin history (platform staff only)",
    "account_emailaddress": "allauth: a user's login email",
    "account_emailconfirmation": "allauth: email confirmation keys of users",
    "axes_accessattempt": "brute-force protection: failed logins per account and IP",
    "axes_accessattemptexpiration": "brute-force protection: lockout expiry",
    "axes_accessfailurelog": "brute-force protection: failure log",
    "axes_accesslog": "brute-force protection: login log",
    "diagnostics_checklisttemplate": "the published diagnosis checklists, the same for every tenant",
    "diagnostics_checklistcategory": "categories of the published checklists (global catalogue)",
    "diagnostics_checklistitem": "items of the published checklists (global catalogue)",
}


def _rows(query: str, params=None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(query, params or [])
        return cursor.fetchall()


def _all_tables() -> set[str]:
    return {
        row[0]
        for row in _rows(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
        )
    }


def _secured_tables() -> list[str]:
    existing = _all_tables()
    return [table for table in rls.tenant_owned_tables() if table in existing]


def test_every_table_is_tenant_owned_or_a_known_platform_table():
    unknown = sorted(_all_tables() - set(_secured_tables()) - set(PLATFORM_TABLES))
    assert not unknown, (
        f"Tables that are neither tenant-owned nor known platform tables: {unknown}. Customer data must live in "
        "TenantOwned models (tenants.models). A genuinely global table goes into PLATFORM_TABLES in "
        "tests/reliability/test_schema.py with the reason it holds no tenant's data."
    )


def test_platform_whitelist_has_no_stale_entries():
    stale = sorted(set(PLATFORM_TABLES) - _all_tables())
    assert not stale, f"PLATFORM_TABLES lists tables that no longer exist: {stale}"


def test_every_tenant_owned_model_table_has_a_not_null_tenant_id():
    """(A foreign key to tenants_tenant is usual but not required: rollup tables may drop it for speed.)"""
    from .objects import existing_tenant_owned_models

    problems = []
    for table in sorted({model._meta.db_table for model in existing_tenant_owned_models()}):
        found = _rows(
            """SELECT a.attnotnull,
                      EXISTS (SELECT 1 FROM pg_constraint f WHERE f.conrelid = a.attrelid AND f.contype = 'f'
                              AND f.conkey = ARRAY[a.attnum] AND f.confrelid = 'tenants_tenant'::regclass)
               FROM pg_attribute a WHERE a.attrelid = to_regclass(%s) AND a.attname = 'tenant_id'""",
            [table],
        )
        if not found:
            problems.append(f"{table}: no tenant_id column")
        elif not found[0][0]:
            problems.append(f"{table}: tenant_id is nullable")
    assert not problems, "\n".join(problems)


def test_every_tenant_owned_table_has_forced_rls_with_the_tenant_policy():
    problems = []
    for state in rls.table_states():
        if not state.exists:
            continue
        if not (state.rls and state.forced):
            problems.append(f"{state.table}: row level security enabled={state.rls} forced={state.forced}")
        if state.policies != {rls.TENANT_POLICY, rls.BYPASS_POLICY}:
            problems.append(f"{state.table}: policies {sorted(state.policies)}")
        if state.other_policies:
            problems.append(f"{state.table}: unexpected permissive policies {sorted(state.other_policies)}")
        if not state.app_role_can_write:
            problems.append(f"{state.table}: the app role {rls.app_role()} has no DML grant")
    assert not problems, "\n".join(problems) + "\nRun manage.py apply_rls (it also runs after every migrate)."
    policies = _rows(
        "SELECT tablename, policyname, qual, with_check FROM pg_policies WHERE schemaname = current_schema()"
        " AND policyname = %s",
        [rls.TENANT_POLICY],
    )
    assert {row[0] for row in policies} >= set(_secured_tables())
    for table, _name, qual, with_check in policies:
        assert "current_setting('app.tenant_id'" in qual and "NULLIF" in qual, (table, qual)
        assert qual == with_check, table


def test_every_unique_constraint_and_index_of_a_tenant_table_includes_tenant_id():
    """A unique constraint without tenant_id leaks existence across tenants (an insert fails because
    another tenant has the value) and blocks distributing by tenant. Primary keys on `id` alone are
    the documented exception (docs/deploy.md: widened to (tenant_id, id) before distributing)."""
    problems = []
    for table in _secured_tables():
        for index, definition, includes_tenant, is_primary in _rows(
            """SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid),
                      EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = i.indrelid AND a.attname = 'tenant_id'
                              AND a.attnum = ANY(i.indkey[0:i.indnkeyatts - 1])),
                      i.indisprimary
               FROM pg_index i WHERE i.indrelid = to_regclass(%s) AND i.indisunique""",
            [table],
        ):
            if includes_tenant:
                continue
            if is_primary and definition.endswith("(id)"):
                continue
            problems.append(f"{table}: {index}: {definition}")
        for name, definition in _rows(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = to_regclass(%s) "
            "AND contype = 'x' AND pg_get_constraintdef(oid) NOT LIKE '%%tenant_id%%'",
            [table],
        ):
            problems.append(f"{table}: exclusion constraint {name}: {definition}")
    assert not problems, "Unique constraints/indexes without tenant_id:\n" + "\n".join(problems)


def test_every_tenant_owned_table_has_an_index_led_by_tenant_id():
    """Leads and activities skip the foreign key's own one-column index on tenant_id (one index less to write per
    row); what makes that safe is that some index leads with tenant_id on every tenant table: deleting a tenant
    and reading one tenant's rows never scan the others'."""
    missing = [
        table
        for table in _secured_tables()
        if not _rows(
            """SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
               WHERE i.indrelid = to_regclass(%s) AND a.attname = 'tenant_id' AND i.indpred IS NULL""",
            [table],
        )
    ]
    assert not missing, f"Tenant tables without an index whose first column is tenant_id: {missing}"


def test_leads_and_activities_carry_no_redundant_one_column_tenant_index():
    redundant = _rows(
        """SELECT i.indexrelid::regclass::text FROM pg_index i
           JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
           WHERE i.indrelid IN ('leads_lead'::regclass, 'leads_activity'::regclass)
             AND a.attname = 'tenant_id' AND i.indnatts = 1"""
    )
    assert redundant == []


def test_no_platform_table_references_tenant_owned_rows():
    """An automatic many-to-many table (or a model that forgot TenantOwned) pointing at tenant rows
    would hold tenant data outside row-level security."""
    secured = set(_secured_tables())
    references = _rows(
        "SELECT conrelid::regclass::text, confrelid::regclass::text, conname FROM pg_constraint WHERE contype = 'f'"
    )
    leaks = sorted(
        f"{source} -> {target} ({name})"
        for source, target, name in references
        if target in secured and source not in secured
    )
    assert not leaks, "Non-tenant tables referencing tenant-owned rows:\n" + "\n".join(leaks)


def test_no_view_or_materialized_view_exposes_tenant_rows_around_rls():
    """Views run with their owner's rights unless security_invoker is set, and materialized views
    cannot have policies: both would serve every tenant's rows to the app role."""
    exposed = _rows(
        """SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = current_schema() AND c.relkind IN ('v', 'm')
             AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id')
             AND NOT (c.relkind = 'v' AND coalesce(c.reloptions, '{}') @> ARRAY['security_invoker=true'])"""
    )
    assert not exposed, f"Views/materialized views with tenant rows outside RLS: {exposed}"
