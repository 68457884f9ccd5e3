"""Checks against a running quickstart (`./ondo run` with no DATABASE_URL), called by .ci/smoke_quickstart.sh.

Runs with the app's own environment (DATABASE_URL = the embedded server, as the app role). Asserts that
the app talks to the embedded PostgreSQL 18 over its Unix socket as a role row-level security binds, then
does through the running web server what a person does — publish the draft scoring model (a full
recompute in the background) and import a small Shift_JIS CSV (in the background) — and asserts both
succeed (issue #20: on SQLite they failed with "database is locked").

usage: python .ci/quickstart_check.py http://127.0.0.1:PORT
"""

import http.cookiejar
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

from leads.models import ImportJob, ImportStatus, Lead  # noqa: E402
from scoring.models import ModelStatus, RunStatus, ScoreRun, ScoringModel  # noqa: E402
from tenants.context import tenant_scope  # noqa: E402
from tenants.models import Tenant  # noqa: E402

BASE = sys.argv[1].rstrip("/")
SLUG = "demo"
EMAIL, PASSWORD = "admin@demo.ondo.example", "ondo-demo-2026"  # the documented demo login  # nosec B105
WAIT_SECONDS = 180


def fail(message: str) -> None:
    print(f"quickstart check FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT version(), current_user, inet_server_port(), r.rolsuper, r.rolbypassrls "
            "FROM pg_roles r WHERE r.rolname = current_user"
        )
        version, user, tcp_port, superuser, bypass = cursor.fetchone()
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'pg_trgm'")
        trgm = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM leads_lead")  # no tenant set: row-level security shows nothing
        unscoped = cursor.fetchone()[0]
    if not version.startswith("PostgreSQL 18"):
        fail(f"expected the embedded PostgreSQL 18, the app is connected to: {version}")
    if tcp_port is not None:
        fail(f"expected a Unix-socket connection, the app is connected over TCP port {tcp_port}")
    if superuser or bypass or user != os.environ.get("ONDO_DB_APP_ROLE", "ondo_app"):
        fail(f"the app connects as {user} (superuser={superuser}, bypassrls={bypass}), not the app role")
    if trgm is None:
        fail("pg_trgm is not installed in the quickstart database")
    if unscoped != 0:
        fail(f"row-level security does not apply: {unscoped} leads visible with no tenant set")
    print(f"database: {version.split(' on ')[0]}, as {user} over the Unix socket, pg_trgm {trgm[0]}, RLS on")


class Browser:
    def __init__(self) -> None:
        self.jar = http.cookiejar.CookieJar()

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), NoRedirect)

    def csrf(self) -> str:
        return next(c.value for c in self.jar if c.name == "csrftoken")

    def request(self, path: str, data: bytes | None = None, content_type: str = "") -> tuple[int, str, str]:
        headers = {"Referer": BASE + "/"}
        if data is not None:
            headers["X-CSRFToken"] = self.csrf()
            headers["Content-Type"] = content_type or "application/x-www-form-urlencoded"
        request = urllib.request.Request(BASE + path, data=data, headers=headers)  # noqa: S310 - local server
        try:
            with self.opener.open(request, timeout=120) as response:
                return response.status, response.headers.get("Location", ""), response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.headers.get("Location", ""), error.read().decode(errors="replace")

    def post(self, path: str, fields: dict) -> tuple[int, str, str]:
        return self.request(path, urllib.parse.urlencode(fields).encode())

    def post_file(self, path: str, fields: dict, name: str, filename: str, content: bytes) -> tuple[int, str, str]:
        boundary = uuid.uuid4().hex
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
            for key, value in fields.items()
        ]
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            "Content-Type: text/csv\r\n\r\n".encode()
            + content
            + b"\r\n"
        )
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        return self.request(path, body, f"multipart/form-data; boundary={boundary}")


def login(browser: Browser) -> None:
    browser.request("/accounts/login/")
    status, location, _body = browser.post("/accounts/login/", {"login": EMAIL, "password": PASSWORD})
    if status != 302:
        fail(f"login as {EMAIL} answered {status}")


