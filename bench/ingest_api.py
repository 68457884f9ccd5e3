"""Benchmark: activities through the bulk HTTP API, served by gunicorn with several workers.

    .venv/bin/python bench/ingest_api.py [--activities 200000] [--batch 1000] [--threads 4] [--workers 4]

Creates a dedicated PostgreSQL database (ondo_bench), migrates it, creates a tenant and an API key,
loads the leads through POST /api/v1/leads/bulk/, then posts the activities in batches from
several concurrent client threads over loopback to POST /api/v1/activities/bulk/ and prints
activities/second and the request latency p50/p95. Finally re-posts some batches (a retry) and
checks they are all answered "duplicate" and that the database holds each activity once.
Targets (2-core machine, database on the same machine): >= 10,000 activities/s, p95 < 250 ms.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import requests  # noqa: E402
from ingest_common import (  # noqa: E402
    Gunicorn,
    bench_env,
    create_tenant_and_key,
    migrate,
    percentile,
    recreate_database,
    setup_django,
)

TYPES = [
    "page_view",
    "page_view",
    "page_view",
    "email_open",
    "email_click",
    "download",
    "pricing_view",
    "form_submit",
    "webinar_register",
    "webinar_attend",
]


def build_batches(emails: list[str], total: int, batch: int) -> list[bytes]:
    rng = random.Random(7)
    now = dt.datetime.now(dt.UTC)
    bodies = []
    for start in range(0, total, batch):
        items = []
        for _ in range(min(batch, total - start)):
            occurred = now - dt.timedelta(seconds=rng.randint(60, 90 * 86400))
            items.append(
                {
                    "email": rng.choice(emails),
                    "type": rng.choice(TYPES),
                    "occurred_at": occurred.isoformat(),
                    "url": f"https://www.example.co.jp/products/{rng.randint(1, 40)}",
                    "properties": {"utm_source": rng.choice(["google", "newsletter", "direct"])},
                    "external_id": str(uuid.uuid4()),
                }
            )
        bodies.append(json.dumps({"items": items}).encode())
    return bodies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--activities", type=int, default=200_000)
    parser.add_argument("--leads", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument(
        "--rate",
        type=int,
        default=0,
        help="send at this many activities/s (open loop: each request is due at its slot and its latency counts "
        "from that slot, so falling behind shows); 0 = each client thread sends its next request as soon as the "
        "last one is answered (closed loop: the throughput ceiling)",
    )
    parser.add_argument("--database", default="ondo_bench")
    args = parser.parse_args()

    env = bench_env(args.database, redis_db=12)
    print(f"database {args.database}: recreate + migrate …", flush=True)
    recreate_database(args.database)
    migrate(env)
    setup_django(env)
    tenant_id, key = create_tenant_and_key("bench")
    headers = {"Authorization": f"Api-Key {key}", "Content-Type": "application/json"}

    with Gunicorn(env, args.workers) as server:
        session = requests.Session()
        emails = [f"lead{i:07d}@prospect{i % 997}.example.co.jp" for i in range(args.leads)]
        started = time.perf_counter()
        for start in range(0, len(emails), 1000):
            items = [
                {"email": e, "name": f"見込 {i}", "company": f"株式会社サンプル{i % 5000}", "channel": "seo"}
                for i, e in enumerate(emails[start : start + 1000], start)
            ]
            response = session.post(
                server.url + "/api/v1/leads/bulk/", data=json.dumps({"items": items}), headers=headers, timeout=120
            )
            response.raise_for_status()
        print(f"loaded {len(emails):,} leads through /api/v1/leads/bulk/ in {time.perf_counter() - started:.1f} s")
        from django.db import connection

        with connection.cursor() as cursor:
            # Autovacuum analyses a table this new within a minute; the ingest is measured in that steady state
            # (without statistics the email lookup plans for an empty tenant).
            cursor.execute("ANALYZE leads_lead")

        bodies = build_batches(emails, args.activities, args.batch)
        latencies: list[float] = []
        counts = {"accepted": 0, "duplicate": 0, "rejected": 0}
        failures: list[str] = []
        lock = threading.Lock()
        queue = list(enumerate(bodies))

        interval = args.batch / args.rate if args.rate else 0.0

        def worker() -> None:
            local = requests.Session()
            while True:
                with lock:
                    if not queue:
                        return
                    index, body = queue.pop(0)
                t0 = time.perf_counter()
                if interval:
                    due = wall_start + index * interval
                    if due > t0:
                        time.sleep(due - t0)
                    t0 = due  # latency from the request's slot: a client that fell behind counts its wait
                response = local.post(server.url + "/api/v1/activities/bulk/", data=body, headers=headers, timeout=120)
                elapsed = time.perf_counter() - t0
                with lock:
                    latencies.append(elapsed)
                    if response.status_code != 200:
                        failures.append(f"{response.status_code}: {response.text[:200]}")
                        continue
                    data = response.json()
                    for name in counts:
                        counts[name] += data[name]

        # Warm-up: one request per worker process so imports and connections are not timed.
        for _ in range(args.workers):
            session.get(server.url + "/api/v1/leads/?page_size=1", headers=headers, timeout=30)

        threads = [threading.Thread(target=worker) for _ in range(args.threads)]
        wall_start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - wall_start

        retry = bodies[:5]
        retried = {"accepted": 0, "duplicate": 0, "rejected": 0}
        for body in retry:
            data = session.post(server.url + "/api/v1/activities/bulk/", data=body, headers=headers, timeout=120).json()
            for name in retried:
                retried[name] += data[name]

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM leads_activity WHERE tenant_id = %s", [tenant_id])
        stored = cursor.fetchone()[0]

    total = sum(len(json.loads(b)["items"]) for b in bodies)
    print(
        f"requests: {len(latencies)} × {args.batch} activities, {args.threads} client threads, "
        f"gunicorn {args.workers} workers, "
        + (f"sent at {args.rate:,} activities/s (open loop)" if args.rate else "back to back (closed loop)")
    )
    print(f"results: {counts}  failures: {len(failures)}")
    for failure in failures[:3]:
        print("   ", failure)
    print(f"activities/s: {total / wall:,.0f}  ({total:,} in {wall:.2f} s)")
    print(
        f"request latency: p50 {percentile(latencies, 50) * 1000:.0f} ms, "
        f"p95 {percentile(latencies, 95) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms"
    )
    print(f"retry of {len(retry)} batches: {retried}  — stored activities: {stored:,}")
    ok = (
        total / wall >= 10_000
        and percentile(latencies, 95) < 0.25
        and stored == counts["accepted"]
        and retried["accepted"] == 0
        and not failures
    )
    print("targets (>= 10,000 activities/s, p95 < 250 ms, retry stores nothing):", "MET" if ok else "NOT MET")


if __name__ == "__main__":
    main()
