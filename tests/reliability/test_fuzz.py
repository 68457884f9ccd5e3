"""Fuzzing.

1. The API with Schemathesis against the served OpenAPI schema of a live server (database sessions as
   the app role), authenticated with a test tenant's API key: every operation, a bounded number of
   generated cases each, no 5xx and responses that match the schema. The run's JUnit report goes to
   artifacts/schemathesis/ (the path is printed).
2. Every ingest path — Segment/RudderStack batch and single calls (plain and gzip), the REST bulk
   activities and leads endpoints, the public form, the CSV import — with the values PostgreSQL cannot
   store or read back (NUL, lone surrogates, NaN/Infinity, offsets beyond ±15:59, ~1,000 levels of
   nesting, year 1) and with hypothesis-generated JSON, each bad item sent among good ones: the good
   ones are stored, the bad one is reported with a reason, nothing answers 5xx.
"""

from __future__ import annotations

import base64
import codecs
import csv
import datetime as dt
import gzip
import io
import json
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from tenants.api import TenantRateThrottle

from .approle import server_threads_as_app_role

MAX_EXAMPLES = 25
BUDGET_SECONDS = 300


@pytest.mark.django_db(transaction=True)
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


# --- 2. every ingest path ------------------------------------------------------------------------

DEEP = json.loads("[" * 1000 + "]" * 1000)
# (label, value) of what broke ingest before: each goes into every place a path takes input.
BAD_VALUES = [
    ("NUL", "a\x00b"),
    ("lone surrogate", "x\ud800y"),
    ("NaN", float("nan")),
    ("Infinity", float("inf")),
    ("-Infinity", float("-inf")),
    ("1,000 levels", DEEP),
]
BAD_TIMES = [
    ("year 1", "0001-01-01T00:30:00+01:00"),
    ("year 9999", "9999-12-31T23:30:00-01:00"),
    ("1999", "1999-12-31T23:59:59Z"),
]
OFFSET_TIME = "2026-11-01T10:00:00+20:00"  # valid once in UTC: stored, as 2026-10-31T14:00Z

HYPOTHESIS = hypothesis_settings(
    max_examples=40,
    deadline=None,
    derandomize=True,  # reproducible in CI, like the Schemathesis seed
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=12)  # NUL and lone surrogates included
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | ANY_TEXT,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(ANY_TEXT, children, max_size=3),
    max_leaves=12,
)


def _body(value) -> bytes:
    """JSON as a client might send it: NaN/Infinity as written, lone surrogates as \\udxxx escapes."""
    return json.dumps(value, allow_nan=True).encode()


def _ids(prefix: str, count: int = 4) -> list[str]:
    tag = uuid.uuid4().hex[:8]
    return [f"{prefix}-{tag}-{i}" for i in range(count)]


@pytest.fixture
def ingest(tenant, settings):
    settings.ONDO_FORM_RATE_PER_MINUTE = 1_000_000
    settings.ONDO_SEGMENT_RATE_PER_MINUTE = 1_000_000
    from tenants.models import TenantAPIKey

    _key, plain = TenantAPIKey.objects.create_key(name="fuzz", tenant=tenant)
    return SimpleNamespace(tenant=tenant, key=plain)


def _stored_external_ids(tenant, ids) -> set[str]:
    from leads.models import Activity
    from tenants.context import tenant_scope

    with tenant_scope(tenant.id):
        return set(Activity.objects.filter(external_id__in=ids).values_list("external_id", flat=True))


def _assert_readable(tenant, key):
    """What the attack broke: the lists, the API and the export must still read the tenant's data."""
    from leads.models import Lead
    from tenants.context import tenant_scope
    from tenants.models import Role
    from tests.conftest import login_client
    from tests.factories import member

    api = _rest(key)
    assert api.get("/api/v1/leads/").status_code == 200
    assert api.get("/api/v1/activities/").status_code == 200
    browser = login_client(member(tenant, Role.ADMIN, email=f"{uuid.uuid4().hex[:8]}@acme.example"))
    assert browser.get(f"/t/{tenant.slug}/leads/").status_code == 200
    export = browser.get(f"/t/{tenant.slug}/leads/export/")
    assert export.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig"))))
    with tenant_scope(tenant.id):
        assert len(rows) == 1 + Lead.objects.count()  # the whole export, not a few hundred bytes of it