def wait_for(what: str, finished) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not finished():
        if time.monotonic() > deadline:
            fail(f"{what} did not finish within {WAIT_SECONDS} s")
        time.sleep(0.5)


def check_publish_and_recompute(browser: Browser, tenant: Tenant) -> None:
    with tenant_scope(tenant.id):
        draft = ScoringModel.objects.filter(status=ModelStatus.DRAFT).first()
        leads = Lead.objects.count()
    if draft is None:
        fail("the demo tenant has no draft scoring model to publish")
    started = time.monotonic()
    status, location, _body = browser.post(f"/t/{SLUG}/scoring/draft/publish/", {})
    match = re.search(r"[?&]run=(\d+)", location)
    if status != 302 or not match:
        fail(f"publishing v{draft.version} answered {status} {location!r}")
    run_id = int(match.group(1))

    def run() -> ScoreRun:
        with tenant_scope(tenant.id):
            return ScoreRun.objects.get(pk=run_id)

    wait_for(f"the full recompute after publishing v{draft.version}", lambda: run().is_finished)
    finished = run()
    if finished.status != RunStatus.SUCCEEDED:
        fail(f"the full recompute after publishing ended {finished.status}: {finished.error}")
    with tenant_scope(tenant.id):
        scored = Lead.objects.filter(score_model_version=draft.version).count()
    if scored != leads:
        fail(f"{scored} of {leads} leads carry the published version v{draft.version}")
    print(f"publish v{draft.version}: full recompute succeeded, {scored} leads ({time.monotonic() - started:.1f} s)")


SHIFT_JIS_ROWS = [
    ("メールアドレス", "氏名", "会社名", "部署", "役職"),
    *[
        (f"smoke{n}@sjis-smoke.example.jp", f"山田 太郎{n}", f"株式会社テスト{n}", "営業部", "部長")
        for n in range(1, 10)
    ],
]


def check_shift_jis_import(browser: Browser, tenant: Tenant) -> None:
    content = "\r\n".join(",".join(row) for row in SHIFT_JIS_ROWS).encode("cp932") + b"\r\n"
    started = time.monotonic()
    status, location, body = browser.post_file(
        f"/t/{SLUG}/leads/import/", {"encoding": "auto"}, "file", "smoke-sjis.csv", content
    )
    match = re.search(r"/import/(\d+)/$", location)
    if status != 302 or not match:
        fail(f"uploading the Shift_JIS CSV answered {status} {location!r}: {body[:500]}")
    job_id = int(match.group(1))
    with tenant_scope(tenant.id):
        job = ImportJob.objects.get(pk=job_id)
    if job.encoding != "cp932":
        fail(f"the Shift_JIS CSV was read as {job.encoding}")
    fields = {f"col_{i}": target for i, target in enumerate(job.mapping)} | {"encoding": job.encoding}
    status, location, body = browser.post(f"/t/{SLUG}/leads/import/{job_id}/start/", fields)
    if status != 302:
        fail(f"starting the import answered {status}: {body[:500]}")

    def current() -> ImportJob:
        with tenant_scope(tenant.id):
            return ImportJob.objects.get(pk=job_id)

    wait_for("the Shift_JIS import", lambda: current().is_finished)
    job = current()
    if job.status != ImportStatus.DONE or job.created_count != 9 or job.error_count:
        fail(f"the Shift_JIS import ended {job.status}: {job.created_count} created, {job.error_count} errors")
    with tenant_scope(tenant.id):
        names = set(Lead.objects.filter(email__endswith="@sjis-smoke.example.jp").values_list("name", flat=True))
    if names != {f"山田 太郎{n}" for n in range(1, 10)}:
        fail(f"the imported names are not the Japanese ones: {sorted(names)}")
    print(f"Shift_JIS import: 9 of 9 rows imported ({time.monotonic() - started:.1f} s)")


def main() -> None:
    check_database()
    tenant = Tenant.objects.get(slug=SLUG)
    browser = Browser()
    login(browser)
    check_publish_and_recompute(browser, tenant)
    check_shift_jis_import(browser, tenant)


if __name__ == "__main__":
    main()
