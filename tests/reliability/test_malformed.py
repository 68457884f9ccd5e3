"""Malformed input to every API operation (from the served OpenAPI schema), every form on every
tenant page (harvested from the HTML) and the public ingestion endpoints: invalid UTF-8, Shift_JIS
where UTF-8 is expected, oversized bodies and wrong types answer 4xx with a message and store
nothing; SQL/HTML injection strings never cause a 5xx and are either refused or stored as text.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import resolve

from tenants.models import Role

from . import crawl
from .objects import diff, snapshot
from .test_isolation import _client, _harvest

SQL = "' OR '1'='1'; DROP TABLE leads_lead; --"
HTML = '<script>alert("x")</script><img src=x onerror=alert(1)>'
HUGE = 3 * 1024 * 1024  # over DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB)
REFUSED = {400, 413, 415, 422}
IGNORED_IN_SNAPSHOT = {"tenants.TenantAPIKey"}  # last_used_at moves when the key is used


@pytest.fixture
def world(realistic_world, db):
    if not hasattr(realistic_world, "harvest"):
        realistic_world.harvest = _harvest(realistic_world)
    return realistic_world


def _changed(world, before) -> list[str]:
    return [label for label in diff(before, snapshot(world.a)) if label not in IGNORED_IN_SNAPSHOT]


def _has_message(response) -> bool:
    text = response.content.decode("utf-8", errors="replace").strip()
    if "json" in response.get("Content-Type", ""):
        try:
            payload = json.loads(text)
        except ValueError:
            return False
        return bool(payload)
    return len(text) > 0


# --- the API, operation by operation from the schema ---------------------------------------------


_SCHEMA: dict = {}


def _schema() -> dict:
    """The OpenAPI document as served at /api/schema/ (fetched once)."""
    if not _SCHEMA:
        response = Client().get("/api/schema/", {"format": "json"})
        assert response.status_code == 200, f"the OpenAPI schema must be served: {response.status_code}"
        _SCHEMA.update(json.loads(response.content))
    return _SCHEMA


def _operations_of(pattern) -> list[tuple[str, str, dict]]:
    """(method, path template, JSON request schema) of the pattern's operations that take a JSON body."""
    schema = _schema()
    components = schema.get("components", {}).get("schemas", {})
    found = []
    for path, item in schema["paths"].items():
        if resolve(re.sub(r"\{[^}]+\}", "1", path)).view_name != pattern.name:
            continue
        for method, operation in item.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            if method in ("post", "put", "patch") and body is not None:
                found.append((method, path, _resolve_ref(body, components)))
    return found


def _resolve_ref(node, components, depth=0):
    if depth > 5:
        return {}
    if isinstance(node, dict) and "$ref" in node:
        return _resolve_ref(components.get(node["$ref"].rsplit("/", 1)[1], {}), components, depth + 1)
    if isinstance(node, dict):
        return {key: _resolve_ref(value, components, depth + 1) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolve_ref(value, components, depth + 1) for value in node]
    return node


API_PATTERNS = [p for p in crawl.tenant_patterns() if p.is_api]


def _api_url(world, path: str) -> str:
    probe = re.sub(r"\{[^}]+\}", "1", path)
    match = resolve(probe)
    pattern = next(p for p in crawl.tenant_patterns() if p.name == match.view_name)
    return crawl.build_url(pattern, world, slug_side="a", object_side="a")


def _wrong_value(prop: dict):
    kind = prop.get("type")
    if kind in ("integer", "number"):
        return "not-a-number"
    if kind == "boolean":
        return "maybe-later"
    if kind == "array":
        return {"not": "a list"}
    if kind == "object":
        return ["not", "an", "object"]
    if prop.get("format") in ("date-time", "date"):
        return "the day after tomorrow"
    if prop.get("enum"):
        return "no-such-choice-∞"
    return {"$ne": None}  # a string field given an object (NoSQL-style operator injection)


def _wrong_types(body_schema: dict) -> dict:
    properties = body_schema.get("properties") or {}
    return {name: _wrong_value(prop) for name, prop in properties.items() if not prop.get("readOnly")} or {
        "unexpected": {"$ne": None}
    }


def _injected(body_schema: dict) -> dict:
    properties = body_schema.get("properties") or {}
    out = {}
    for index, (name, prop) in enumerate(properties.items()):
        if prop.get("readOnly"):
            continue
        if prop.get("type") == "string" or "type" not in prop:
            out[name] = SQL if index % 2 else HTML
    return out or {"name": SQL}


