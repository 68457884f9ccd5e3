"""API: a CRM pushes outcomes (by lead id or email), reads the inbox, definitions and reasons.
Reject without a reason is refused (400, clear message, nothing changed); other tenants' leads 404."""

import pytest
from rest_framework.test import APIClient

from leads.models import LeadFeedback
from mql import services
from mql.models import DefinitionStatus
from tenants.context import tenant_scope
from tenants.services import api_key_create

from .factories import definition, lead

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(tenant, users):
    with tenant_scope(tenant.id):
        _key, plain = api_key_create(name="SFA", actor=users["admin"], scopes=["read", "admin"])  # a CRM key
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {plain}")
    return client


@pytest.fixture
def handed_over(tenant):
    with tenant_scope(tenant.id):
        services.defaults_ensure()
        active = definition(status=DefinitionStatus.ACTIVE, min_score=80)
        subject = lead(email="crm@prospect.co.jp", score_total=90)
        services.promote_qualifying(definition=active, lead_ids=[subject.pk])
    return subject


def test_crm_pushes_an_acceptance_by_email(api, handed_over, tenant):
    response = api.post("/api/v1/mql/feedback/", {"email": "CRM@prospect.co.jp", "outcome": "accepted"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["stage"] == "sql" and response.json()["mql_definition_version"] == 1
    again = api.post("/api/v1/mql/feedback/", {"email": "crm@prospect.co.jp", "outcome": "accepted"}, format="json")
    assert again.status_code == 200  # a retried push records nothing new
    with tenant_scope(tenant.id):
        assert LeadFeedback.objects.count() == 1


def test_reject_without_reason_is_refused(api, handed_over, tenant):
    response = api.post(
        "/api/v1/mql/feedback/",
        {"lead_id": handed_over.pk, "outcome": "rejected"},
        format="json",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400
    assert "reason" in response.json()
    ok = api.post(
        "/api/v1/mql/feedback/",
        {"lead_id": handed_over.pk, "outcome": "rejected", "reason": "no_budget", "stage": "disqualified"},
        format="json",
    )
    assert ok.status_code == 201 and ok.json()["stage"] == "disqualified"


def test_bad_payloads_are_400_and_change_nothing(api, handed_over, tenant):
    for payload in (
        {"outcome": "accepted"},
        {"lead_id": handed_over.pk, "outcome": "maybe"},
        {"lead_id": handed_over.pk, "outcome": "won", "amount": "lots"},
        {"lead_id": handed_over.pk, "outcome": "accepted", "occurred_at": "yesterday"},
    ):
        assert api.post("/api/v1/mql/feedback/", payload, format="json").status_code == 400, payload
    with tenant_scope(tenant.id):
        handed_over.refresh_from_db()
        assert handed_over.stage == "mql" and not LeadFeedback.objects.exists()


def test_reads(api, handed_over):
    inbox = api.get("/api/v1/mql/inbox/").json()["results"]
    assert [row["email"] for row in inbox] == ["crm@prospect.co.jp"]
    assert api.get("/api/v1/mql/definitions/active/").json()["min_score"] == 80
    assert {r["key"] for r in api.get("/api/v1/mql/reasons/").json()} >= {"no_budget", "competitor", "other"}
    api.post("/api/v1/mql/feedback/", {"lead_id": handed_over.pk, "outcome": "accepted"}, format="json")
    listed = api.get("/api/v1/mql/feedback/?outcome=accepted").json()["results"]
    assert len(listed) == 1 and listed[0]["lead_id"] == handed_over.pk


def test_other_tenants_leads_and_data_are_invisible(api, handed_over, other_tenant, users):
    with tenant_scope(other_tenant.id):
        services.defaults_ensure()
        theirs_active = definition(status=DefinitionStatus.ACTIVE, min_score=1)
        theirs = lead(email="theirs@rival.co.jp", score_total=50)
        services.promote_qualifying(definition=theirs_active, lead_ids=[theirs.pk])
    assert (
        api.post("/api/v1/mql/feedback/", {"lead_id": theirs.pk, "outcome": "accepted"}, format="json").status_code
        == 404
    )
    assert (
        api.post(
            "/api/v1/mql/feedback/", {"email": "theirs@rival.co.jp", "outcome": "accepted"}, format="json"
        ).status_code
        == 404
    )
    emails = [row["email"] for row in api.get("/api/v1/mql/inbox/").json()["results"]]
    assert emails == ["crm@prospect.co.jp"]
    assert api.get("/api/v1/mql/definitions/").json()["results"][0]["min_score"] == 80
    with tenant_scope(other_tenant.id):
        theirs.refresh_from_db()
        assert theirs.stage == "mql"


def test_session_users_need_the_feedback_capability(handed_over, users, tenant):
    client = APIClient()
    client.force_login(users["viewer"], backend="django.contrib.auth.backends.ModelBackend")
    response = client.post(
        "/api/v1/mql/feedback/",
        {"lead_id": handed_over.pk, "outcome": "accepted"},
        format="json",
        HTTP_X_ONDO_TENANT=tenant.slug,
    )
    assert response.status_code == 403
    client.force_login(users["sales"], backend="django.contrib.auth.backends.ModelBackend")
    response = client.post(
        "/api/v1/mql/feedback/",
        {"lead_id": handed_over.pk, "outcome": "accepted"},
        format="json",
        HTTP_X_ONDO_TENANT=tenant.slug,
    )
    assert response.status_code == 201
    with tenant_scope(tenant.id):
        assert LeadFeedback.objects.get().recorded_by == users["sales"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("occurred_at", "0001-01-01T00:30:00+01:00"),  # stored as 1 BC it could not be read back
        ("occurred_at", "1999-12-31"),
        ("expected_close_on", "0001-01-01"),
        ("expected_close_on", "2101-01-01"),
    ],
)
def test_times_outside_the_sane_range_are_400_and_change_nothing(api, handed_over, tenant, field, value):
    outcome = "opportunity" if field == "expected_close_on" else "accepted"
    payload = {"lead_id": handed_over.pk, "outcome": outcome, field: value}
    response = api.post("/api/v1/mql/feedback/", payload, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400 and field in response.json()
    with tenant_scope(tenant.id):
        assert not LeadFeedback.objects.exists()


def test_an_offset_beyond_15_59_is_recorded_as_the_same_moment(api, handed_over, tenant):
    payload = {"lead_id": handed_over.pk, "outcome": "accepted", "occurred_at": "2026-11-01T10:00:00+20:00"}
    assert api.post("/api/v1/mql/feedback/", payload, format="json").status_code == 201
    with tenant_scope(tenant.id):
        assert LeadFeedback.objects.get().occurred_at.isoformat() == "2026-10-31T14:00:00+00:00"
