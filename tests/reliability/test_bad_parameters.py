"""Numbers, ids, cursors and years typed into a URL or a form by hand (issue #19, Low 1).

A superscript two passes `str.isdigit()`, Arabic-Indic digits pass `int()`, a 20-digit id overflows
bigint, a cursor is just base64 anyone can edit, and a year 1 or 9999 date overflows when it is turned
into a time span. Each of them answers a clear 4xx (or the page's default), never a 5xx, and changes
nothing.
"""

from __future__ import annotations

import base64
import json

import pytest

from tenants.models import Role

from .objects import diff, snapshot
from .test_isolation import _client

JUNK_NUMBERS = ["²", "١٢", "abc", "-1", "99999999999999999999", "1.5", " 1", "0x10", "١"]

IGNORED_IN_SNAPSHOT = {"tenants.TenantAPIKey"}  # last_used_at moves when the key is used


@pytest.fixture
def world(realistic_world, db):
    return realistic_world


def _lead(world):
    from leads.models import Lead
    from tenants.context import tenant_scope

    with tenant_scope(world.a.id):
        return Lead.objects.order_by("pk").first()


def _changed(world, before) -> list[str]:
    return [label for label in diff(before, snapshot(world.a)) if label not in IGNORED_IN_SNAPSHOT]


def _text(response) -> str:
    return response.content.decode("utf-8", errors="replace")


# (name, method, path under /t/<slug>/ or an /api/ path, data for the junk value). A path with
# `{lead}` gets A's first lead.
ENDPOINTS = [
    ("lead timeline", "get", "leads/{lead}/timeline/", lambda v: {"before": v}),
    ("lead merge page", "get", "leads/{lead}/merge/", lambda v: {"other": v}),
    ("lead merge", "post", "leads/{lead}/merge/", lambda v: {"other": v}),
    ("notification read", "post", "notifications/read/", lambda v: {"id": v}),
    ("KPI dashboard owner", "get", "kpis/dashboard/", lambda v: {"owner": v}),
    ("API KPI summary owner", "api-get", "/api/v1/kpis/summary/", lambda v: {"owner": v}),
    ("lead settings custom field", "post", "leads/settings/", lambda v: {"action": "custom_field_delete", "id": v}),
    ("lead settings mapping", "post", "leads/settings/", lambda v: {"action": "mapping_delete", "id": v}),
    ("lead settings form rotate", "post", "leads/settings/", lambda v: {"action": "form_rotate", "id": v}),
    ("lead settings form toggle", "post", "leads/settings/", lambda v: {"action": "form_toggle", "id": v}),
    ("lead bulk ids", "post", "leads/bulk/", lambda v: {"ids": v, "action": "stage", "stage": "sql"}),
    ("lead bulk owner", "post", "leads/bulk/", lambda v: {"ids": "1", "action": "owner", "owner": v}),
    ("lead list owner", "get", "leads/", lambda v: {"owner": v}),
    ("scoring compare", "get", "scoring/compare/", lambda v: {"left": v, "right": v}),
    ("MQL compare", "get", "scoring/mql/compare/", lambda v: {"a": v, "b": v}),
    ("calibration run", "get", "scoring/calibration/", lambda v: {"run": v}),
]


def _request(world, method: str, path: str, data: dict):
    """The request, as a callable: the client logs in (an audited event) before the snapshot."""
    if method.startswith("api-"):
        client = _client(api_key=world.plain_key_a)
        return lambda: getattr(client, method[4:])(path, data)
    url = f"/t/{world.a.slug}/" + path.format(lead=_lead(world).pk)
    client = _client(world.users_a[Role.ADMIN])
    return lambda: getattr(client, method)(url, data)


@pytest.mark.parametrize("value", JUNK_NUMBERS)
@pytest.mark.parametrize(("name", "method", "path", "data"), ENDPOINTS, ids=[e[0] for e in ENDPOINTS])
def test_a_junk_number_is_refused_or_ignored_never_a_server_error(world, name, method, path, data, value):
    send = _request(world, method, path, data(value))
    before = snapshot(world.a)
    response = send()
    assert response.status_code < 500, f"{name} {value!r}: {response.status_code}"
    if response.status_code >= 400:
        assert _text(response).strip(), f"{name} {value!r}: {response.status_code} without a message"
    assert _changed(world, before) == [], f"{name} {value!r}: something changed"


def test_a_junk_id_is_refused_with_a_translated_message(world):
    """The Japanese member reads why the merge cannot start, not a bare error page."""
    client = _client(world.users_a[Role.ADMIN])
    lead = _lead(world)
    response = client.get(f"/t/{world.a.slug}/leads/{lead.pk}/merge/", {"other": "²"}, HTTP_ACCEPT_LANGUAGE="ja")
    assert response.status_code == 400
    assert "統合するリードを選んでください。" in _text(response)
    response = client.get(f"/t/{world.a.slug}/leads/{lead.pk}/merge/", {"other": "abc"})
    assert response.status_code == 400