@pytest.mark.parametrize("pattern", API_PATTERNS, ids=lambda p: p.name)
def test_api_operations_refuse_malformed_bodies(pattern, world):
    operations = _operations_of(pattern)
    if not operations:
        # A read-only endpoint takes no body: a malformed one is refused with a message, nothing stored.
        client = _client(api_key=world.plain_key_a)
        url = crawl.build_url(pattern, world, slug_side="a", object_side="a")
        before = snapshot(world.a)
        response = client.post(url, data=b'{"name": "\xff\xfe broken', content_type="application/json")
        assert 400 <= response.status_code < 500 and _has_message(response), f"{url}: {response.status_code}"
        assert _changed(world, before) == [], f"{url}: a malformed POST stored something"
        return
    problems = []
    for method, path, body_schema in operations:
        problems += [f"{method.upper()} {path}: {p}" for p in _check_operation(world, method, path, body_schema)]
    assert not problems, "\n".join(problems)


def _check_operation(world, method, path, body_schema) -> list[str]:
    client = _client(api_key=world.plain_key_a)
    url = _api_url(world, path)
    sample = {name: "株式会社テスト ①" for name in (body_schema.get("properties") or {"name": {}})}
    cases = {
        "invalid UTF-8": b'{"name": "\xff\xfe\xfd broken"}',
        "Shift_JIS declared as UTF-8": json.dumps(sample, ensure_ascii=False).encode("shift_jis", "replace"),
        "oversized body": b'{"name": "' + b"a" * HUGE + b'"}',
        "not JSON": b"{'name': 'single quotes',}",
        "wrong top-level type": b'"just a string"',
        "wrong field types": json.dumps(_wrong_types(body_schema)).encode(),
    }
    problems = []
    for case, body in cases.items():
        before = snapshot(world.a)
        response = getattr(client, method)(url, data=body, content_type="application/json; charset=utf-8")
        if response.status_code not in REFUSED:
            problems.append(f"{case}: {response.status_code} (expected 400/413/415/422)")
        elif not _has_message(response):
            problems.append(f"{case}: {response.status_code} without a message")
        if changed := _changed(world, before):
            problems.append(f"{case}: stored something: {changed}")
    before = snapshot(world.a)
    response = getattr(client, method)(url, data=json.dumps(_injected(body_schema)), content_type="application/json")
    if response.status_code >= 500:
        problems.append(f"injection strings: {response.status_code}")
    elif response.status_code >= 400 and (changed := _changed(world, before)):
        problems.append(f"injection strings refused ({response.status_code}) but stored something: {changed}")
    return problems


def test_the_schema_has_operations_to_check(db):
    assert sum(len(_operations_of(p)) for p in API_PATTERNS) >= 5


# --- every form on every tenant page ----------------------------------------------------------------

UI_PATTERNS = [p for p in crawl.tenant_patterns() if not p.is_api]


@pytest.mark.parametrize("pattern", UI_PATTERNS, ids=lambda p: p.name)
def test_forms_refuse_malformed_input(pattern, world):
    forms = [data for method, data in world.harvest.get(pattern.name, []) if method in ("post", "put", "patch")]
    client = _client(world.users_a[Role.ADMIN])
    url = crawl.build_url(pattern, world, slug_side="a", object_side="a")
    if not forms:
        # A page without a form takes no input: junk posted to it is refused or ignored, never stored.
        before = snapshot(world.a)
        for headers in ({}, {"HX-Request": "true"}):
            response = client.generic(
                "POST", url, b"name=%FF%FE&x=" + HTML.encode(), "application/x-www-form-urlencoded", headers=headers
            )
            assert response.status_code < 500, f"{pattern} {url}: junk POST -> {response.status_code}"
            assert HTML not in response.content.decode("utf-8", errors="replace"), "markup came back unescaped"
        assert _changed(world, before) == [], f"{pattern} {url}: a junk POST stored something"
        return
    fields = forms[0]
    problems = []

    def post_raw(body: bytes, headers=None):
        return client.generic("POST", url, body, content_type="application/x-www-form-urlencoded", headers=headers)

    raw_cases = {
        "invalid UTF-8": "&".join(f"{name}=%FF%FE%FD" for name in fields or {"name": ""}).encode(),
        "Shift_JIS": urlencode(
            {name: "株式会社テスト" for name in fields or {"name": ""}}, encoding="shift_jis"
        ).encode(),
        "oversized body": urlencode({**fields, "name": "a" * HUGE}).encode(),
    }
    for case, body in raw_cases.items():
        for headers in ({}, {"HX-Request": "true"}):
            before = snapshot(world.a)
            response = post_raw(body, headers)
            if response.status_code != 400:
                problems.append(f"{case} {headers}: {response.status_code} (expected 400)")
            elif not _has_message(response):
                problems.append(f"{case}: 400 without a message")
            if changed := _changed(world, before):
                problems.append(f"{case}: stored something: {changed}")
    for case, value in {"wrong types": "∞-not-valid-⚠", "SQL injection": SQL, "HTML injection": HTML}.items():
        before = snapshot(world.a)
        response = client.post(url, {name: value for name in fields}, headers={"HX-Request": "true"})
        if response.status_code >= 500:
            problems.append(f"{case}: {response.status_code}")
        elif response.status_code >= 400 and (changed := _changed(world, before)):
            problems.append(f"{case}: refused ({response.status_code}) but stored something: {changed}")
        elif HTML in response.content.decode("utf-8", errors="replace"):
            problems.append(f"{case}: the markup came back unescaped")
    assert not problems, f"{pattern} {url}:\n  " + "\n  ".join(problems)


