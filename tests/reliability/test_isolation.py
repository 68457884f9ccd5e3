"""Layer 1 of tenant isolation, alone: the application never serves or changes another tenant's data.

Every URL pattern under /t/<slug>/ and /api/v1/ is enumerated from the URLconf (tests/reliability/
crawl.py), so a new view is covered the moment it is routed. Tenant B holds one object of every
tenant-owned model, marked "QZXB9"; tenant A's members (every role), A's API key and A's members'
sessions on the API then try, for every pattern:

- B's slug in the URL (every method): 404, like a tenant that does not exist;
- A's slug with B's object ids (GET, GET as htmx, POST with plausible form data, POST as htmx, PUT,
  PATCH, DELETE): a 4xx (or a redirect to the login page), never B's data;
- A's own pages and endpoints with B's ids injected into form/JSON/query fields named after models
  (lead=..., tenant=...): no B data in the answer.

Every answer (body, headers, CSV exports, downloads, htmx fragments) is searched for B's markers,
and afterwards every row of tenant B is unchanged and no row of A references a row of B.

These requests run as the superuser that owns the test database, so row-level security (layer 2,
test_rls.py) is NOT what makes them pass: the application's own scoping is tested.
"""

from __future__ import annotations

import json
from urllib.parse import quote, urlencode, urlparse

import pytest
from django.apps import apps
from django.test import Client
from django.urls import Resolver404, resolve

from tenants.models import Role

from . import crawl
from .conftest import MARKER_B
from .objects import diff, snapshot

PATTERNS = crawl.tenant_patterns()
METHODS = ["get", "get-htmx", "post", "post-htmx", "put", "patch", "delete"]
B_MARKERS = [MARKER_B, "ライバル株式会社", "rival.example"]

# Statuses that reveal nothing. Redirects are allowed only to the login page.
SAFE_STATUSES = {400, 401, 403, 404, 405, 409, 410, 422}


@pytest.fixture
def world(realistic_world, db):
    if not hasattr(realistic_world, "harvest"):
        realistic_world.harvest = _harvest(realistic_world)
    return realistic_world


def _client(user=None, *, api_key: str | None = None, tenant_header: str | None = None) -> Client:
    headers = {}
    if api_key:
        headers["Authorization"] = f"Api-Key {api_key}"
    if tenant_header:
        headers["X-Ondo-Tenant"] = tenant_header
    client = Client(raise_request_exception=False, headers=headers)
    if user is not None:
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


ALL_METHODS = METHODS
FEW_METHODS = ["get", "post"]


def _callers(world, pattern) -> list[tuple[str, Client, list[str]]]:
    """Who tries, with which methods. Admin (every capability: reaches every object lookup) and the
    API key try everything; the other roles try reading and writing (most stop at the role check)."""
    callers = [
        (f"{role} of A", _client(world.users_a[role]), ALL_METHODS if role == Role.ADMIN else FEW_METHODS)
        for role in Role.values
    ]
    if pattern.is_api:
        callers.append(("A's API key", _client(api_key=world.plain_key_a), ALL_METHODS))
        callers.append(
            (
                "admin of A (session, X-Ondo-Tenant: A)",
                _client(world.users_a[Role.ADMIN], tenant_header=world.a.slug),
                FEW_METHODS,
            )
        )
    return callers


def _body_text(response) -> str:
    if getattr(response, "streaming", False):
        content = b"".join(response.streaming_content)
    else:
        content = response.content
    text = content.decode("utf-8", errors="replace")
    headers = " ".join(f"{k}: {v}" for k, v in response.items())
    if "json" in response.get("Content-Type", ""):
        try:
            text += json.dumps(json.loads(content), ensure_ascii=False)
        except ValueError:
            pass
    return text + " " + headers


def _leaks(response, requested_url: str = "") -> list[str]:
    """B's markers in the response -- other than the caller's own URL echoed back (e.g. a language
    switcher's `next`), which only repeats what the caller sent."""
    text = _body_text(response)
    if requested_url:
        text = text.replace(requested_url, " ").replace(quote(requested_url), " ")
    return [marker for marker in B_MARKERS if marker.lower() in text.lower()]


def _request(client, method: str, url: str, data: dict | None, *, api: bool):
    htmx = method.endswith("-htmx")
    verb = method.removesuffix("-htmx")
    headers = {"HX-Request": "true"} if htmx else {}
    data = data or {}
    if verb == "get":
        query = urlencode(data, doseq=True)
        return client.get(f"{url}?{query}" if query else url, headers=headers)
    if api or verb in ("put", "patch", "delete"):
        return getattr(client, verb)(url, data=json.dumps(data), content_type="application/json", headers=headers)
    return client.post(url, data=data, headers=headers)