def test_the_kpi_summary_api_names_the_bad_owner(world):
    response = _client(api_key=world.plain_key_a).get("/api/v1/kpis/summary/", {"owner": "²"})
    assert response.status_code == 400
    assert "owner" in response.json()


# --- cursors ---------------------------------------------------------------------------------------


def _b64(raw: str) -> str:
    return base64.b64encode(raw.encode()).decode()  # DRF's cursors keep their padding


def _lead_cursor(payload) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


LEAD_LIST_CURSORS = {
    "not base64": "zzz$$$",
    "not JSON": _lead_cursor("not json")[:-2],
    "a dict": _lead_cursor({"n": 1}),
    "two items": _lead_cursor(["n", 1]),
    "an object value": _lead_cursor(["n", {"$ne": None}, 1]),
    "a list value": _lead_cursor(["n", [1, 2], 1]),
    "text for a number": _lead_cursor(["n", "abc", 1]),
    "a huge id": _lead_cursor(["n", None, 10**30]),
    "a huge value": _lead_cursor(["n", 10**30, 1]),
    "a float id": _lead_cursor(["p", None, 1.5]),
    "a boolean id": _lead_cursor(["n", None, True]),
    "a bad date": _lead_cursor(["n", "2020-13-45T99:00:00", 1]),
    "year 9999 date": _lead_cursor(["n", "9999-12-31T23:59:59+00:00", 1]),
    "NUL text": _lead_cursor(["n", "a\x00b", 1]),
}
SORTS = ["-created", "score", "-last_activity", "name", "employees", "stage"]


@pytest.mark.parametrize("sort", SORTS)
@pytest.mark.parametrize("cursor", list(LEAD_LIST_CURSORS.values()), ids=list(LEAD_LIST_CURSORS))
def test_a_tampered_lead_list_cursor_gives_the_first_page(world, cursor, sort):
    client = _client(world.users_a[Role.ADMIN])
    url = f"/t/{world.a.slug}/leads/"
    first = client.get(url, {"o": sort})
    assert first.status_code == 200
    for headers in ({}, {"HX-Request": "true"}):
        response = client.get(url, {"o": sort, "page": cursor}, headers=headers)
        assert response.status_code in (200, 400), f"{cursor!r} {sort}: {response.status_code}"
    response = client.get(url, {"o": sort, "page": cursor})
    if response.status_code == 200:
        assert _lead(world).email in _text(response) or "lead" in _text(response).lower()


DRF_CURSORS = {
    "not base64": "zzz$$$",
    "text position": _b64("p=abc"),
    "superscript position": _b64("p=²"),
    "huge position": _b64("p=99999999999999999999"),
    "negative offset": _b64("o=-5&p=1"),
    "bad reverse": _b64("r=maybe&p=1"),
    "NUL position": _b64("p=a%00b"),
    "a date position": _b64("p=2020-13-45"),
}
API_LISTS = [
    "/api/v1/leads/",
    "/api/v1/activities/",
    "/api/v1/kpis/targets/",
    "/api/v1/kpis/spend/",
    "/api/v1/kpis/review-log/",
    "/api/v1/mql/feedback/",
    "/api/v1/mql/inbox/",
    "/api/v1/scoring/alerts/",
]


@pytest.mark.parametrize("path", API_LISTS)
@pytest.mark.parametrize("cursor", list(DRF_CURSORS.values()), ids=list(DRF_CURSORS))
def test_a_tampered_api_cursor_is_refused(world, path, cursor):
    response = _client(api_key=world.plain_key_a).get(path, {"cursor": cursor})
    assert response.status_code == 400, f"{path} {cursor!r}: {response.status_code}"
    assert response.json()["cursor"], response.content


# --- years ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("0001-01-01", "2026-01-31"),
        ("2026-01-01", "9999-12-31"),
        ("0001-01-01", "9999-12-31"),
        ("1999-12-31", "2026-01-31"),
        ("2026-01-01", "2101-01-01"),
    ],
)
@pytest.mark.parametrize("page", ["feedback/report/", "feedback/export.csv"])
def test_the_feedback_report_refuses_years_outside_2000_to_2100(world, start, end, page):
    client = _client(world.users_a[Role.ADMIN])  # a Japanese member
    response = client.get(f"/t/{world.a.slug}/scoring/{page}", {"start": start, "end": end})
    assert response.status_code == 400, f"{start}..{end}: {response.status_code}"
    assert "2000年から2100年までの日付を選んでください。" in _text(response)


def test_the_feedback_report_still_takes_an_ordinary_range(world):
    client = _client(world.users_a[Role.ADMIN])
    response = client.get(f"/t/{world.a.slug}/scoring/feedback/report/", {"start": "2026-01-01", "end": "2026-03-31"})
    assert response.status_code == 200
