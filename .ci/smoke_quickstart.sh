#!/usr/bin/env bash
# Start the README's run command (no DATABASE_URL: the embedded PostgreSQL) in a throw-away copy of the
# checkout, fetch the login page, publish a model and import a Shift_JIS CSV through it (.ci/quickstart_check.py),
# stop it and check the embedded server stopped too; then start it again on the same data (reuse/restart).
#
# The machine's own PostgreSQL must play no part: the quickstart gets a libpq environment pointing nowhere
# (PGHOST/PGPORT), the check asserts the app is on PostgreSQL 18 over the embedded Unix socket, and every
# process of the quickstart is checked to hold no connection to port 5432. The system server is never stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
workdir=$(mktemp -d)
git ls-files -z | xargs -0 -I{} cp --parents {} "$workdir" 2>/dev/null || cp -r . "$workdir"
ln -s "$(pwd)/.venv" "$workdir/.venv"
cd "$workdir"
port=18765
embedded_port=${ONDO_SMOKE_PG_PORT:-54329}

# With Redis: a real Celery worker (as a quickstart user with Redis gets) on a Redis database of its own,
# emptied first so no task of an earlier run is picked up. Without: tasks in-process.
redis_env=(-u REDIS_URL ONDO_NO_WORKER=1)
if (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
  redis_url="redis://127.0.0.1:6379/${ONDO_SMOKE_REDIS_DB:-12}"
  .venv/bin/python -c 'import redis, sys; redis.Redis.from_url(sys.argv[1]).flushdb()' "$redis_url"
  redis_env=(-u ONDO_NO_WORKER REDIS_URL="$redis_url")
fi

pid=""
start_quickstart() {
  env -u DATABASE_URL -u DJANGO_SETTINGS_MODULE "${redis_env[@]}" PGHOST=/nonexistent PGPORT=1 \
    ONDO_PORT=$port ONDO_EMBEDDED_PG_PORT="$embedded_port" ./ondo run >>quickstart.log 2>&1 &
  pid=$!
}
stop_quickstart() {
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  pid=""
}
cleanup() {
  [ -d "$workdir" ] || return 0
  if [ -n "$pid" ]; then pkill -P "$pid" 2>/dev/null || true; fi
  stop_quickstart
  ONDO_EMBEDDED_PG_PORT="$embedded_port" .venv/bin/python config/embedded_db.py stop 2>/dev/null || true
}
trap cleanup EXIT
wait_for_login() {
  for _ in $(seq 1 600); do
    if curl -fsS "http://127.0.0.1:$port/accounts/login/" -o login.html 2>/dev/null; then break; fi
    kill -0 "$pid" 2>/dev/null || { cat quickstart.log; echo "quickstart exited early" >&2; exit 1; }
    sleep 1
  done
  grep -q 'name="login"' login.html || { cat quickstart.log; echo "login page not served" >&2; exit 1; }
}
descendants() {
  local p=$1
  echo "$p"
  for child in $(pgrep -P "$p" 2>/dev/null); do descendants "$child"; done
}
assert_no_system_postgres() {
  # Every process the quickstart started (web, worker): none may hold a connection to port 5432.
  local pids
  pids=$(descendants "$pid" | paste -sd, -)
  .venv/bin/python - "$pids" <<'PY'
import sys, psutil
found = []
for pid in map(int, sys.argv[1].split(",")):
    try:
        for conn in psutil.Process(pid).net_connections(kind="inet"):
            if conn.raddr and conn.raddr.port == 5432:
                found.append((pid, conn.raddr))
    except psutil.NoSuchProcess:
        pass
if found:
    sys.exit(f"quickstart processes connected to the system PostgreSQL: {found}")
print(f"no quickstart process ({len(sys.argv[1].split(','))}) holds a connection to port 5432")
PY
}
app_env() {
  env -u DJANGO_SETTINGS_MODULE "${redis_env[@]}" PGHOST=/nonexistent PGPORT=1 ONDO_EMBEDDED_PG_PORT="$embedded_port" \
    DATABASE_URL="$(ONDO_EMBEDDED_PG_PORT="$embedded_port" .venv/bin/python config/embedded_db.py url --app)" \
    DEBUG=1 "$@"
}

t0=$(date +%s)
start_quickstart
wait_for_login
t1=$(date +%s)
echo "quickstart smoke run: first start (new embedded cluster, migrate, demo seed) served the login page in $((t1 - t0)) s"
test -f var/pg/data/PG_VERSION || { echo "no embedded PostgreSQL cluster under var/pg" >&2; exit 1; }
test ! -e var/ondo.sqlite3 || { echo "an SQLite database was created" >&2; exit 1; }
app_env .venv/bin/python .ci/quickstart_check.py "http://127.0.0.1:$port"
assert_no_system_postgres
stop_quickstart
if ONDO_EMBEDDED_PG_PORT="$embedded_port" .venv/bin/python config/embedded_db.py status >/dev/null; then
  echo "the embedded PostgreSQL still runs after ./ondo run exited" >&2; exit 1
fi
echo "quickstart smoke run: stopping ./ondo run stopped the embedded PostgreSQL"

t0=$(date +%s)
start_quickstart
wait_for_login
t1=$(date +%s)
echo "quickstart smoke run: second start (same cluster, reused) served the login page in $((t1 - t0)) s"
grep -c "creating the embedded PostgreSQL" quickstart.log | grep -qx 1 || { echo "the cluster was created twice" >&2; exit 1; }
assert_no_system_postgres
stop_quickstart
tail -n 8 quickstart.log
cd / && rm -rf "$workdir"  # kept only when a check failed, to look at
echo "quickstart smoke run: login page, publish + full recompute and Shift_JIS import on the embedded PostgreSQL"
