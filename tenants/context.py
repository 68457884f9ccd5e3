"""The current tenant: one context variable, set for a request or a task.

Everything tenant-owned is read through `TenantManager`, which refuses to run
when no tenant is active. `tenant_scope()` is the only way in: it sets the
variable, opens a transaction, and on PostgreSQL sets `app.tenant_id` with
`SET LOCAL` semantics for row-level security (so it also works behind a
transaction-pooling connection pooler).
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator

from django.db import connection, transaction

logger = logging.getLogger("ondo.tenancy")

_current_tenant_id: contextvars.ContextVar[int | None] = contextvars.ContextVar("ondo_tenant_id", default=None)
_platform_bypass: contextvars.ContextVar[str | None] = contextvars.ContextVar("ondo_platform_bypass", default=None)


class TenantContextMissing(RuntimeError):
    """A tenant-owned model was queried with no tenant active (request or task bug)."""


def current_tenant_id() -> int | None:
    return _current_tenant_id.get()


def require_tenant_id() -> int:
    tenant_id = _current_tenant_id.get()
    if tenant_id is None:
        raise TenantContextMissing("No tenant is active: wrap the code in tenants.context.tenant_scope(tenant_id).")
    return tenant_id


def platform_bypass_reason() -> str | None:
    return _platform_bypass.get()


def _set_database_tenant(tenant_id: int | None) -> None:
    with connection.cursor() as cursor:
        # is_local=true: the setting ends with the transaction (pooler-safe).
        cursor.execute("SELECT set_config('app.tenant_id', %s, true)", [str(tenant_id) if tenant_id else ""])


@contextlib.contextmanager
def tenant_scope(tenant_id: int, *, atomic: bool = True) -> Iterator[None]:
    """Run the block as tenant `tenant_id`, inside one transaction."""
    if not tenant_id:
        raise TenantContextMissing("tenant_scope() needs a tenant id.")
    previous = _current_tenant_id.get()
    token = _current_tenant_id.set(int(tenant_id))
    try:
        if atomic:
            nested = connection.in_atomic_block
            with transaction.atomic():
                _set_database_tenant(int(tenant_id))
                yield
                if nested and previous != int(tenant_id) and not transaction.get_rollback():
                    # The setting survives a released savepoint: give the enclosing block its tenant back.
                    # (A savepoint marked for rollback undoes the setting itself, and accepts no query.)
                    _set_database_tenant(previous)
        elif connection.in_atomic_block:
            # Called inside an open transaction (e.g. an eager task): that transaction is the scope.
            _set_database_tenant(int(tenant_id))
            yield
            _set_database_tenant(previous)
        else:
            # A long task commits in chunks, each in its own transaction that sets the tenant. A query
            # issued between them (autocommit) would run without the setting and, under row-level
            # security, silently see no rows: the wrapper gives each such query a transaction of its own
            # with the tenant setting, so every step of the task runs in the tenant's context.
            with connection.execute_wrapper(_in_tenant_transaction):
                yield
    finally:
        _current_tenant_id.reset(token)


def _in_tenant_transaction(execute, sql, params, many, context):
    connection = context["connection"]
    tenant_id = _current_tenant_id.get()
    if connection.in_atomic_block or tenant_id is None:
        return execute(sql, params, many, context)
    with transaction.atomic(using=connection.alias):
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('app.tenant_id', %s, true)", [str(tenant_id)])
        return execute(sql, params, many, context)


def activate_in_transaction() -> None:
    """Re-apply the database tenant setting in a transaction opened inside a scope.

    Long tasks commit in chunks (`tenant_scope(..., atomic=False)` plus their own
    `transaction.atomic()` blocks); each block calls this first.
    """
    _set_database_tenant(require_tenant_id())


@contextlib.contextmanager
def platform_scope(reason: str) -> Iterator[None]:
    """Explicit, logged bypass for platform code that must cross tenants
    (operators' Django admin, the periodic fan-out that enqueues per-tenant tasks)."""
    if not reason:
        raise ValueError("A platform bypass needs a reason.")
    logger.info("platform bypass: %s", reason)
    previous_bypass = _platform_bypass.get() is not None
    token = _platform_bypass.set(reason)
    try:
        # Row-level security lets these rows through only while app.bypass_rls is on in this
        # transaction (tenants/rls.py): the block is one transaction and the flag ends with it.
        with transaction.atomic():
            _set_database_bypass(True)
            yield
            _set_database_bypass(previous_bypass)
    finally:
        _platform_bypass.reset(token)


def _set_database_bypass(on: bool) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('app.bypass_rls', %s, true)", ["on" if on else ""])
