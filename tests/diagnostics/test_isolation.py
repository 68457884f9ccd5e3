"""Tenant isolation of every diagnostics view, fragment and export, generated from the URL conf."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import resolve

from diagnostics import evidence, services
from diagnostics import urls as diagnostics_urls
from diagnostics.models import Answer, Assessment, ChecklistItem
from tenants.context import tenant_scope
from tenants.roles import CAPABILITIES
from tests.diagnostics.helpers import diagnostics_rows
from tests.factories import LeadFactory, member

pytestmark = pytest.mark.django_db

PATTERNS = [(p.name, str(p.pattern)) for p in diagnostics_urls.urlpatterns]


def build(pattern: str, slug: str, *, pk: int, item_id: int, template_key: str = "lead_nurturing_30") -> str:
    path = (
        pattern.replace("<int:pk>", str(pk))
        .replace("<int:item_id>", str(item_id))
        .replace("<slug:template_key>", template_key)
    )
    assert "<" not in path, f"add a value for {pattern}"
    return f"/t/{slug}/diagnostics/{path}"


@pytest.fixture
def theirs(other_tenant, nurturing):
    """An assessment of the other tenant, answered, plus its auto-diagnosis."""
    outsider = member(other_tenant, "admin", email="admin@rival.example")
    with tenant_scope(other_tenant.id):
        LeadFactory(email="secret@rival.example", industry="")
        assessment = services.assessment_start(template_key="lead_nurturing_30", title="RIVAL-SECRET", actor=outsider)
        item = ChecklistItem.objects.get(template=nurturing, key="nurturing_goal_defined")
        services.answer_record(assessment=assessment, user=outsider, item_id=item.pk, value="yes", note="rival note")
        services.auto_diagnosis_run()
    return assessment, item


def test_every_view_declares_a_capability():
    for name, pattern in PATTERNS:
        view = resolve(build(pattern, "acme", pk=1, item_id=1)).func
        assert getattr(view, "ondo_capability", None) in CAPABILITIES, name


@pytest.mark.parametrize(("name", "pattern"), PATTERNS, ids=[n for n, _p in PATTERNS])
def test_another_tenants_slug_answers_404(name, pattern, tenant, other_tenant, users, client_for, theirs):
    assessment, item = theirs
    client = client_for(users["admin"])
    target = build(pattern, other_tenant.slug, pk=assessment.pk, item_id=item.pk)
    assert client.get(target).status_code == 404
    assert client.post(target, {"value": "no", "template": "lead_nurturing_30", "side": "sales"}).status_code == 404


@pytest.mark.parametrize(
    ("name", "pattern"),
    [(n, p) for n, p in PATTERNS if "<int:pk>" in p],
    ids=[n for n, p in PATTERNS if "<int:pk>" in p],
)
def test_another_tenants_assessment_under_my_slug_answers_404(name, pattern, tenant, users, client_for, theirs):
    assessment, item = theirs
    client = client_for(users["admin"])
    target = build(pattern, tenant.slug, pk=assessment.pk, item_id=item.pk)
    for response in (client.get(target, HTTP_HX_REQUEST="true"), client.post(target, {"value": "no", "side": "sales"})):
        assert response.status_code in (404, 405), (name, response.status_code)
        assert b"RIVAL-SECRET" not in response.content and b"rival note" not in response.content
    with tenant_scope(assessment.tenant_id):
        assert list(Answer.objects.filter(assessment=assessment).values_list("value", flat=True)) == ["yes"]
        assert Assessment.objects.get(pk=assessment.pk).completed_at is None


def test_comparing_another_tenants_assessments_looks_like_missing_ones(tenant, users, client_for, theirs, assessment):
    rival, _item = theirs
    client = client_for(users["viewer"])
    foreign = client.get(f"/t/{tenant.slug}/diagnostics/compare/", {"a": assessment.pk, "b": rival.pk})
    missing = client.get(f"/t/{tenant.slug}/diagnostics/compare/", {"a": assessment.pk, "b": 10**9})
    assert foreign.status_code == missing.status_code == 400
    assert foreign.context["error"] == missing.context["error"]
    assert b"RIVAL-SECRET" not in foreign.content


def test_lists_cards_and_exports_show_only_my_tenant(tenant, users, client_for, theirs, assessment):
    client = client_for(users["admin"])
    for path in ("", "health-card/", "history/lead_nurturing_30/"):
        body = client.get(f"/t/{tenant.slug}/diagnostics/{path}").content
        assert b"RIVAL-SECRET" not in body
    card = client.get(f"/t/{tenant.slug}/diagnostics/health-card/")
    assert card.context["auto"] is None  # the rival's auto-diagnosis is not mine
    csv_body = client.get(f"/t/{tenant.slug}/diagnostics/{assessment.pk}/export.csv").content.decode("utf-8")
    assert "rival note" not in csv_body


def test_evidence_counts_only_my_tenants_data(tenant, theirs):
    with tenant_scope(tenant.id):
        assert evidence.compute("attribute_completeness").state == evidence.NO_DATA
        LeadFactory(industry="IT")
        assert evidence.compute("attribute_completeness").metrics["leads"] == 1


@pytest.mark.parametrize(("name", "pattern"), PATTERNS, ids=[n for n, _p in PATTERNS])
def test_roles_without_the_capability_get_403_and_change_nothing(
    name, pattern, tenant, users, client_for, assessment, items, django_capture_on_commit_callbacks
):
    item = items["nurturing_goal_defined"]
    target = build(pattern, tenant.slug, pk=assessment.pk, item_id=item.pk)
    capability = resolve(target).func.ondo_capability
    method = "post" if re.search(r"(start|refresh|complete|side|<int:item_id>)", pattern) else "get"
    data = {"value": "yes", "template": "lead_nurturing_30", "side": "sales"} if method == "post" else None
    for role, user in users.items():
        allowed = role in CAPABILITIES[capability]
        before = diagnostics_rows(tenant.id)
        with django_capture_on_commit_callbacks(execute=True):  # a refused refresh enqueues nothing either
            response = getattr(client_for(user), method)(target, data)
        assert (response.status_code != 403) == allowed, (name, role, response.status_code)
        if not allowed:
            assert diagnostics_rows(tenant.id) == before, (name, role)


WRITES = re.compile(r"^\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)
# Written by the platform around any page, on purpose: the session (saved on every request) and the
# audit trail of a file handed out (the CSV export). Neither is a default created by reading.
PLATFORM = re.compile(r'^\s*(UPDATE "django_session"|INSERT INTO "tenants_auditevent")')


@pytest.mark.parametrize(("name", "pattern"), PATTERNS, ids=[n for n, _p in PATTERNS])
def test_get_never_writes(name, pattern, tenant, users, client_for, assessment, items, answer):
    """Reading a page (or a fragment) never creates defaults: no INSERT, UPDATE or DELETE at all."""
    answer(assessment, users["marketing"], items["nurturing_goal_defined"], "yes")
    client = client_for(users["admin"])  # every capability, so every page renders; not answered yet himself
    target = build(pattern, tenant.slug, pk=assessment.pk, item_id=items["nurturing_goal_defined"].pk)
    params = {"a": assessment.pk, "b": assessment.pk} if name == "compare" else None
    with CaptureQueriesContext(connection) as queries:
        for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
            response = client.get(target, params, **headers)
            assert response.status_code in (200, 302, 400, 405), (name, response.status_code)
    writes = [q["sql"] for q in queries.captured_queries if WRITES.match(q["sql"]) and not PLATFORM.search(q["sql"])]
    assert writes == [], (name, writes)
