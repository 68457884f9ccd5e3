"""Mixed load: bulk activity ingestion and page views at the same time, against gunicorn with
several workers connected as the app's database role (row-level security on), then a check that
every accepted activity is stored exactly once.

    .venv/bin/python bench/load_mixed.py [--seconds 60] [--max-requests 100000] [--workers 4]
                                        [--ingest-threads 4] [--page-threads 4] [--batch 50]

Loopback only, bounded in time and request count, no extra dependencies (threads + http.client).
Creates its own database (ondo_bench_load, dropped and recreated) and uses Redis db 9 (flushed):
migrate as the owner (which also applies row-level security and grants the app role), the demo
tenant with its data (seed_demo), an API key and a logged-in session per role; then gunicorn as
`ondo_app`. Ingest threads POST /api/v1/activities/bulk/ (unique external ids), page threads GET
the dashboard, lead list (with filters), a lead, the scoring pages, the MQL inbox and the KPI
planner. Prints sustained requests/s, p50/p95/p99 latency per kind, errors, and the loss count.
No Celery worker runs: re-scoring is queued in Redis, as when workers lag behind.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest_common import PYTHON, ROOT, Gunicorn, percentile, recreate_database  # noqa: E402

DB_NAME = "ondo_bench_load"
REDIS_DB = 9
APP_ROLE = "ondo_app"


def owner_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB_NAME}",
            "REDIS_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "SECRET_KEY": "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJ",
            "DEBUG": "0",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "0",
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "API_RATE": "1000000/min",  # measure the app, not the rate limiter
            "ONDO_DB_APP_ROLE": APP_ROLE,
            "LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
        }
    )
    return env


def app_env() -> dict[str, str]:
    env = owner_env()
    env["DATABASE_URL"] = f"postgres://{APP_ROLE}@127.0.0.1:5432/{DB_NAME}"
    env["ONDO_ENFORCE_RLS"] = "1"
    return env


SETUP = r"""
import json, django
django.setup()
from django.conf import settings
from django.test import Client
from tenants.context import tenant_scope
from tenants.models import Membership, Tenant, TenantAPIKey
from leads.models import Lead
tenant = Tenant.objects.get(slug="demo")
_key, plain = TenantAPIKey.objects.create_key(name="load", tenant=tenant)
sessions = {}
for m in Membership.objects.filter(tenant=tenant).select_related("user"):
    client = Client()
    client.force_login(m.user, backend="django.contrib.auth.backends.ModelBackend")
    sessions[m.role] = client.cookies[settings.SESSION_COOKIE_NAME].value
with tenant_scope(tenant.id):
    lead_ids = list(Lead.objects.order_by("?").values_list("id", flat=True)[:200])
    emails = list(Lead.objects.order_by("?").values_list("email", flat=True)[:500])
print(json.dumps({"tenant_id": tenant.id, "key": plain, "sessions": sessions, "lead_ids": lead_ids, "emails": emails}))
"""

VERIFY = r"""
import json, sys, django
django.setup()
from django.db import connection
prefix = sys.argv[1]
with connection.cursor() as cursor:
    cursor.execute("SELECT count(*), count(DISTINCT external_id) FROM leads_activity WHERE external_id LIKE %s",
                   [prefix + "%"])
    rows, distinct = cursor.fetchone()
    cursor.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = %s", ["ondo_app"])
    role = cursor.fetchone()
