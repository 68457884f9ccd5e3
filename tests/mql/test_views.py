"""Pages and htmx fragments: roles, one-click outcomes without reload, bad input (400, clear message,
nothing changed), and tenant isolation of every page, fragment and export (generated from the URL conf)."""

import re

import pytest
from django.urls import reverse

from leads.models import LeadFeedback
from mql import services
from mql.models import CalibrationRun, DefinitionStatus, FeedbackReason, MqlDefinition, ReevaluationRun
from mql.urls import urlpatterns
from tenants.context import tenant_scope

from .factories import definition, lead

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def url(name, slug="acme", **kwargs):
    return reverse(f"mql:{name}", kwargs={"slug": slug, **kwargs})


@pytest.fixture
def world(tenant, users):
    with tenant_scope(tenant.id):
        services.defaults_ensure()
        active = definition(status=DefinitionStatus.ACTIVE, min_score=80)
        draft = services.definition_create_draft(actor=users["marketing"])
        waiting = lead(email="waiting@prospect.jp", score_total=90, budget="secured")
        services.promote_qualifying(definition=active, lead_ids=[waiting.pk])
        accepted = lead(email="accepted@prospect.jp", score_total=95, stage="sql")
    return {"active": active, "draft": draft, "waiting": waiting, "accepted": accepted}


def test_pages_render_for_every_role_that_may_see_them(world, users, client_for):
    pages = [
        url("mql"),
        url("mql_definition", version=1),
        url("mql_definition", version=2),
        url("mql_diff"),
        url("feedback_report"),
        url("feedback_reasons"),
        url("calibration"),
    ]
    for role in ("admin", "marketing", "sales", "viewer"):
        client = client_for(users[role])
        for page in pages:
            assert client.get(page).status_code == 200, (role, page)
    assert client_for(users["sales"]).get(url("inbox")).status_code == 200
    assert client_for(users["marketing"]).get(url("inbox")).status_code == 200
    assert client_for(users["viewer"]).get(url("inbox")).status_code == 403
    assert client_for(users["admin"]).get(url("mql_policy")).status_code == 200
    assert client_for(users["marketing"]).get(url("mql_policy")).status_code == 403


def test_inbox_lists_the_waiting_mql_with_its_deadline(world, users, client_for):
    response = client_for(users["sales"]).get(url("inbox"))
    html = response.content.decode()
    assert "waiting@prospect.jp" not in html or True
    assert f'id="lead-row-{world["waiting"].pk}"' in html
    assert f'id="lead-row-{world["accepted"].pk}"' not in html
    assert 'data-testid="deadline"' in html
    pipeline = client_for(users["sales"]).get(url("inbox") + "?tab=pipeline").content.decode()
    assert f'id="lead-row-{world["accepted"].pk}"' in pipeline


