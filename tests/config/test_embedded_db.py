"""The quickstart's embedded PostgreSQL (config/embedded_db.py): a real server from the pinned wheel, in a
temporary directory, on a port of its own (a few seconds: initdb, start, a crash, a restart, stop)."""

from __future__ import annotations

import os
import signal
import socket
import time

import dj_database_url
import psycopg
import pytest

from config import embedded_db


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """One cluster for the module (initdb is the slow part); every test starts it itself (idempotent)."""
    cl = embedded_db.Cluster(tmp_path_factory.mktemp("embedded") / "pg", _free_port())
    yield cl
    embedded_db.stop(cl)


def _query(cl, sql: str, user: str = embedded_db.OWNER_ROLE):
    with psycopg.connect(cl.conninfo(user=user, database=embedded_db.DATABASE), autocommit=True) as conn:
        cursor = conn.execute(sql)
        return cursor.fetchone() if cursor.description else None


def test_start_creates_a_postgresql_18_cluster_with_pg_trgm_and_the_two_roles(cluster):
    embedded_db.start(cluster, quiet=True)
    assert (cluster.data / "PG_VERSION").read_text().strip() == "18"
    version, tcp_port = _query(cluster, "SELECT version(), inet_server_port()")
    assert version.startswith("PostgreSQL 18")
    assert tcp_port is None, "the server listens on its Unix socket only"
    _query(cluster, "CREATE EXTENSION IF NOT EXISTS pg_trgm")  # as the database owner: a trusted extension
    assert _query(cluster, "SELECT similarity('株式会社オンド', '株式会社オンドー') > 0.5")[0]
    roles = _query(
        cluster,
        "SELECT array_agg(rolname ORDER BY rolname) FROM pg_roles WHERE rolname IN ('ondo', 'ondo_app') "
        "AND NOT rolsuper AND NOT rolbypassrls",
    )[0]
    assert roles == ["ondo", "ondo_app"], "neither role escapes row-level security"
    owner = _query(cluster, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()")
    assert owner == ("ondo",)
    assert embedded_db.stop(cluster) is True
    assert not embedded_db.is_running(cluster)
    with pytest.raises(psycopg.OperationalError):
        _query(cluster, "SELECT 1")


def test_start_reuses_a_running_server_and_restarts_after_a_crash(cluster):
    embedded_db.start(cluster, quiet=True)
    assert embedded_db.start(cluster, quiet=True) is False, "a running server is reused, not started twice"
    # A crash (kill -9 of the postmaster and its backends) leaves postmaster.pid and the socket lock behind.
    pid = int((cluster.data / "postmaster.pid").read_text().split()[0])
    for process in embedded_db._our_processes(cluster):
        os.kill(process.pid, signal.SIGKILL)
    while embedded_db._is_our_postgres(pid, cluster):
        time.sleep(0.05)
    assert (cluster.data / "postmaster.pid").exists()
    assert embedded_db.start(cluster, quiet=True) is True
    assert _query(cluster, "SELECT 1") == (1,)


def test_a_stale_postmaster_pid_naming_another_live_process_does_not_block_the_start(cluster):
    embedded_db.start(cluster, quiet=True)
    embedded_db.stop(cluster)
    # After a reboot the old pid may belong to anything: here, this test's own process.
    (cluster.data / "postmaster.pid").write_text(f"{os.getpid()}\n{cluster.data}\n0\n{cluster.port}\n\n\n\nready\n")
    assert embedded_db.start(cluster, quiet=True) is True
    assert _query(cluster, "SELECT 1") == (1,)


def test_settings_without_database_url_point_at_the_embedded_socket():
    parsed = dj_database_url.parse(embedded_db.default_url())
    cl = embedded_db.cluster()
    assert parsed["ENGINE"] == "django.db.backends.postgresql"
    assert (parsed["HOST"], parsed["PORT"], parsed["USER"], parsed["NAME"]) == (
        str(cl.socket_dir),
        embedded_db.DEFAULT_PORT if not os.environ.get("ONDO_EMBEDDED_PG_PORT") else cl.port,
        "ondo",
        "ondo",
    )
    assert parsed["PORT"] != 5432


def test_a_checkout_too_deep_for_a_unix_socket_path_gets_a_short_socket_directory(tmp_path):
    deep = tmp_path.joinpath(*["a-rather-long-directory-name"] * 4)
    cl = embedded_db.Cluster(deep / "pg", 54329)
    assert len(os.fsencode(cl.socket_dir / ".s.PGSQL.54329")) < 100
    assert cl.socket_dir == embedded_db.Cluster(deep / "pg", 54329).socket_dir, "stable, so settings can find it"