def _is_login_redirect(response) -> bool:
    return response.status_code in (301, 302, 303) and "/accounts/login/" in response.get("Location", "")


# --- plausible data to send -------------------------------------------------------------------------


def _harvest(world) -> dict[str, list[tuple[str, dict]]]:
    """Forms on A's own pages (as A's admin) and JSON of A's own API objects, keyed by the URL
    pattern they submit to (ids in them are re-pointed at B per request)."""
    harvest: dict[str, list[tuple[str, dict]]] = {}
    admin = _client(world.users_a[Role.ADMIN])
    key = _client(api_key=world.plain_key_a)
    for pattern in PATTERNS:
        try:
            url = crawl.build_url(pattern, world, slug_side="a", object_side="a")
        except AssertionError:
            continue  # reported by the pattern's own test
        if pattern.is_api:
            response = key.get(url)
            if response.status_code == 200 and "json" in response.get("Content-Type", ""):
                payload = response.json()
                if isinstance(payload, dict) and isinstance(payload.get("results"), list):
                    payload = payload["results"][0] if payload["results"] else {}
                if isinstance(payload, list):
                    payload = payload[0] if payload else {}
                if isinstance(payload, dict):
                    harvest.setdefault(pattern.name, []).append(("json", payload))
            continue
        response = admin.get(url)
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        for method, action, data in crawl.harvest_forms(_body_text(response), url):
            try:
                match = resolve(urlparse(action).path or url)
            except Resolver404:
                continue
            harvest.setdefault(match.view_name, []).append((method, data))
    return harvest


def _model_named(name: str):
    stem = name.lower().removesuffix("_id").removesuffix("_pk").replace("_", "")
    for model in crawl._candidate_models():
        if model.__name__.lower() == stem:
            return model
    return None


def _point_at_b(data: dict, world, pattern) -> dict:
    """The same fields with every id-like field re-pointed at tenant B's objects, plus the tenant."""
    out = {}
    for key, value in data.items():
        if isinstance(value, dict | list):
            out[key] = value
            continue
        model = _model_named(key)
        if key in ("id", "pk"):
            try:
                spec = crawl.model_for_kwarg(pattern, "pk")
                model = None
                out[key] = crawl.kwarg_value(spec, world, "b")
                continue
            except AssertionError:
                pass
        if model is not None and world.object_of(model, "b") is not None:
            out[key] = world.object_of(model, "b").pk
        else:
            out[key] = value
    out.setdefault("tenant", world.b.id)
    out.setdefault("tenant_id", world.b.id)
    return {key: value for key, value in out.items() if value is not None}


def _bodies(world, pattern, method: str) -> list[dict]:
    verb = method.removesuffix("-htmx")
    harvested = world.harvest.get(pattern.name, [])
    wanted = [data for kind, data in harvested if kind == "json" or (kind == "get") == (verb == "get")]
    bodies = [_point_at_b(data, world, pattern) for data in wanted[:1]]
    if not bodies:
        bodies = [_point_at_b({"lead": None, "id": None}, world, pattern)] if verb != "get" else [{}]
    return bodies


# --- the test -----------------------------------------------------------------------------------------


def _urls(pattern, world) -> list[tuple[str, str, str, bool]]:
    """(A's own URL, A's slug with B's objects, B's slug, whether the URL names tenant objects) for
    each URL of the pattern. Kwargs that are constants or global catalogue rows give both tenants
    the same URL: those are A's own pages, tested with B's ids in the submitted fields instead."""

    def build(slug_side, object_side):
        return crawl.build_urls(pattern, world, slug_side=slug_side, object_side=object_side)

    own, b_ids = build("a", "a"), build("a", "b")
    if pattern.object_kwargs and own == b_ids:
        # A per-tenant number/name (e.g. version 1 in both tenants): give B's object another one.
        for kwarg in pattern.object_kwargs:
            spec = crawl.model_for_kwarg(pattern, kwarg)
            if isinstance(spec, str) and spec.count(".") == 2:
                label, field = spec.rsplit(".", 1)
                model = apps.get_model(label)
                obj = world.object_of(model, "b")
                value = getattr(obj, field)
                new = value + 900 if isinstance(value, int) else f"{value}-b"
                model._base_manager.filter(pk=obj.pk).update(**{field: new})
                setattr(obj, field, new)
        b_ids = build("a", "b")
    b_slug = build("b", "b")
    return [(o, i, s, o != i) for o, i, s in zip(own, b_ids, b_slug, strict=True)]


