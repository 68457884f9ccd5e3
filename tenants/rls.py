"""PostgreSQL row-level security: layer 2 of tenant isolation.

Layer 1 is the application's scoping (`TenantManager`, `tenant_scope()`): every query filters
`tenant_id` explicitly. Layer 2 is this module: every tenant-owned table (every TenantOwned model's table, and any other
table with a `tenant_id` column except the two platform lookups below) gets

    ALTER TABLE t ENABLE ROW LEVEL SECURITY;  ALTER TABLE t FORCE ROW LEVEL SECURITY;
    CREATE POLICY ondo_tenant_isolation ON t
        USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint)
        WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint);
    CREATE POLICY ondo_platform_bypass ON t
        USING (current_setting('app.bypass_rls', true) = 'on')
        WITH CHECK (current_setting('app.bypass_rls', true) = 'on');

`tenant_scope()` sets `app.tenant_id` and `platform_scope()` sets `app.bypass_rls`, both with
`set_config(..., true)` (SET LOCAL semantics: they end with the transaction, so nothing leaks
through a transaction-pooling connection pooler). With no setting, a query sees no rows.

Policies only bind a role that neither owns the table nor is a superuser (or has BYPASSRLS).
So the application connects as the app role (`ONDO_DB_APP_ROLE`, default `ondo_app`), which this
module creates if missing (when the migrating role may create roles) and grants DML on the
schema's tables and sequences; migrations run as the owner. `apply()` is idempotent and runs
after every `migrate` (post_migrate, see `TenantsConfig.ready`) and from `manage.py apply_rls`,
so tables added later by any app are covered without anyone remembering. See tenants/rls.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.apps import apps
from django.conf import settings
from django.core import checks
from django.db import connections, transaction

TENANT_POLICY = "ondo_tenant_isolation"
BYPASS_POLICY = "ondo_platform_bypass"
TENANT_SETTING = "app.tenant_id"
BYPASS_SETTING = "app.bypass_rls"
TENANT_EXPR = "tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint"
BYPASS_EXPR = "current_setting('app.bypass_rls', true) = 'on'"

_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def app_role() -> str:
    """The non-owner role the application connects as ('' disables role management)."""
    role = getattr(settings, "ONDO_DB_APP_ROLE", "ondo_app") or ""
    if role and not _ROLE_NAME.match(role):
        raise ValueError(f"ONDO_DB_APP_ROLE must be a plain lower-case identifier, got {role!r}")
    return role


def tenant_owned_models() -> list:
    """Every concrete, managed model built on TenantOwned (all apps, including ones added later)."""
    from .models import TenantOwned

    return [
        model
        for model in apps.get_models()
        if issubclass(model, TenantOwned) and model._meta.managed and not model._meta.proxy
    ]


# Tables with a tenant_id column that are deliberately NOT row-level secured: they are read to
# find out which tenant a request acts for, before any tenant can be active.
PLATFORM_TABLES_WITH_TENANT_ID = {
    "tenants_membership": "resolves /t/<slug>/ to the user's tenant and role before a tenant is active",
    "tenants_tenantapikey": "an API key is looked up by its prefix to find the tenant of the call",
}


def tenant_owned_tables(using: str = "default") -> list[str]:
    """Tables that get row-level security: every TenantOwned model's table, plus any other table of
    the schema with a tenant_id column (e.g. a hand-made staging table), minus the platform lookups."""
    tables = {model._meta.db_table for model in tenant_owned_models()}
    with connections[using].cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname FROM pg_attribute a
            JOIN pg_class c ON c.oid = a.attrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
            WHERE a.attname = 'tenant_id' AND NOT a.attisdropped AND c.relkind IN ('r', 'p')
              AND NOT c.relispartition
            """
        )
        tables.update(row[0] for row in cursor.fetchall())
    return sorted(tables - set(PLATFORM_TABLES_WITH_TENANT_ID))


@dataclass(frozen=True)
class TableState:
    table: str
    exists: bool
    rls: bool = False
    forced: bool = False
    policies: frozenset[str] = frozenset()  # names of OUR policies whose definition is exactly ours
    other_policies: frozenset[str] = frozenset()
    app_role_can_write: bool = False

    @property
    def protected(self) -> bool:
        return (
            self.exists
            and self.rls
            and self.forced
            and self.policies == {TENANT_POLICY, BYPASS_POLICY}
            and not self.other_policies
        )


def _normalise(expr: str | None) -> str:
    """Compare policy expressions the way PostgreSQL prints them back (casts, parentheses, spaces)."""
    return re.sub(r"::text|[()\s]", "", expr or "")


_EXPECTED = {TENANT_POLICY: _normalise(TENANT_EXPR), BYPASS_POLICY: _normalise(BYPASS_EXPR)}


def _physical_tables(cursor, table: str) -> list[str]:
    """The table plus, when it is partitioned, every partition (RLS is checked per relation)."""
    cursor.execute(
        "SELECT c.relname FROM pg_partition_tree(to_regclass(%s)) t JOIN pg_class c ON c.oid = t.relid",
        [table],
    )
    return [row[0] for row in cursor.fetchall()] or [table]