# --- Segment / RudderStack -------------------------------------------------------------------------


def _segment(ingest, body: bytes, *, path="/v1/batch", gzipped=False):
    headers = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{ingest.key}:".encode()).decode()}
    if gzipped:
        body = gzip.compress(body)
        headers["HTTP_CONTENT_ENCODING"] = "gzip"
    response = Client(raise_request_exception=False).post(path, data=body, content_type="application/json", **headers)
    assert response.status_code < 500, response.content[:300]
    return response


def _good_track(message_id: str) -> dict:
    return {
        "type": "track",
        "event": "Email Opened",
        "messageId": message_id,
        "userId": "fuzz@example.jp",
        "timestamp": "2026-11-01T10:00:00+09:00",
        "properties": {"subject": "ご案内"},
    }


def _bad_segment_messages():
    for label, value in BAD_VALUES:
        yield f"property {label}", {**_good_track("bad"), "properties": {"v": value}}
        yield f"event {label}", {**_good_track("bad"), "event": value}
        yield f"userId {label}", {**_good_track("bad"), "userId": value}
        yield f"context {label}", {**_good_track("bad"), "context": {"page": {"url": value}}}
        yield (
            f"trait {label}",
            {
                "type": "identify",
                "messageId": "bad",
                "userId": "fuzz2@example.jp",
                "traits": {"email": "fuzz2@example.jp", "name": value},
            },
        )
    for label, value in BAD_TIMES:
        yield f"timestamp {label}", {**_good_track("bad"), "timestamp": value}


def _check_batch(ingest, bad: dict | None, good_ids, response, *, expect_rejected: bool):
    assert response.status_code == 200, response.content[:300]
    summary = response.json()
    assert _stored_external_ids(ingest.tenant, good_ids) == set(good_ids), summary
    for error in summary["errors"]:
        assert error["errors"] and all(error["errors"].values()), error
    if expect_rejected:
        assert [e["index"] for e in summary["errors"]] == [2], summary
    return summary


@pytest.mark.django_db
@pytest.mark.parametrize("gzipped", [False, True], ids=["segment", "rudderstack-gzip"])
def test_segment_batch_rejects_each_listed_bad_value_alone(ingest, gzipped):
    for _label, bad in _bad_segment_messages():
        good_ids = _ids("ok")
        batch = [_good_track(i) for i in good_ids]
        batch.insert(2, {**bad, "messageId": f"bad-{uuid.uuid4().hex}"})
        response = _segment(ingest, _body({"batch": batch}), gzipped=gzipped)
        _check_batch(ingest, bad, good_ids, response, expect_rejected=True)
    _assert_readable(ingest.tenant, ingest.key)


@pytest.mark.django_db
def test_segment_stores_a_far_offset_as_the_same_moment(ingest):
    good_ids = _ids("ok")
    batch = [_good_track(i) for i in good_ids]
    batch[0]["timestamp"] = OFFSET_TIME
    _check_batch(ingest, None, good_ids, _segment(ingest, _body({"batch": batch})), expect_rejected=False)
    from leads.models import Activity
    from tenants.context import tenant_scope

    with tenant_scope(ingest.tenant.id):
        stored = Activity.objects.get(external_id=good_ids[0]).occurred_at
    assert stored == dt.datetime(2026, 10, 31, 14, tzinfo=dt.UTC)


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["track", "page", "screen", "identify", "alias", "group"])
def test_segment_single_calls_answer_200_with_the_reason(ingest, kind):
    for label, value in BAD_VALUES:
        body = {"userId": "fuzz@example.jp", "event": "x", "previousId": "p", "properties": {"v": value}}
        response = _segment(ingest, _body(body), path=f"/v1/{kind}")
        assert response.status_code == 200, (label, response.content[:300])
        summary = response.json()
        assert summary["skipped"] == 1 and summary["errors"][0]["errors"]["message"], (label, summary)


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/v1/batch", "/v1/track"])
def test_segment_whole_body_problems_are_400_with_code_and_message(ingest, path):
    for body in (b"[" * 5000 + b"]" * 5000, b"not json", b'{"batch": [1, 2'):
        response = _segment(ingest, body, path=path)
        assert response.status_code == 400, (body[:20], response.status_code)
        assert set(response.json()) == {"code", "message"} and response.json()["message"]


