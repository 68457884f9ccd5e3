"""Benchmark: validation of one bulk-API request (`leads.ingest.parse_activity_items`, pure Python, no database).

    .venv/bin/python bench/ingest_parse.py [--items 1000] [--repeat 150]     # from the root of a checkout

Builds the items a bulk request carries (email, type, ISO time with an offset, URL, campaign, external id, small
nested properties; decoded from JSON like the request body) and prints the best and the median time of
validating them, in ms per request and µs per item. Run it in two checkouts to compare versions.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path.cwd()))  # the checkout it is run from (to compare two versions)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=150)
    args = parser.parse_args()

    import django

    django.setup()
    from leads.ingest import parse_activity_items

    rng = random.Random(7)
    now = dt.datetime.now(dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=9)))
    items = json.loads(
        json.dumps(
            [
                {
                    "email": f"lead{rng.randint(0, 20000)}@example.jp",
                    "type": "page_view",
                    "occurred_at": (now - dt.timedelta(seconds=rng.randint(60, 90 * 86400))).isoformat(),
                    "url": f"https://example.jp/products/{rng.randint(0, 500)}",
                    "campaign": "2026秋ウェビナー",
                    "external_id": f"evt-{i}",
                    "properties": {"referrer": "google", "utm": {"source": "ads", "medium": "cpc"}, "n": i % 9},
                }
                for i in range(args.items)
            ]
        )
    )
    times = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        valid, rejected = parse_activity_items(items, known_types={"page_view"})
        times.append(time.perf_counter() - started)
    assert len(valid) == args.items and not rejected, rejected[:3]
    best, median = min(times) * 1000, statistics.median(times) * 1000
    print(f"parse_activity_items, {args.items:,} items, {args.repeat} runs ({Path.cwd()}):")
    print(f"  best {best:.2f} ms ({best * 1000 / args.items:.1f} µs/item), median {median:.2f} ms")


if __name__ == "__main__":
    main()