def _table_state(cursor, table: str, role: str | None) -> TableState:
    cursor.execute("SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = to_regclass(%s)", [table])
    row = cursor.fetchone()
    if row is None:
        return TableState(table, exists=False)
    cursor.execute(
        "SELECT polname, polpermissive, polcmd, polroles = '{0}'::oid[], pg_get_expr(polqual, polrelid),"
        " pg_get_expr(polwithcheck, polrelid) FROM pg_policy WHERE polrelid = to_regclass(%s)",
        [table],
    )
    ours, others = set(), set()
    for name, permissive, command, public, qual, with_check in cursor.fetchall():
        expected = _EXPECTED.get(name)
        if not permissive:
            continue  # a RESTRICTIVE policy only narrows access further: allowed
        if (
            expected
            and permissive
            and command == "*"
            and public
            and _normalise(qual) == expected
            and _normalise(with_check) == expected
        ):
            ours.add(name)
        else:
            others.add(name)
    can_write = False
    if role:
        cursor.execute("SELECT has_table_privilege(%s, to_regclass(%s), 'SELECT,INSERT,UPDATE,DELETE')", [role, table])
        can_write = cursor.fetchone()[0]
    return TableState(table, True, row[0], row[1], frozenset(ours), frozenset(others), can_write)


def table_states(using: str = "default") -> list[TableState]:
    """Row-level security state of every tenant-owned table (and partition): checks, tests, the command."""
    connection = connections[using]
    states = []
    with connection.cursor() as cursor:
        role = app_role()
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role or "-"])
        role = role if cursor.fetchone() else None
        for logical in tenant_owned_tables(using):
            cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [logical])
            if not cursor.fetchone()[0]:
                states.append(TableState(logical, exists=False))
                continue
            states.extend(_table_state(cursor, table, role) for table in _physical_tables(cursor, logical))
    return states


def apply(*, using: str = "default", verbosity: int = 1, stdout=None) -> list[str]:
    """Enable + force RLS and (re)create the two policies on every tenant-owned table, create the
    app role if missing and grant it DML. Idempotent; returns the tables that were changed."""
    connection = connections[using]
    role = app_role()
    changed: list[str] = []
    tables = tenant_owned_tables(using)
    with transaction.atomic(using=using), connection.cursor() as cursor:
        for logical in tables:
            cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [logical])
            if not cursor.fetchone()[0]:
                continue  # model without a table yet (its migration is not applied)
            for table in _physical_tables(cursor, logical):
                if not _table_state(cursor, table, None).protected:
                    _apply_to_table(cursor, table, connection.ops.quote_name(table))
                    changed.append(table)
        if role:
            _ensure_role_and_grants(cursor, connection.ops.quote_name, role, stdout=stdout, verbosity=verbosity)
    if changed and verbosity >= 1 and stdout is not None:
        stdout.write(f"  Row-level security applied to {len(changed)} table(s): {', '.join(changed)}\n")
    return changed


def _apply_to_table(cursor, table: str, quoted: str) -> None:
    # Identifiers come from model metadata and are quoted; the expressions are constants.
    cursor.execute(f"ALTER TABLE {quoted} ENABLE ROW LEVEL SECURITY")  # nosec B608 - quoted identifier
    cursor.execute(f"ALTER TABLE {quoted} FORCE ROW LEVEL SECURITY")  # nosec B608 - quoted identifier
    # Any other policy would widen access (permissive policies are OR-ed): ours are the only ones.
    cursor.execute("SELECT polname FROM pg_policy WHERE polrelid = to_regclass(%s) AND polpermissive", [table])
    for (name,) in cursor.fetchall():
        policy = '"' + name.replace('"', '""') + '"'
        cursor.execute(f"DROP POLICY {policy} ON {quoted}")  # nosec B608 - quoted name read from pg_policy
    cursor.execute(
        f"CREATE POLICY {TENANT_POLICY} ON {quoted} AS PERMISSIVE FOR ALL TO PUBLIC "  # nosec B608
        f"USING ({TENANT_EXPR}) WITH CHECK ({TENANT_EXPR})"
    )
    cursor.execute(
        f"CREATE POLICY {BYPASS_POLICY} ON {quoted} AS PERMISSIVE FOR ALL TO PUBLIC "  # nosec B608
        f"USING ({BYPASS_EXPR}) WITH CHECK ({BYPASS_EXPR})"
    )