print(json.dumps({"rows": rows, "distinct": distinct, "app_role_super_or_bypass": list(role or [])}))
"""


def run_django(env, code: str, *args: str) -> dict:
    result = subprocess.run([PYTHON, "-c", code, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.latency = defaultdict(list)
        self.errors = defaultdict(int)
        self.accepted_ids: list[str] = []
        self.duplicates = 0
        self.requests = 0

    def record(self, kind: str, seconds: float, ok: bool, detail: str = "", page: str | None = None) -> None:
        with self.lock:
            self.requests += 1
            self.latency[kind].append(seconds)
            if page:
                self.latency[f"  {page}"].append(seconds)
            if not ok:
                self.errors[f"{kind}: {detail}"] += 1


def ingest_worker(url, key, emails, prefix, batch, stop, budget, stats: Stats) -> None:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    headers = {"Authorization": f"Api-Key {key}", "Content-Type": "application/json"}
    types = ["page_view", "page_view", "page_view", "email_open", "email_click", "download", "webinar_attend"]
    counter = 0
    while not stop.is_set() and budget.acquire(blocking=False):
        now = datetime.now(UTC)
        items = []
        for _ in range(batch):
            counter += 1
            items.append(
                {
                    "type": random.choice(types),  # noqa: S311
                    "email": random.choice(emails),  # noqa: S311
                    "occurred_at": (now - timedelta(seconds=random.randint(0, 3600))).isoformat(),  # noqa: S311
                    "external_id": f"{prefix}{threading.get_ident()}-{counter}",
                    "url": "https://example.jp/pricing",
                }
            )
        body = json.dumps({"items": items})
        started = time.perf_counter()
        try:
            conn.request("POST", "/api/v1/activities/bulk/", body=body, headers=headers)
            response = conn.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException) as error:
            stats.record("ingest", time.perf_counter() - started, False, type(error).__name__)
            conn.close()
            conn = http.client.HTTPConnection(host, int(port), timeout=60)
            continue
        elapsed = time.perf_counter() - started
        if response.status != 200:
            stats.record("ingest", elapsed, False, str(response.status))
            continue
        results = json.loads(payload)["results"]
        with stats.lock:
            for item, result in zip(items, results, strict=True):
                if result["status"] == "accepted":
                    stats.accepted_ids.append(item["external_id"])
                elif result["status"] == "duplicate":
                    stats.duplicates += 1
        stats.record("ingest", elapsed, True)
    conn.close()


def page_worker(url, sessions, lead_ids, stop, budget, stats: Stats) -> None:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    base = "/t/demo"
    pages = [
        ("dashboard", "{base}/kpis/dashboard/"),
        ("lead list", "{base}/leads/"),
        ("lead list filtered", "{base}/leads/?segment=hot&stage=mql"),
        ("lead detail", "{base}/leads/{lead}/"),
        ("scoring", "{base}/scoring/"),
        ("mql inbox", "{base}/scoring/inbox/"),
        ("kpi planner", "{base}/kpis/planner/"),
        ("htmx bell", "{base}/notifications/bell/"),
    ]
    roles = list(sessions)
    while not stop.is_set() and budget.acquire(blocking=False):
        kind, template = random.choice(pages)  # noqa: S311
        path = template.format(base=base, lead=random.choice(lead_ids))  # noqa: S311
        role = random.choice(roles)  # noqa: S311
        headers = {"Cookie": f"sessionid={sessions[role]}", "X-Forwarded-Proto": "https"}
        if kind == "htmx bell":
            headers["HX-Request"] = "true"
        started = time.perf_counter()
        try:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException) as error:
            stats.record("page", time.perf_counter() - started, False, type(error).__name__)
            conn.close()
            conn = http.client.HTTPConnection(host, int(port), timeout=60)
            continue
        ok = response.status in (200, 403)  # viewers get 403 on a few pages: served, not an error
        stats.record("page", time.perf_counter() - started, ok, f"{response.status} {path}", page=kind)
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--max-requests", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--ingest-threads", type=int, default=4)
    parser.add_argument("--page-threads", type=int, default=4)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--leads", type=int, default=3000)
    parser.add_argument("--reuse", action="store_true", help="keep the database from the last run")
    args = parser.parse_args()
    seconds = min(args.seconds, 600)

    env = owner_env()
    if not args.reuse:
        print(f"setting up {DB_NAME} (migrate as owner, demo tenant with {args.leads} leads) ...", flush=True)
        recreate_database(DB_NAME)
        subprocess.run([PYTHON, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
        subprocess.run(
            [PYTHON, "manage.py", "seed_demo", "--leads", str(args.leads)],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        subprocess.run([PYTHON, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    subprocess.run(["redis-cli", "-n", str(REDIS_DB), "FLUSHDB"], check=True, stdout=subprocess.DEVNULL)
    setup = run_django(env, SETUP)
    prefix = f"load-{uuid.uuid4().hex[:8]}-"

    stats = Stats()
    stop = threading.Event()
    budget = threading.Semaphore(args.max_requests)
    print(
        f"gunicorn: {args.workers} workers as role {APP_ROLE} (RLS enforced); {args.ingest_threads} ingest + "
        f"{args.page_threads} page-view threads for {seconds} s (max {args.max_requests} requests)",
        flush=True,
    )
    with Gunicorn(app_env(), args.workers) as server:
        threads = [
            threading.Thread(
                target=ingest_worker,
                args=(server.url, setup["key"], setup["emails"], prefix, args.batch, stop, budget, stats),
            )
            for _ in range(args.ingest_threads)
        ] + [
            threading.Thread(
                target=page_worker, args=(server.url, setup["sessions"], setup["lead_ids"], stop, budget, stats)
            )
            for _ in range(args.page_threads)
        ]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        while time.perf_counter() - started < seconds and any(t.is_alive() for t in threads):
            time.sleep(0.2)
        stop.set()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started

    verify = run_django(env, VERIFY, prefix)
    accepted = len(stats.accepted_ids)
    lost = accepted - verify["distinct"]
    stored_twice = verify["rows"] - verify["distinct"]
    print()
    print(f"duration {elapsed:.1f} s, requests {stats.requests}, sustained {stats.requests / elapsed:.0f} req/s")
    print(f"{'kind':<22}{'count':>8}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}")
    for kind in sorted(stats.latency, key=lambda k: (k.startswith(" "), k)):
        values = stats.latency[kind]
        print(
            f"{kind:<22}{len(values):>8}{len(values) / elapsed:>8.1f}{percentile(values, 50) * 1000:>9.0f}"
            f"{percentile(values, 95) * 1000:>9.0f}{percentile(values, 99) * 1000:>9.0f}"
        )
    print(f"activities accepted {accepted} ({accepted / elapsed:.0f}/s), answered duplicate {stats.duplicates}")
    print(f"stored {verify['distinct']} distinct, {verify['rows']} rows -> lost {lost}, stored twice {stored_twice}")
    print(f"errors: {dict(stats.errors) or 'none'}")
    if lost or stored_twice or verify["app_role_super_or_bypass"] != [False, False]:
        sys.exit("FAILED: activities lost or duplicated, or the app role bypasses RLS")


if __name__ == "__main__":
    main()
