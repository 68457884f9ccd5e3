"""Full recompute: set-based, staged and swapped atomically, idempotent, resumable after a crash,
and a constant number of queries whatever the tenant's size."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leads.models import Activity, Lead
from scoring import engine
from scoring.models import HotLeadAlert, RunStatus, SegmentTransition

from ..factories import leads_with_activity


def populate(n: int, seed: int = 3) -> list[int]:
    return [lead.pk for lead in leads_with_activity(n, seed=seed, email_prefix=f"bulk{seed}-")]


def snapshot() -> dict[int, tuple]:
    return {
        row[0]: row[1:]
        for row in Lead.objects.values_list(
            "id", "score_behaviour", "score_fit", "score_total", "segment", "score_model_version"
        )
    }


def run_full():
    run = engine.run_create()
    return engine.run_execute(run.pk)


def test_full_recompute_matches_the_python_reference(model):
    ids = populate(300)
    run = run_full()
    assert run.status == RunStatus.SUCCEEDED
    assert run.leads_changed == 300
    expected = engine.score_python(engine.spec_for(model), ids, run.as_of)
    stored = snapshot()
    assert {i: (s.behaviour, s.fit, s.total, s.segment, 1) for i, s in expected.items()} == stored


def test_running_twice_gives_identical_results(model):
    populate(200)
    run_full()
    first = snapshot()
    transitions = SegmentTransition.objects.count()
    alerts = HotLeadAlert.objects.count()
    again = run_full()
    assert again.leads_changed == 0
    assert snapshot() == first
    assert (SegmentTransition.objects.count(), HotLeadAlert.objects.count()) == (transitions, alerts)


def test_a_crash_mid_run_leaves_the_old_scores_and_a_rerun_finishes(model, monkeypatch):
    populate(200)
    before = snapshot()
    monkeypatch.setattr(engine, "CHUNK_IDS", 40)
    run = engine.run_create()
    original = engine.build_score_query
    calls = {"n": 0}

    def crash_on_third_chunk(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("worker killed")
        return original(*args, **kwargs)

    monkeypatch.setattr(engine, "build_score_query", crash_on_third_chunk)
    with pytest.raises(RuntimeError):
        engine.run_execute(run.pk)
    assert snapshot() == before  # nothing swapped in: readers never saw half a tenant
    run.refresh_from_db()
    assert run.done_chunks == 2
    monkeypatch.setattr(engine, "build_score_query", original)
    # The broker re-delivers the task: the run resumes after its last committed chunk.
    run.status = RunStatus.RUNNING
    run.save(update_fields=["status"])
    finished = engine.run_execute(run.pk)
    assert finished.status == RunStatus.SUCCEEDED
    clean = snapshot()
    assert clean != before
    assert run_full().leads_changed == 0  # the resumed run's result is the clean result
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM scoring_score_stage")
        assert cursor.fetchone()[0] == 0


def test_a_finished_run_is_not_executed_again(model):
    populate(20)
    run = run_full()
    again = engine.run_execute(run.pk)
    assert again.status == RunStatus.SUCCEEDED
    assert again.finished_at == run.finished_at


def test_an_incremental_rescore_after_the_snapshot_is_not_overwritten(model, monkeypatch):
    (lead_id,) = populate(1)
    run = engine.run_create()
    run.as_of = timezone.now() - timedelta(minutes=5)  # the run's snapshot is older than the rescore below
    run.save(update_fields=["as_of"])
    Activity.objects.create(lead_id=lead_id, type="pricing_view", occurred_at=timezone.now())
    Activity.objects.create(lead_id=lead_id, type="download", occurred_at=timezone.now())
    engine.rescore_leads([lead_id])
    fresh = snapshot()[lead_id]
    engine.run_execute(run.pk)
    assert snapshot()[lead_id] == fresh


def test_recompute_issues_the_same_number_of_queries_for_10_and_2000_leads(model):
    populate(10, seed=1)
    engine._PUBLISHED_SPECS.clear()
    with CaptureQueriesContext(connection) as small:
        run_full()
    Lead.objects.all().delete()
    populate(2000, seed=2)
    engine._PUBLISHED_SPECS.clear()
    with CaptureQueriesContext(connection) as large:
        run_full()
    assert len(small) == len(large)


def test_the_periodic_task_brings_time_based_rules_up_to_date(
    model, make_lead, act, django_capture_on_commit_callbacks
):
    from scoring import services, tasks

    draft = services.draft_get_or_create()
    download = draft.behaviour_rules.get(label="資料ダウンロード")
    services.behaviour_rule_save(
        model=draft,
        rule=download,
        data={"label": download.label, "activity_type": "download", "points": 20, "recency_days": 30},
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.model_publish(model=draft)
    lead = make_lead()
    act(lead, "download", at=timezone.now() - timedelta(days=31))
    engine.rescore_leads([lead.pk], as_of=timezone.now() - timedelta(days=2))  # 29 days old then: counts
    lead.refresh_from_db()
    assert lead.score_behaviour == 20
    with django_capture_on_commit_callbacks(execute=True):
        tasks.fan_out_time_based_rescore()  # beat, every 15 minutes
    lead.refresh_from_db()
    assert lead.score_behaviour == 0


def test_models_without_time_based_rules_are_not_rescored_periodically(model):
    from scoring import tasks
    from scoring.models import ScoreRun

    tasks.fan_out_time_based_rescore()
    assert not ScoreRun.objects.exists()