@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda p: p.name)
def test_tenant_a_cannot_reach_tenant_b(pattern, world):
    """Violations are collected for the whole pattern and reported together."""
    try:
        urls = _urls(pattern, world)
    except crawl.UnfillableKwarg as error:
        pytest.fail(str(error))
    before = snapshot(world.b)
    problems: list[str] = []
    server_errors: list[str] = []
    admin = _client(world.users_a[Role.ADMIN], api_key=world.plain_key_a if pattern.is_api else None)
    callers = _callers(world, pattern)
    for own_url, b_ids_url, b_slug_url, names_objects in urls:
        own_page_works = admin.get(own_url).status_code < 500  # else a 5xx below is the page's, not the input's
        for who, client, methods in callers:
            _try_as(
                who,
                client,
                methods,
                pattern,
                world,
                own_url,
                b_ids_url,
                b_slug_url,
                names_objects,
                own_page_works,
                problems,
                server_errors,
            )

    changed = diff(before, snapshot(world.b))
    if changed:
        problems.append(f"tenant B's rows changed: {changed}")
    problems += _cross_tenant_references(world)
    if server_errors:
        problems.append(
            "server errors (5xx) on requests carrying tenant B's ids -- the view does not validate them:\n    "
            + "\n    ".join(server_errors[:10])
        )
    assert not problems, f"{pattern}:\n  " + "\n  ".join(problems[:40])


def _try_as(
    who,
    client,
    methods,
    pattern,
    world,
    own_url,
    b_ids_url,
    b_slug_url,
    names_objects,
    own_page_works,
    problems,
    server_errors,
) -> None:
    if not pattern.is_api:  # B's slug: the tenant middleware must answer 404 to every method
        for method in methods:
            response = _request(client, method, b_slug_url, {}, api=False)
            if response.status_code != 404:
                problems.append(f"{who} {method.upper()} {b_slug_url} -> {response.status_code} (expected 404)")
    if names_objects:  # A's slug, B's object ids
        for method in methods:
            for body in _bodies(world, pattern, method):
                response = _request(client, method, b_ids_url, body, api=pattern.is_api)
                status = response.status_code
                if status >= 500:
                    server_errors.append(f"{who} {method.upper()} {b_ids_url} -> {status}")
                elif status not in SAFE_STATUSES and not _is_login_redirect(response):
                    problems.append(
                        f"{who} {method.upper()} {b_ids_url} (B's ids) -> {status} {response.get('Location', '')}"
                    )
                if leaks := _leaks(response, b_ids_url):
                    problems.append(f"{who} {method.upper()} {b_ids_url} shows tenant B's data {leaks}")
    else:  # A's own page/endpoint, B's ids injected into the fields
        for method in methods:
            for body in _bodies(world, pattern, method):
                response = _request(client, method, own_url, body, api=pattern.is_api)
                if response.status_code >= 500 and own_page_works:
                    server_errors.append(f"{who} {method.upper()} {own_url} {body} -> {response.status_code}")
                if leaks := _leaks(response):
                    problems.append(f"{who} {method.upper()} {own_url} with {body} shows tenant B's data {leaks}")


def test_every_tenant_url_pattern_is_crawled(world):
    """The crawl is not vacuous: it found the tenant UI and the API, and the world was built."""
    assert not world.build_failures, "building realistic tenant data failed:\n" + "\n".join(world.build_failures)
    names = {pattern.name for pattern in PATTERNS}
    assert "tenants:members" in names and "tenants:audit_log" in names
    assert any(pattern.is_api for pattern in PATTERNS), "no /api/v1/ pattern found"


def _cross_tenant_references(world) -> list[str]:
    """No row of A points at a row of B (e.g. an activity created in A for B's lead)."""
    from django.db import connection

    from tenants.models import TenantOwned

    from .objects import existing_tenant_owned_models

    problems = []
    with connection.cursor() as cursor:
        for model in existing_tenant_owned_models():
            for field in model._meta.concrete_fields:
                target = field.related_model if field.is_relation else None
                if not (isinstance(target, type) and issubclass(target, TenantOwned)):
                    continue
                cursor.execute(
                    f'SELECT count(*) FROM "{model._meta.db_table}" s JOIN "{target._meta.db_table}" t '  # noqa: S608
                    f'ON t.id = s."{field.column}" WHERE s.tenant_id <> t.tenant_id'
                )
                count = cursor.fetchone()[0]
                if count:
                    problems.append(f"{count} {model.__name__} row(s) reference another tenant's {target.__name__}")
    return problems