@pytest.mark.django_db
@HYPOTHESIS
@given(
    fuzz=st.dictionaries(
        st.sampled_from(
            [
                "type",
                "event",
                "name",
                "userId",
                "anonymousId",
                "previousId",
                "timestamp",
                "properties",
                "traits",
                "context",
                "messageId",
                "sentAt",
                "originalTimestamp",
            ]
        )
        | ANY_TEXT,
        JSON_VALUES,
        max_size=4,
    ),
    gzipped=st.booleans(),
)
def test_segment_batch_survives_generated_messages(ingest, fuzz, gzipped):
    good_ids = _ids("ok")
    batch = [_good_track(i) for i in good_ids]
    batch.insert(2, {**_good_track(f"gen-{uuid.uuid4().hex}"), **fuzz})
    response = _segment(ingest, _body({"batch": batch}), gzipped=gzipped)
    _check_batch(ingest, None, good_ids, response, expect_rejected=False)


@pytest.mark.django_db
@HYPOTHESIS
@given(message=JSON_VALUES)
def test_segment_batch_survives_generated_whole_messages(ingest, message):
    good_ids = _ids("ok")
    batch = [_good_track(i) for i in good_ids]
    batch.insert(2, message)
    _check_batch(ingest, None, good_ids, _segment(ingest, _body({"batch": batch})), expect_rejected=False)


# --- REST bulk endpoints ---------------------------------------------------------------------------


def _rest(key: str) -> APIClient:
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


def _post_rest(ingest, path: str, items: list):
    response = _rest(ingest.key).post(path, data=_body({"items": items}), content_type="application/json")
    assert response.status_code < 500, response.content[:300]
    return response


def _good_activity(external_id: str) -> dict:
    return {
        "email": "fuzz@example.jp",
        "type": "page_view",
        "occurred_at": "2026-11-01T10:00:00+09:00",
        "url": "https://example.jp/",
        "external_id": external_id,
    }


def _check_items(response, good_statuses: set[str], *, bad_index: int = 2, expect_rejected: bool):
    assert response.status_code == 200, response.content[:300]
    results = response.json()["results"]
    for index, result in enumerate(results):
        if index != bad_index:
            assert result["status"] in good_statuses, result
        elif result["status"] == "rejected":
            assert result["errors"] and all(result["errors"].values()), result
        else:
            assert not expect_rejected, result


@pytest.mark.django_db
def test_rest_activities_reject_each_listed_bad_value_alone(ingest):
    places = ["url", "campaign", "source", "external_id", "type", "email", "properties", "property name", "occurred_at"]
    cases = [(label, value, place) for label, value in BAD_VALUES for place in places]
    cases += [(label, value, "occurred_at") for label, value in BAD_TIMES]
    for label, value, place in cases:
        good_ids = _ids("ok")
        items = [_good_activity(i) for i in good_ids]
        bad = _good_activity(f"bad-{uuid.uuid4().hex}")
        if place == "properties":
            bad["properties"] = {"v": value}
        elif place == "property name":
            if not isinstance(value, str):
                continue
            bad["properties"] = {value: 1}
        else:
            bad[place] = value
        items.insert(2, bad)
        response = _post_rest(ingest, "/api/v1/activities/bulk/", items)
        _check_items(response, {"accepted"}, expect_rejected=True)
        assert _stored_external_ids(ingest.tenant, good_ids) == set(good_ids), (label, place)
    _assert_readable(ingest.tenant, ingest.key)


@pytest.mark.django_db
@HYPOTHESIS
@given(
    fuzz=st.dictionaries(
        st.sampled_from(
            ["lead_id", "email", "type", "occurred_at", "url", "campaign", "properties", "source", "external_id"]
        )
        | ANY_TEXT,
        JSON_VALUES,
        max_size=4,
    )
)
def test_rest_activities_survive_generated_items(ingest, fuzz):
    good_ids = _ids("ok")
    items = [_good_activity(i) for i in good_ids]
    items.insert(2, {**_good_activity(f"gen-{uuid.uuid4().hex}"), **fuzz})
    _check_items(_post_rest(ingest, "/api/v1/activities/bulk/", items), {"accepted"}, expect_rejected=False)
    assert _stored_external_ids(ingest.tenant, good_ids) == set(good_ids)