def _ensure_role_and_grants(cursor, quote_name, role: str, *, stdout=None, verbosity: int = 1) -> None:
    quoted_role = quote_name(role)
    cursor.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = %s", [role])
    row = cursor.fetchone()
    if row is None:
        cursor.execute("SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user")
        if not cursor.fetchone()[0]:
            if stdout is not None and verbosity >= 1:
                stdout.write(
                    f"  Role {role} does not exist and {role} cannot be created by this role: "
                    "create it (see tenants/rls.py) and run manage.py apply_rls.\n"
                )
            return
        # Concurrent migrations may race to create the cluster-wide role: tolerate duplicates.
        cursor.execute(
            "DO $$ BEGIN "
            f"CREATE ROLE {quoted_role} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT; "  # nosec
            "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
        )
    elif row[0] or row[1]:
        raise RuntimeError(f"The app role {role} is a superuser or has BYPASSRLS: row-level security would not apply.")
    cursor.execute("SELECT current_schema()")
    schema = quote_name(cursor.fetchone()[0])
    statements = [
        f"GRANT USAGE ON SCHEMA {schema} TO {quoted_role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {quoted_role}",
        f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {schema} TO {quoted_role}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {quoted_role}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {quoted_role}",
    ]
    cursor.execute("SELECT to_regclass('tenants_auditevent') IS NOT NULL")
    if cursor.fetchone()[0]:
        # The audit trail is append-only for the app: what happened cannot be rewritten or erased by it.
        statements.append(f"REVOKE UPDATE, DELETE, TRUNCATE ON tenants_auditevent FROM {quoted_role}")
    cursor.execute("SELECT to_regclass('django_migrations') IS NOT NULL")
    if cursor.fetchone()[0]:
        # The app reads the migration history (runserver/checks) but never rewrites it.
        statements.append(f"REVOKE INSERT, UPDATE, DELETE ON django_migrations FROM {quoted_role}")
    for statement in statements:
        cursor.execute(statement)  # nosec B608 - quoted identifiers only


# --- deployment check ------------------------------------------------------------------------


def privileged_role_errors(using: str = "default") -> list[checks.CheckMessage]:
    """Why the connected role is not bound by row-level security (superuser, BYPASSRLS, owner of a tenant table)."""
    errors = []
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        user, is_super, bypass = cursor.fetchone()
        if is_super or bypass:
            errors.append(
                checks.Error(
                    f"The app connects as {user}, a superuser or BYPASSRLS role: row-level security does not apply.",
                    hint="Connect the web and worker processes as the app role (tenants/rls.py).",
                    id="tenants.E102",
                )
            )
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tableowner = current_user"
            " AND tablename = ANY(%s)",
            [tenant_owned_tables(using)],
        )
        owned = [row[0] for row in cursor.fetchall()]
        if owned:
            errors.append(
                checks.Error(
                    f"The app role {user} owns tenant-owned tables ({', '.join(owned[:5])}...).",
                    hint="Run migrations as the owner and the app as the app role (tenants/rls.py).",
                    id="tenants.E103",
                )
            )
    return errors


def refuse_privileged_role() -> None:
    """Called as a web or worker process starts: with DEBUG off it refuses to serve as a role that row-level
    security does not bind, unless ONDO_ALLOW_PRIVILEGED_DB_ROLE says so explicitly."""
    if settings.DEBUG or getattr(settings, "ONDO_ALLOW_PRIVILEGED_DB_ROLE", False):
        return
    errors = privileged_role_errors()
    if not connections["default"].in_atomic_block:
        connections["default"].close()  # a pre-fork check's connection must not be shared by forked workers
    if errors:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            "Refusing to start: "
            + " ".join(f"{error.msg} {error.hint}" for error in errors)
            + " Set ONDO_ALLOW_PRIVILEGED_DB_ROLE=1 only if this is deliberate."
        )


def check_connected_role(app_configs=None, databases=None, **kwargs) -> list[checks.CheckMessage]:
    """`manage.py check --database default` as the app: with ONDO_ENFORCE_RLS (on when DEBUG is off), the
    connected role must be subject to row-level security (not superuser, no BYPASSRLS, owns no tenant table)."""
    if not databases or "default" not in databases or not getattr(settings, "ONDO_ENFORCE_RLS", False):
        return []
    errors = privileged_role_errors()
    unprotected = [state.table for state in table_states() if state.exists and not state.protected]
    if unprotected:
        errors.append(
            checks.Error(
                f"Tables without row-level security: {', '.join(unprotected)}",
                hint="Run manage.py apply_rls as the owner.",
                id="tenants.E104",
            )
        )
    return errors


def remove(*, using: str = "default") -> None:
    """Undo `apply()` on every tenant-owned table (the migration's reverse; roles stay)."""
    connection = connections[using]
    tables = tenant_owned_tables(using)
    with transaction.atomic(using=using), connection.cursor() as cursor:
        for logical in tables:
            cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [logical])
            if not cursor.fetchone()[0]:
                continue
            for table in _physical_tables(cursor, logical):
                quoted = connection.ops.quote_name(table)
                for policy in (TENANT_POLICY, BYPASS_POLICY):
                    cursor.execute(f"DROP POLICY IF EXISTS {policy} ON {quoted}")  # nosec B608 - constants
                cursor.execute(f"ALTER TABLE {quoted} NO FORCE ROW LEVEL SECURITY")  # nosec B608
                cursor.execute(f"ALTER TABLE {quoted} DISABLE ROW LEVEL SECURITY")  # nosec B608
