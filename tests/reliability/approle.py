"""Run database sessions as the application's role (row-level security applies, as in production),
while fixtures keep the owner/superuser connection for setup and checks.

Two ways in:

* `server_threads_as_app_role()`: every new connection opened by a non-main thread (a live server's
  request threads, a worker thread) does SET ROLE <app role>.
* the `app_role` pytest marker (tests/conftest.py): the test body itself — and every connection any
  thread opens during it, and every worker subprocess started with `app_role_database_url()` — runs
  as the app role. Fixtures still run as the owner, so a test can prepare data freely; the code under
  test (tasks called directly, eagerly, or by a worker) sees only what the tenant setting lets through,
  so a step that runs outside the tenant context finds no rows (or fails to write) exactly as in
  production."""

from __future__ import annotations

import contextlib
import threading

from django.db.backends.signals import connection_created

_STATE = {"on": False, "all_threads": False, "sessions": 0}


def _quoted_role(connection) -> str:
    from tenants.rls import app_role

    return connection.ops.quote_name(app_role())


def _set_role(sender, connection, **kwargs):
    if _STATE["on"] and (_STATE["all_threads"] or threading.current_thread() is not threading.main_thread()):
        with connection.cursor() as cursor:
            cursor.execute(f"SET ROLE {_quoted_role(connection)}")
        _STATE["sessions"] += 1


connection_created.connect(_set_role, dispatch_uid="ondo_live_server_app_role")


@contextlib.contextmanager
def server_threads_as_app_role():
    """Inside the block, every new database connection opened by a non-main thread (the live
    server's request threads) does SET ROLE <app role>. Asserts that it happened at least once."""
    from django.db import connections

    _STATE.update(on=True, all_threads=False, sessions=0)
    try:
        yield _STATE
        assert _STATE["sessions"] > 0, "the live server never connected as the app role"
    finally:
        _STATE["on"] = False
        connections.close_all()


def current_role() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        return cursor.fetchone()[0]


@contextlib.contextmanager
def body_as_app_role(*, transactional: bool):
    """The `app_role` marker: the open connection of this thread and every connection opened by any
    thread during the block are the app role's. Afterwards the owner role is back (teardown needs it:
    flushing tables is not something the app role may do)."""
    from django.db import connections

    _STATE.update(on=True, all_threads=True, sessions=0)
    for connection in connections.all(initialized_only=True):
        if connection.connection is not None:
            with connection.cursor() as cursor:
                cursor.execute(f"SET ROLE {_quoted_role(connection)}")
    try:
        yield _STATE
    finally:
        _STATE.update(on=False, all_threads=False)
        if transactional:
            connections.close_all()  # new sessions start as the owner again
        else:
            # Inside the test's transaction: RESET ROLE (or, if it is aborted, its rollback resets it).
            for connection in connections.all(initialized_only=True):
                if connection.connection is not None and not connection.needs_rollback:
                    with contextlib.suppress(Exception), connection.cursor() as cursor:
                        cursor.execute("RESET ROLE")


def app_role_database_url() -> str:
    """DATABASE_URL of the test database for a worker subprocess that connects as the app role."""
    from django.db import connection

    from tenants.rls import app_role

    params = connection.settings_dict
    password = f":{params['PASSWORD']}" if params.get("PASSWORD") else ""
    host, port = params.get("HOST") or "127.0.0.1", params.get("PORT") or 5432
    return f"postgres://{app_role()}{password}@{host}:{port}/{params['NAME']}"