# --- the public ingestion endpoints -----------------------------------------------------------------


def test_public_form_refuses_malformed_input(world):
    from leads.models import FormEndpoint
    from tenants.context import tenant_scope

    with tenant_scope(world.a.id):
        form = FormEndpoint.objects.order_by("pk").first()
    url = f"/f/{world.a.slug}/{form.key}/"
    client = Client(raise_request_exception=False)
    for case, body, content_type in (
        ("invalid UTF-8", b"email=%FF%FE&name=%FF", "application/x-www-form-urlencoded"),
        ("Shift_JIS JSON", '{"email": "テスト@example.jp"}'.encode("shift_jis"), "application/json"),
        ("oversized", b"email=a@b.jp&name=" + b"a" * HUGE, "application/x-www-form-urlencoded"),
        ("wrong token", b"email=a%40b.jp&ondo_token=nope", "application/x-www-form-urlencoded"),
    ):
        before = snapshot(world.a)
        response = client.generic("POST", url, body, content_type=content_type)
        assert 400 <= response.status_code < 500, f"{case}: {response.status_code}"
        assert _has_message(response), case
        assert _changed(world, before) == [], case


def test_segment_batch_refuses_malformed_input(world):
    import base64

    token = base64.b64encode(f"{world.plain_key_a}:".encode()).decode()
    client = Client(raise_request_exception=False, headers={"Authorization": f"Basic {token}"})
    for case, body in (
        ("invalid UTF-8", b'{"batch": [{"type": "track", "event": "\xff\xfe", "userId": "u1"}]}'),
        ("Shift_JIS", '{"batch": [{"type": "track", "event": "資料請求", "userId": "u1"}]}'.encode("shift_jis")),
        ("oversized", b'{"batch": [{"type": "track", "event": "' + b"a" * HUGE + b'"}]}'),
        ("not JSON", b"batch=1"),
        ("wrong types", b'{"batch": "not a list"}'),
    ):
        before = snapshot(world.a)
        response = client.generic("POST", "/v1/batch", body, content_type="application/json")
        assert 400 <= response.status_code < 500, f"{case}: {response.status_code}"
        assert _changed(world, before) == [], case


def test_injection_strings_are_stored_as_text_and_shown_escaped(world):
    """A lead named like an SQL or HTML injection is just a lead with an odd name."""
    client = _client(api_key=world.plain_key_a)
    response = client.post(
        "/api/v1/leads/", {"email": "odd@example.jp", "name": HTML, "company": SQL}, content_type="application/json"
    )
    assert response.status_code in (200, 201), response.content
    from leads.models import Lead
    from tenants.context import tenant_scope

    with tenant_scope(world.a.id):
        lead = Lead.objects.get(email="odd@example.jp")
        assert (lead.name, lead.company) == (HTML, SQL)
        assert Lead.objects.count() > 1, "the table is still there"
    page = _client(world.users_a[Role.ADMIN]).get(f"/t/{world.a.slug}/leads/{lead.pk}/")
    assert page.status_code == 200
    assert HTML not in page.content.decode() and "&lt;script&gt;" in page.content.decode()
