#!/usr/bin/env bash
# Start the README's run command on a throw-away SQLite database, fetch the login page, stop.
set -euo pipefail
cd "$(dirname "$0")/.."
workdir=$(mktemp -d)
git ls-files -z | xargs -0 -I{} cp --parents {} "$workdir" 2>/dev/null || cp -r . "$workdir"
ln -s "$(pwd)/.venv" "$workdir/.venv"
cd "$workdir"
port=18765
env -u DATABASE_URL -u REDIS_URL -u DJANGO_SETTINGS_MODULE ONDO_PORT=$port ONDO_NO_WORKER=1 ./ondo run >quickstart.log 2>&1 &
pid=$!
cleanup() { pkill -P $pid 2>/dev/null || true; kill $pid 2>/dev/null || true; }
trap cleanup EXIT
for _ in $(seq 1 240); do
  if curl -fsS "http://127.0.0.1:$port/accounts/login/" -o login.html 2>/dev/null; then break; fi
  kill -0 $pid 2>/dev/null || { cat quickstart.log; echo "quickstart exited early" >&2; exit 1; }
  sleep 1
done
grep -q 'name="login"' login.html || { cat quickstart.log; echo "login page not served" >&2; exit 1; }
test -f var/ondo.sqlite3 || { echo "no SQLite database was created" >&2; exit 1; }
tail -n 8 quickstart.log
echo "quickstart smoke run: login page served from SQLite"
