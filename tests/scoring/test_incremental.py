"""Incremental rescore: one lead, right after something happened — locked, scored with the model active at that
moment, and cheap enough to run for every ingest (its score statement is prepared once per connection)."""

from datetime import timedelta

from django.db import connection
from django.utils import timezone

from leads.models import Activity
from scoring import engine, services
from scoring.models import ModelStatus, ScoringModel, SegmentTransition


def prepared_score_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE statement LIKE '%%scoring_hotleadalert%%'")
        return [row[0] for row in cursor.fetchall()]


def test_the_score_statement_is_prepared_once_per_connection_and_reused(model, make_lead, act):
    leads = [make_lead() for _ in range(3)]
    for lead in leads:
        act(lead, "download")
    engine.rescore_leads([leads[0].pk])
    assert len(prepared_score_statements()) == 1
    engine.rescore_leads([leads[1].pk])
    engine.rescore_leads([leads[2].pk, leads[0].pk])
    assert len(prepared_score_statements()) == 1


def test_a_prepared_rescore_scores_like_the_reference(model, make_lead, act):
    leads = [make_lead(title="取締役", employee_count=600) for _ in range(6)]
    types = ["email_open", "email_click", "download", "pricing_view", "form_start"]
    for number, lead in enumerate(leads):
        for type_ in types[:number]:  # lead n did the first n of them: six different totals
            act(lead, type_, at=timezone.now() - timedelta(hours=number))
    for lead in leads:  # prepared after the first run on this connection: each run must still score its own lead
        engine.rescore_leads([lead.pk])
    spec = engine.spec_for(model)
    expected = engine.score_python(spec, [lead.pk for lead in leads], timezone.now())
    for lead in leads:
        lead.refresh_from_db()
        assert (lead.score_behaviour, lead.score_fit, lead.segment) == (
            expected[lead.pk].behaviour,
            expected[lead.pk].fit,
            expected[lead.pk].segment,
        )
    assert len({lead.score_total for lead in leads}) == len(leads)


def test_the_rescore_uses_the_model_active_when_it_runs(model, make_lead, act):
    lead = make_lead()
    act(lead, "download")
    engine.rescore_leads([lead.pk])
    first_total = type(lead).objects.get(pk=lead.pk).score_total
    draft = services.draft_get_or_create()
    download = draft.behaviour_rules.get(activity_type="download")
    download.points += 7
    download.save(update_fields=["points"])
    # Activate the new version directly (no full recompute): the next rescore must read it, not a cached model.
    ScoringModel.objects.filter(pk=model.pk).update(status=ModelStatus.ARCHIVED)
    ScoringModel.objects.filter(pk=draft.pk).update(status=ModelStatus.ACTIVE)
    Activity.objects.create(lead=lead, type="email_open", occurred_at=timezone.now())
    engine.rescore_leads([lead.pk])
    lead.refresh_from_db()
    assert lead.score_model_version == draft.version
    assert lead.score_total == first_total + 7 + 5  # +7 on the download rule, +5 for the email open


def test_a_lead_of_a_tenant_without_an_active_model_is_left_alone(scoped, make_lead, act):
    lead = make_lead()
    act(lead, "download")
    result = engine.rescore_leads([lead.pk])
    lead.refresh_from_db()
    assert (result.updated, lead.scored_at, SegmentTransition.objects.count()) == (0, None, 0)