LEAD_FIELDS = [
    "email",
    "name",
    "company",
    "title",
    "employee_count",
    "phone",
    "channel",
    "stage",
    "owner",
    "custom_fields",
    "need",
    "email_consent",
    "authority",
]


def _check_leads(ingest, response, emails, *, expect_rejected: bool):
    _check_items(response, {"created", "updated", "unchanged"}, bad_index=2, expect_rejected=expect_rejected)
    from leads.models import Lead
    from tenants.context import tenant_scope

    with tenant_scope(ingest.tenant.id):
        assert set(Lead.objects.filter(email__in=emails).values_list("email", flat=True)) == set(emails)


@pytest.mark.django_db
def test_rest_leads_reject_each_listed_bad_value_alone(ingest):
    for _label, value in BAD_VALUES:
        for place in LEAD_FIELDS:
            emails = [f"{i}@example.jp" for i in _ids("lead")]
            items = [{"email": email, "name": "鈴木 花子"} for email in emails]
            bad = {"email": f"bad-{uuid.uuid4().hex[:8]}@example.jp"}
            bad[place] = {"k": value} if place == "custom_fields" else value
            items.insert(2, bad)
            _check_leads(ingest, _post_rest(ingest, "/api/v1/leads/bulk/", items), emails, expect_rejected=True)
    _assert_readable(ingest.tenant, ingest.key)


@pytest.mark.django_db
@HYPOTHESIS
@given(fuzz=st.dictionaries(st.sampled_from(LEAD_FIELDS) | ANY_TEXT, JSON_VALUES, max_size=4))
def test_rest_leads_survive_generated_items(ingest, fuzz):
    emails = [f"{i}@example.jp" for i in _ids("lead")]
    items = [{"email": email} for email in emails]
    items.insert(2, {"email": f"gen-{uuid.uuid4().hex[:8]}@example.jp", **fuzz})
    _check_leads(ingest, _post_rest(ingest, "/api/v1/leads/bulk/", items), emails, expect_rejected=False)


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/leads/", "/api/v1/leads/bulk/", "/api/v1/activities/bulk/"])
def test_rest_whole_body_problems_are_400_with_a_message(ingest, path):
    for body in (b"[" * 5000 + b"]" * 5000, b"not json", b'{"items": [1, 2'):
        response = _rest(ingest.key).post(path, data=body, content_type="application/json")
        assert response.status_code == 400 and response.json(), (body[:20], response.status_code)


# --- the public form -------------------------------------------------------------------------------


@pytest.fixture
def public_form(ingest):
    from leads import services
    from tenants.context import tenant_scope

    with tenant_scope(ingest.tenant.id):
        form = services.form_endpoint_create(name="お問い合わせ")
    return form


def _submit(ingest, form, data, *, as_json: bool):
    client = Client(raise_request_exception=False)
    url = f"/f/{ingest.tenant.slug}/{form.key}/"
    fields = {"ondo_token": form.token, **data}
    if as_json:
        response = client.post(url, data=_body(fields), content_type="application/json")
    else:
        response = client.post(url, data=fields, HTTP_ACCEPT="application/json")
    assert response.status_code < 500, response.content[:300]
    return response


def _form_leads(ingest) -> set[str]:
    from leads.models import Lead
    from tenants.context import tenant_scope

    with tenant_scope(ingest.tenant.id):
        return set(Lead.objects.values_list("email", flat=True))


@pytest.mark.django_db
@pytest.mark.parametrize("as_json", [True, False], ids=["json", "form-encoded"])
def test_public_form_refuses_each_listed_bad_value_with_its_field(ingest, public_form, as_json):
    for label, value in BAD_VALUES:
        if not as_json and not isinstance(value, str):
            continue  # a form-encoded body carries text only
        if not as_json and "\ud800" in value:
            continue  # not encodable in a form body at all
        for field in ("name", "company", "email", "message", "favourite"):
            before = _form_leads(ingest)
            data = {"email": f"{uuid.uuid4().hex[:8]}@example.jp", "name": "山田 太郎", field: value}
            response = _submit(ingest, public_form, data, as_json=as_json)
            assert response.status_code == 400, (label, field, response.content[:200])
            assert response.json()["errors"][field], (label, field)
            assert _form_leads(ingest) == before
    good = _submit(ingest, public_form, {"email": "after@example.jp"}, as_json=as_json)
    assert good.status_code == 200 and "after@example.jp" in _form_leads(ingest)


