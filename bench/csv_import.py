"""Benchmark: CSV import of 100,000 leads (Shift_JIS, as Japanese Excel saves it) on PostgreSQL.

    .venv/bin/python bench/csv_import.py [--rows 100000] [--encoding cp932]

Creates a dedicated database (ondo_bench_csv), migrates it, writes a realistic CSV, then runs the
import exactly as the Celery task does (decode, validate every row, one-transaction set-based upsert,
duplicate flagging) and prints the seconds per phase and in total. Then imports the same file again
(nothing may change) and prints that time too. Target: 100,000 leads in under 30 s.
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest_common import bench_env, migrate, recreate_database, setup_django  # noqa: E402

FAMILY = [
    "佐藤",
    "鈴木",
    "高橋",
    "田中",
    "伊藤",
    "渡辺",
    "山本",
    "中村",
    "小林",
    "加藤",
    "吉田",
    "山田",
    "佐々木",
    "松本",
]
GIVEN = ["翔太", "大輔", "健太", "拓也", "直樹", "美咲", "陽子", "恵", "彩", "由美", "誠", "亮"]
COMPANIES = ["東京テック", "日本システムズ", "大和製作所", "中央商事", "北陸物産", "関西建設", "富士精機", "未来ソフト"]
TITLES = ["部長", "課長", "係長", "主任", "担当", "マネージャー", "取締役"]
CHANNELS = ["SEO・自然検索", "リスティング広告", "ウェビナー", "展示会・イベント", "メール", "紹介"]
INDUSTRIES = ["製造業", "IT・ソフトウェア", "卸売・小売業", "建設業", "サービス業", ""]


def make_csv(rows: int, encoding: str) -> bytes:
    rng = random.Random(42)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["メールアドレス", "氏名", "会社名", "役職", "部署", "従業員数", "業種", "電話番号", "流入経路"])
    for i in range(rows):
        company = f"株式会社{rng.choice(COMPANIES)}{i % 9000}"
        writer.writerow(
            [
                f"user{i:06d}@company{i % 9000}.example.co.jp",
                f"{rng.choice(FAMILY)} {rng.choice(GIVEN)}",
                company,
                rng.choice(TITLES),
                "情報システム部",
                f"{rng.randint(5, 5000):,}",
                rng.choice(INDUSTRIES),
                f"03-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}",
                rng.choice(CHANNELS),
            ]
        )
    data = out.getvalue()
    return ("\ufeff" + data).encode("utf-8") if encoding == "utf-8-sig" else data.encode(encoding)


def run_once(tenant, user, data: bytes, label: str) -> dict:
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import transaction

    from leads import csv_import
    from leads.models import ImportJob
    from tenants.context import tenant_scope

    timings = {}
    started = time.perf_counter()
    with tenant_scope(tenant.id):
        job = csv_import.import_create(uploaded=SimpleUploadedFile("bench.csv", data, "text/csv"), actor=user)
        csv_import.import_set_mapping(job=job, mapping=job.mapping, encoding=job.encoding)
        job.status = "queued"
        job.save(update_fields=["status"])
    timings["upload + detect + mapping"] = time.perf_counter() - started
    task_started = time.perf_counter()
    with tenant_scope(tenant.id, atomic=False):
        csv_import.run_import(job.pk)  # what the Celery task runs
    timings["import task"] = time.perf_counter() - task_started
    timings["total"] = time.perf_counter() - started
    with tenant_scope(tenant.id), transaction.atomic():
        job = ImportJob.objects.get(pk=job.pk)
    print(
        f"{label}: {job.row_count:,} rows ({job.encoding}) → status {job.status}, created {job.created_count:,}, "
        f"updated {job.updated_count:,}, unchanged {job.unchanged_count:,}, errors {job.error_count:,}, "
        f"duplicates flagged {job.duplicate_count:,}"
    )
    for name, seconds in timings.items():
        print(f"   {name:<28} {seconds:6.2f} s")
    if job.failure:
        print("   failure:", job.failure)
    return {"job": job, **timings}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--encoding", default="cp932", choices=["cp932", "utf-8", "utf-8-sig"])
    parser.add_argument("--database", default="ondo_bench_csv")
    args = parser.parse_args()

    env = bench_env(args.database, redis_db=13)
    env["CELERY_TASK_ALWAYS_EAGER"] = "0"
    print(f"database {args.database}: recreate + migrate …", flush=True)
    recreate_database(args.database)
    migrate(env)
    setup_django(env)
    from tenants.models import Membership, Role, Tenant, User

    tenant = Tenant.objects.create(name="ベンチマーク株式会社", slug="bench-csv")
    user = User.objects.create_user("bench@example.jp", "bench-password-123", name="ベンチ")
    Membership.objects.create(user=user, tenant=tenant, role=Role.ADMIN)

    data = make_csv(args.rows, args.encoding)
    print(f"CSV: {args.rows:,} rows, {len(data) / 1e6:.1f} MB, {args.encoding}")
    first = run_once(tenant, user, data, "first import")
    second = run_once(tenant, user, data, "same file again")
    ok = first["job"].created_count == args.rows and first["total"] < 30 and second["job"].unchanged_count == args.rows
    print(
        f"CSV import of {args.rows:,} leads: {first['total']:.1f} s "
        f"(target < 30 s: {'MET' if ok else 'NOT MET'}); re-import of the same file: {second['total']:.1f} s, "
        f"{second['job'].unchanged_count:,} unchanged"
    )


if __name__ == "__main__":
    main()