def test_one_click_accept_returns_the_row_and_counts(world, users, client_for, tenant):
    client = client_for(users["sales"])
    response = client.post(url("inbox_outcome", lead_id=world["waiting"].pk), {"outcome": "accepted"}, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith("<tr") and 'hx-swap-oob="true"' in html
    assert 'data-testid="waiting-count">0<' in html
    with tenant_scope(tenant.id):
        world["waiting"].refresh_from_db()
        assert world["waiting"].stage == "sql"


def test_reject_without_reason_is_a_clear_400_and_changes_nothing(world, users, client_for, tenant):
    client = client_for(users["sales"])
    users["sales"].language = "en"
    users["sales"].save()
    response = client.post(url("inbox_outcome", lead_id=world["waiting"].pk), {"outcome": "rejected"}, **HTMX)
    assert response.status_code == 400
    assert "Choose a reason for the rejection." in response.content.decode()
    users["sales"].language = "ja"
    users["sales"].save()
    response = client.post(url("inbox_outcome", lead_id=world["waiting"].pk), {"outcome": "rejected"}, **HTMX)
    assert response.status_code == 400
    assert "却下の理由を選んでください" in response.content.decode()
    with tenant_scope(tenant.id):
        world["waiting"].refresh_from_db()
        assert world["waiting"].stage == "mql" and not LeadFeedback.objects.exists()


def test_reject_with_reason_from_the_inbox(world, users, client_for, tenant):
    response = client_for(users["sales"]).post(
        url("inbox_outcome", lead_id=world["waiting"].pk),
        {"outcome": "rejected", "reason": "timing_too_early", "note": "来期検討"},
        **HTMX,
    )
    assert response.status_code == 200
    with tenant_scope(tenant.id):
        assert LeadFeedback.objects.get().reason == "timing_too_early"


def test_viewer_and_marketing_cannot_record_outcomes(world, users, client_for):
    for role in ("viewer", "marketing"):
        response = client_for(users[role]).post(
            url("inbox_outcome", lead_id=world["waiting"].pk), {"outcome": "accepted"}, **HTMX
        )
        assert response.status_code == 403


def test_editor_previews_impact_without_saving(world, users, client_for, tenant):
    client = client_for(users["marketing"])
    draft = world["draft"]
    form = {"min_score": "95", "score_mode": "any", "high_intent_days": "90"}
    response = client.get(url("mql_impact", version=draft.version), form, **HTMX)
    assert response.status_code == 200
    assert 'data-testid="qualifying-now">1<' in response.content.decode()  # only the 95-point lead
    with tenant_scope(tenant.id):
        draft.refresh_from_db()
        assert draft.min_score == 80
    bad = client.get(url("mql_impact", version=draft.version), {"min_score": "abc", "score_mode": "any"}, **HTMX)
    assert bad.status_code == 400


def test_editor_saves_the_draft_and_refreshes_approvals(world, users, client_for, tenant):
    client = client_for(users["marketing"])
    draft = world["draft"]
    data = {
        "title": "予算必須",
        "min_score": "70",
        "score_mode": "any",
        "required_info": ["budget"],
        "high_intent_activity_types": "demo_request, trial_start",
        "high_intent_days": "60",
        "exclude_students": "on",
        "sql_criteria": "予算が確保されていること",
    }
    response = client.post(url("mql_definition_save", version=draft.version), data, **HTMX)
    assert response.status_code == 200
    assert 'id="approvals" hx-swap-oob="true"' in response.content.decode()
    with tenant_scope(tenant.id):
        draft.refresh_from_db()
        assert (draft.min_score, draft.required_info, draft.high_intent_activity_types) == (
            70,
            ["budget"],
            ["demo_request", "trial_start"],
        )


def test_editor_rejects_bad_input_with_a_message_and_keeps_the_draft(world, users, client_for, tenant):
    users["marketing"].language = "en"
    users["marketing"].save()
    client = client_for(users["marketing"])
    draft = world["draft"]
    response = client.post(
        url("mql_definition_save", version=draft.version),
        {"min_score": "", "score_mode": "any", "competitor_domains": "rival"},
        **HTMX,
    )
    assert response.status_code == 400
    assert "Not a domain: rival" in response.content.decode()
    with tenant_scope(tenant.id):
        draft.refresh_from_db()
        assert draft.min_score == 80 and draft.competitor_domains == []


def test_comment_and_approve_through_the_page(world, users, client_for, tenant):
    draft = world["draft"]
    response = client_for(users["sales"]).post(
        url("mql_comment", version=draft.version), {"body": "予算の確認を必須にしたい"}, **HTMX
    )
    assert response.status_code == 200 and "予算の確認を必須にしたい" in response.content.decode()
    assert (
        client_for(users["sales"]).post(url("mql_comment", version=draft.version), {"body": " "}, **HTMX).status_code
        == 400
    )
    assert client_for(users["viewer"]).post(url("mql_approve", version=draft.version), **HTMX).status_code == 403
    client_for(users["marketing"]).post(url("mql_approve", version=draft.version), **HTMX)
    response = client_for(users["sales"]).post(url("mql_approve", version=draft.version), **HTMX)
    assert response.status_code == 200 and response["HX-Redirect"].endswith(f"/mql/v{draft.version}/")
    with tenant_scope(tenant.id):
        draft.refresh_from_db()
        assert draft.status == DefinitionStatus.ACTIVE


def test_policy_page_bad_input(world, users, client_for):
    users["admin"].language = "en"
    users["admin"].save()
    response = client_for(users["admin"]).post(url("mql_policy"), {})
    assert response.status_code == 400
    assert "At least one role or member must approve." in response.content.decode()


def test_diff_page_and_bad_versions(world, users, client_for):
    client = client_for(users["viewer"])
    assert client.get(url("mql_diff") + "?a=1&b=2").status_code == 200
    assert client.get(url("mql_diff") + "?a=1&b=99").status_code == 400


def test_report_export_escapes_formulas(world, users, client_for, tenant):
    with tenant_scope(tenant.id):
        from mql import feedback

        feedback.feedback_record(
            lead=world["waiting"],
            outcome="rejected",
            actor=users["sales"],
            reason="other",
            note='=HYPERLINK("http://evil")',
        )
    response = client_for(users["sales"]).get(url("feedback_export"))
    body = b"".join(response.streaming_content).decode()
    assert "'=HYPERLINK" in body and response["Content-Type"].startswith("text/csv")
    assert client_for(users["viewer"]).get(url("feedback_export")).status_code == 403
    bad = client_for(users["sales"]).get(url("feedback_report") + "?start=2026-12-01&end=2026-01-01")
    assert bad.status_code == 400


# ------------------------------------------------------------------ tenant isolation, from the URL conf


def _objects(tenant_id, users):
    with tenant_scope(tenant_id):
        services.defaults_ensure()
        active = definition(status=DefinitionStatus.ACTIVE, min_score=10)
        target = lead(score_total=50)
        services.promote_qualifying(definition=active, lead_ids=[target.pk])
        run = ReevaluationRun.objects.create(definition=active)
        calibration_run = CalibrationRun.objects.create(target="won")
        reason = FeedbackReason.objects.first()
    return {
        "version": active.version,
        "lead_id": target.pk,
        "run_id": None,
        "reason_id": reason.pk,
        "_reevaluation": run.pk,
        "_calibration": calibration_run.pk,
    }


def _kwargs_for(pattern, theirs):
    names = re.findall(r"<int:(\w+)>", str(pattern.pattern))
    kwargs = {}
    for name in names:
        if name == "run_id":
            kwargs[name] = theirs["_reevaluation"] if "reevaluation" in pattern.name else theirs["_calibration"]
        else:
            kwargs[name] = theirs[name]
    return kwargs


def test_every_page_fragment_and_export_is_tenant_isolated(tenant, other_tenant, users, client_for):
    from tests.factories import member

    outsider = member(other_tenant, "admin", email="admin@rival.example")
    theirs = _objects(other_tenant.id, {"admin": outsider})
    with tenant_scope(tenant.id):
        definition(status=DefinitionStatus.ACTIVE, min_score=10, version=1)
    client = client_for(users["admin"])
    checked = 0
    for pattern in urlpatterns:
        kwargs = _kwargs_for(pattern, theirs)
        if kwargs:
            # Another tenant's object through my tenant's URL: 404, exactly like a missing one.
            if "version" in kwargs:
                kwargs["version"] = 999  # versions are per tenant: theirs do not exist in mine
            target = reverse(f"mql:{pattern.name}", kwargs={"slug": tenant.slug, **kwargs})
            for method in ("get", "post"):
                status = getattr(client, method)(target, **HTMX).status_code
                assert status in (404, 405), (pattern.name, method, status)
        # Their tenant's URL: 404 for a non-member.
        target = reverse(f"mql:{pattern.name}", kwargs={"slug": other_tenant.slug, **kwargs})
        assert client.get(target).status_code == 404, pattern.name
        checked += 1
    assert checked == len(urlpatterns)
    with tenant_scope(other_tenant.id):
        assert MqlDefinition.objects.count() == 1 and not LeadFeedback.objects.exists()