@pytest.mark.django_db
@HYPOTHESIS
@given(
    fuzz=st.dictionaries(
        st.sampled_from(["email", "name", "company", "phone", "message"]) | ANY_TEXT, JSON_VALUES, max_size=4
    ),
    as_json=st.booleans(),
)
def test_public_form_survives_generated_submissions(ingest, public_form, fuzz, as_json):
    if not as_json:
        fuzz = {k: str(v) for k, v in fuzz.items() if "\x00" not in k and not _has_surrogate(f"{k}{v}")}
    response = _submit(ingest, public_form, {"email": "gen@example.jp", **fuzz}, as_json=as_json)
    assert response.status_code in (200, 400, 403), response.content[:200]  # 403: a generated token field
    if response.status_code == 400:
        assert response.json()["errors"] and all(response.json()["errors"].values())


def _has_surrogate(text: str) -> bool:
    return any(0xD800 <= ord(c) <= 0xDFFF for c in text)


# --- the CSV import --------------------------------------------------------------------------------


def _import(tenant, rows: list[list[str]], capture):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from leads import csv_import
    from leads.models import Lead
    from tenants.context import tenant_scope

    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows([["email", "name", "company", "employees", "memo"], *rows])
    with tenant_scope(tenant.id):
        job = csv_import.import_create(uploaded=SimpleUploadedFile("f.csv", out.getvalue().encode(), "text/csv"))
        job.mapping = ["email", "name", "company", "employee_count", "need"]
        csv_import.import_set_mapping(job=job, mapping=job.mapping, encoding=job.encoding)
        with capture(execute=True):
            csv_import.import_start(job=job)
        job.refresh_from_db()
        emails = set(Lead.objects.values_list("email", flat=True))
    return job, emails


def _good_rows():
    return [[f"{i}@example.jp", "佐藤 次郎", "株式会社サンプル", "120", "検討中"] for i in _ids("csv")]


@pytest.mark.django_db
def test_csv_import_rejects_each_bad_cell_row_alone(ingest, django_capture_on_commit_callbacks):
    from leads.models import ImportStatus

    for column in range(5):
        good = _good_rows()
        bad = [f"{uuid.uuid4().hex[:8]}@example.jp", "x", "y", "1", "z"]
        bad[column] = "a\x00b"
        job, emails = _import(ingest.tenant, [*good[:2], bad, *good[2:]], django_capture_on_commit_callbacks)
        assert job.status == ImportStatus.DONE, job.failure
        assert {row[0] for row in good} <= emails and bad[0] not in emails
        assert [(number, message) for number, _column, message in job.errors if number == 4]
        assert {number for number, _column, _message in job.errors} == {4}


@pytest.mark.django_db
def test_csv_upload_refuses_unreadable_files_with_400(ingest, users):
    from tests.conftest import login_client

    client = login_client(users["marketing"])
    for data in (
        b"email,need\r\na@example.jp," + b"x" * 200_000 + b"\r\n",
        codecs.BOM_UTF16_LE + "email\r\na@example.jp\r\n".encode("utf-16-le"),
        "email\r\na@example.jp\r\n".encode("utf-16-le"),
        b"em\x00ail,name\r\na@example.jp,x\r\n",
    ):
        from django.core.files.uploadedfile import SimpleUploadedFile

        response = client.post(
            f"/t/{ingest.tenant.slug}/leads/import/", {"file": SimpleUploadedFile("f.csv", data), "encoding": "auto"}
        )
        assert response.status_code == 400, (data[:20], response.status_code)


@pytest.mark.django_db
@HYPOTHESIS
@given(cells=st.lists(st.text(st.characters(exclude_categories=("Cs",)), max_size=20), min_size=5, max_size=5))
def test_csv_import_survives_generated_rows(ingest, django_capture_on_commit_callbacks, cells):
    from leads.models import ImportStatus

    good = _good_rows()
    job, emails = _import(ingest.tenant, [*good[:2], cells, *good[2:]], django_capture_on_commit_callbacks)
    assert job.status == ImportStatus.DONE, job.failure
    assert {row[0] for row in good} <= emails
    assert {number for number, _column, _message in job.errors} <= {4}
