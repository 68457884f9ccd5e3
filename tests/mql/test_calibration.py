"""Calibration on generated data: proposed points follow what converts, lifts, thin-data notes,
the Celery task with progress, copying into a draft scoring model (never published), and the
rule features matching the engine's own semantics on PostgreSQL and in Python."""

import random
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from leads.models import Activity, Lead, LeadFeedback
from mql import calibration, features
from mql.models import CalibrationRun
from scoring import engine
from scoring.models import ModelStatus, ScoringModel
from scoring.services import install_default_model
from tenants.context import tenant_scope

pytestmark = pytest.mark.django_db


def generate(n: int, *, seed: int = 7) -> None:
    """Leads where a pricing-page view and an executive title drive wins; email opens are noise."""
    rng = random.Random(seed)
    now = timezone.now()
    leads = Lead.objects.bulk_create(
        [
            Lead(
                email=f"gen{i}@company{i % 97}.co.jp",
                title="取締役" if rng.random() < 0.25 else "担当",
                channel=rng.choice(["seo", "event", "ads"]),
                industry=rng.choice(["IT", "製造業", "小売"]),
            )
            for i in range(n)
        ]
    )
    activities, outcomes = [], []
    for lead in leads:
        pricing = rng.random() < 0.3
        opens = rng.randint(0, 4)
        if pricing:
            activities.append(Activity(lead=lead, type="pricing_view", occurred_at=now - timedelta(days=3)))
        activities += [
            Activity(lead=lead, type="email_open", occurred_at=now - timedelta(days=d + 1)) for d in range(opens)
        ]
        odds = 0.08 + 0.55 * pricing + 0.3 * (lead.title == "取締役")
        won = rng.random() < odds
        outcomes.append(
            LeadFeedback(
                lead=lead,
                outcome="won" if won else "lost",
                reason="" if won else "no_budget",
                amount=1000 if won else None,
                occurred_at=now - timedelta(days=1),
            )
        )
    Activity.objects.bulk_create(activities)
    LeadFeedback.objects.bulk_create(outcomes)


@pytest.fixture
def seeded(scoped):
    install_default_model()
    generate(600)
    return scoped


def rule(result, label):
    return next(r for r in result["rules"] if r["label"] == label)


def test_proposed_points_follow_what_converts(seeded):
    result = calibration.calibrate(target="won")
    assert result["labelled"] == 600 and 0 < result["positives"] < 600
    pricing, opens = rule(result, "価格ページ閲覧"), rule(result, "メール開封")
    executive = rule(result, "役職:経営者・役員")
    assert pricing["proposed"] > opens["proposed"] and executive["proposed"] > opens["proposed"]
    assert pricing["lift"] > 2 and executive["lift"] > 1.5
    assert rule(result, "ウェビナー参加")["fires"] == 0 and rule(result, "ウェビナー参加")["thin"]
    assert result["auc_rule_model"] > 0.75 and result["proposed"]["auc"] > 0.75
    assert result["data_model"]["auc"] > 0.7
    assert 0 < result["n_test"] < result["labelled"]
    assert result["notes"] == []  # 600 outcomes, both sides well populated: no confidence warning


def test_thin_history_is_refused_with_a_clear_message(scoped):
    install_default_model()
    generate(20)
    run = CalibrationRun.objects.create(target="won")
    result = calibration.calibration_execute(run_id=run.pk)
    assert result.status == "failed"
    assert "履歴が足りません" in result.error  # the tenant's language (Japanese by default)


def test_the_task_reports_progress_and_the_page_shows_the_result(
    tenant, users, client_for, django_capture_on_commit_callbacks
):
    with tenant_scope(tenant.id):
        install_default_model()
        generate(300)
    client = client_for(users["marketing"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("mql:calibration", kwargs={"slug": tenant.slug}), {"target": "won"})
    assert response.status_code == 302
    with tenant_scope(tenant.id):
        run = CalibrationRun.objects.get()
        assert (run.status, run.progress) == ("done", 100)
        assert any("300" in note for note in run.result["notes"])  # under 500 outcomes: a confidence note
    page = client.get(response["Location"]).content.decode()
    assert 'data-testid="auc-proposed"' in page and "価格ページ閲覧" in page
    fragment = client.get(
        reverse("mql:calibration_run", kwargs={"slug": tenant.slug, "run_id": run.pk}), HTTP_HX_REQUEST="true"
    )
    assert fragment.status_code == 200 and 'id="calibration-run"' in fragment.content.decode()
    assert (
        client_for(users["sales"])
        .post(reverse("mql:calibration", kwargs={"slug": tenant.slug}), {"target": "won"})
        .status_code
        == 403
    )


def test_copy_into_a_draft_never_publishes(seeded, users):
    run = CalibrationRun.objects.create(target="won")
    run = calibration.calibration_execute(run_id=run.pk)
    active_before = ScoringModel.objects.get(status=ModelStatus.ACTIVE)
    pricing_key = rule(run.result, "価格ページ閲覧")["key"]
    version = calibration.calibration_copy_to_draft(run=run, actor=users["marketing"], rule_keys=[pricing_key])
    draft = ScoringModel.objects.get(version=version)
    assert draft.status == ModelStatus.DRAFT
    assert draft.behaviour_rules.get(label="価格ページ閲覧").points == rule(run.result, "価格ページ閲覧")["proposed"]
    assert draft.behaviour_rules.get(label="メール開封").points == 5  # not chosen: unchanged
    active_after = ScoringModel.objects.get(status=ModelStatus.ACTIVE)
    assert active_after.pk == active_before.pk
    assert active_after.behaviour_rules.get(label="価格ページ閲覧").points == 25


def test_rule_features_match_the_engine_semantics(seeded):
    ids = list(Lead.objects.order_by("id").values_list("id", flat=True)[:80])
    spec = engine.spec_for(engine.active_model())
    now = timezone.now()
    sql = features.rule_feature_matrix(spec, ids, as_of=now)
    python = features._rule_matrix_python(spec, ids, now)
    assert (sql == python).all()
    # The features reproduce the engine's score where no decay or cap applies.
    points = [c.points for c in features.rule_columns(spec)]
    scores = engine.score_python(spec, ids, now)
    assert [int(row @ points) for row in python] == [scores[i].total for i in ids]
