"""API fuzzing with Schemathesis against the served OpenAPI schema of a live server (database
sessions as the app role), authenticated with a test tenant's API key: every operation, a bounded
number of generated cases each, no 5xx and responses that match the schema.

The run's JUnit report goes to artifacts/schemathesis/ (the path is printed)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from tenants.api import TenantRateThrottle

from .approle import server_threads_as_app_role

pytestmark = pytest.mark.django_db(transaction=True)

MAX_EXAMPLES = 25
BUDGET_SECONDS = 300


def test_api_survives_schemathesis(live_server, realistic_committed_world, monkeypatch):
    world = realistic_committed_world
    monkeypatch.setattr(TenantRateThrottle, "rate", "1000000/min", raising=False)  # fuzzing, not the throttle
    report_dir = Path(settings.BASE_DIR) / "artifacts" / "schemathesis"
    shutil.rmtree(report_dir, ignore_errors=True)
    st = Path(sys.executable).with_name("st")
    command = [
        str(st),
        "run",
        f"{live_server.url}/api/schema/?format=json",
        "--header",
        f"Authorization: Api-Key {world.plain_key_a}",
        "--checks",
        "not_a_server_error,response_schema_conformance",
        "--phases",
        "examples,fuzzing",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        "20261122",
        "--workers",
        "2",
        "--request-timeout",
        "20",
        "--no-shrink",
        "--suppress-health-check",
        "all",
        "--report",
        "junit",
        "--report-dir",
        str(report_dir),
    ]
    started = time.monotonic()
    with server_threads_as_app_role():
        result = subprocess.run(command, capture_output=True, text=True, timeout=BUDGET_SECONDS, cwd=settings.BASE_DIR)
    elapsed = time.monotonic() - started
    print(f"schemathesis: {elapsed:.0f} s, report in {report_dir}")
    output = result.stdout + result.stderr
    summary = "\n".join(output.splitlines()[-60:])
    assert result.returncode == 0, f"schemathesis found problems (exit {result.returncode}):\n{summary}"
    assert "operations" in output.lower() or "passed" in output.lower(), summary
