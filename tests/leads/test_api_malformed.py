"""The REST bulk endpoints with values PostgreSQL cannot store or read back: each bad item is
rejected alone with its reason, the good ones of the request are stored, nothing answers 5xx,
and the tenant's data stays readable afterwards."""

import datetime as dt
import json

import pytest
from rest_framework.test import APIClient

from leads.models import Activity, Lead
from tenants.context import tenant_scope

from .conftest import make_key

pytestmark = pytest.mark.django_db

DEEP = 200  # levels: parseable, far beyond anything real (MAX_NESTING)


@pytest.fixture
def api(tenant):
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {make_key(tenant)}")
    return client


def _post(api, path, body, language="en"):
    """Post `body` as JSON exactly as written (NaN, Infinity and lone surrogates included)."""
    return api.post(
        path, data=json.dumps(body, allow_nan=True), content_type="application/json", HTTP_ACCEPT_LANGUAGE=language
    )


def _activity(**overrides):
    return {"email": "a@example.jp", "type": "page_view", "occurred_at": "2026-10-01T10:00:00+09:00", **overrides}


BAD_ACTIVITIES = {
    "year 1": (_activity(occurred_at="0001-01-01T00:30:00+01:00"), "occurred_at", "2000"),
    "before 2000": (_activity(occurred_at="1999-12-31T23:59:59Z"), "occurred_at", "2000"),
    "NUL in url": (_activity(url="https://example.jp/\x00"), "url", "NUL"),
    "NUL in external_id": (_activity(external_id="m\x00"), "external_id", "NUL"),
    "NUL in a property": (_activity(properties={"q": "a\x00b"}), "properties", "NUL"),
    "NUL in a property name": (_activity(properties={"a\x00": 1}), "properties", "NUL"),
    "lone surrogate": (_activity(properties={"q": "\ud800"}), "properties", "surrogate"),
    "lone surrogate in campaign": (_activity(campaign="\udfff"), "campaign", "surrogate"),
    "NaN": (_activity(properties={"x": float("nan")}), "properties", "NaN"),
    "Infinity": (_activity(properties={"x": float("inf")}), "properties", "NaN"),
    "deep nesting": (_activity(properties={"x": json.loads("[" * DEEP + "]" * DEEP)}), "properties", "nested"),
    "lead id beyond bigint": ({**_activity(), "email": None, "lead_id": 2**70}, "lead_id", ""),
}


@pytest.mark.parametrize("case", BAD_ACTIVITIES, ids=list(BAD_ACTIVITIES))
def test_a_bad_activity_is_rejected_alone_with_its_reason(api, tenant, case):
    bad, field, reason = BAD_ACTIVITIES[case]
    items = [_activity(external_id=f"ok-{i}") for i in range(4)]
    items.insert(2, bad)
    response = _post(api, "/api/v1/activities/bulk/", {"items": items})
    assert response.status_code == 200, response.content[:300]
    result = response.json()
    assert [r["status"] for r in result["results"]] == ["accepted", "accepted", "rejected", "accepted", "accepted"]
    assert reason in " ".join(result["results"][2]["errors"][field])
    with tenant_scope(tenant.id):
        assert Activity.objects.count() == 4
    # The tenant's data reads back: lists and the lead answer.
    assert api.get("/api/v1/activities/").status_code == 200
    assert api.get("/api/v1/leads/").status_code == 200


def test_an_offset_beyond_15_59_is_stored_as_the_same_moment_in_utc(api, tenant):
    response = _post(api, "/api/v1/activities/bulk/", {"items": [_activity(occurred_at="2026-11-01T10:00:00+20:00")]})
    assert response.status_code == 200 and response.json()["accepted"] == 1
    listed = api.get("/api/v1/activities/").json()["results"]
    assert dt.datetime.fromisoformat(listed[0]["occurred_at"]) == dt.datetime(2026, 10, 31, 14, tzinfo=dt.UTC)


def test_the_reason_is_in_japanese_by_default(api, tenant):
    items = [_activity(occurred_at="0001-01-01T00:30:00+01:00")]
    result = _post(api, "/api/v1/activities/bulk/", {"items": items}, language="ja").json()
    assert "2000年" in result["results"][0]["errors"]["occurred_at"][0]


BAD_LEADS = {
    "NUL in a name": ({"email": "x@example.jp", "name": "山田\x00太郎"}, "name", "NUL"),
    "NUL in the email": ({"email": "x\x00@example.jp"}, "email", "NUL"),
    "lone surrogate": ({"email": "x@example.jp", "company": "\ud800株式会社"}, "company", "surrogate"),
    "Infinity employees": ({"email": "x@example.jp", "employee_count": float("inf")}, "employee_count", "NaN"),
    "NaN employees": ({"email": "x@example.jp", "employee_count": float("nan")}, "employee_count", "NaN"),
    "NUL in a custom field": ({"email": "x@example.jp", "custom_fields": {"k": "\x00"}}, "custom_fields", "NUL"),
}


@pytest.mark.parametrize("case", BAD_LEADS, ids=list(BAD_LEADS))
def test_a_bad_lead_is_rejected_alone_with_its_reason(api, tenant, case):
    bad, field, reason = BAD_LEADS[case]
    items = [{"email": f"ok{i}@example.jp", "name": "鈴木 花子"} for i in range(4)]
    items.insert(1, bad)
    response = _post(api, "/api/v1/leads/bulk/", {"items": items})
    assert response.status_code == 200, response.content[:300]
    result = response.json()
    assert [r["status"] for r in result["results"]] == ["created", "rejected", "created", "created", "created"]
    assert reason in " ".join(result["results"][1]["errors"][field])
    with tenant_scope(tenant.id):
        assert sorted(Lead.objects.values_list("email", flat=True)) == [f"ok{i}@example.jp" for i in range(4)]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/leads/", {"email": "x@example.jp", "custom_fields": {"k": "a\x00"}}),
        ("/api/v1/leads/upsert/", {"email": "x@example.jp", "custom_fields": {"k": "\ud800"}}),
    ],
)
def test_single_lead_writes_refuse_unstorable_values_with_400(api, tenant, path, body):
    with tenant_scope(tenant.id):
        from leads import services

        services.custom_field_create(label="メモ", key="k", field_type="text")
    response = _post(api, path, body)
    assert response.status_code == 400 and "custom_fields" in response.json()
    with tenant_scope(tenant.id):
        assert not Lead.objects.exists()


@pytest.mark.parametrize("path", ["/api/v1/leads/", "/api/v1/leads/bulk/", "/api/v1/activities/bulk/"])
def test_json_nested_too_deep_to_parse_is_a_400_with_a_message(api, tenant, path):
    body = b'{"items": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    response = api.post(path, data=body, content_type="application/json")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json") and response.json()["detail"]
