"""Run a live server's database sessions as the application's role (row-level security applies,
as in production), while the test thread keeps the owner/superuser connection for setup and checks."""

from __future__ import annotations

import contextlib
import threading

from django.db.backends.signals import connection_created

_STATE = {"on": False, "sessions": 0}


def _set_role(sender, connection, **kwargs):
    if _STATE["on"] and threading.current_thread() is not threading.main_thread():
        from tenants.rls import app_role

        with connection.cursor() as cursor:
            cursor.execute(f"SET ROLE {connection.ops.quote_name(app_role())}")
        _STATE["sessions"] += 1


connection_created.connect(_set_role, dispatch_uid="ondo_live_server_app_role")


@contextlib.contextmanager
def server_threads_as_app_role():
    """Inside the block, every new database connection opened by a non-main thread (the live
    server's request threads) does SET ROLE <app role>. Asserts that it happened at least once."""
    from django.db import connections

    _STATE.update(on=True, sessions=0)
    try:
        yield _STATE
        assert _STATE["sessions"] > 0, "the live server never connected as the app role"
    finally:
        _STATE["on"] = False
        connections.close_all()
