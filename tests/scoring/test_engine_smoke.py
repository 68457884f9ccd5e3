from scoring import engine

from .conftest import score_both


def test_seed_model_scores_a_hot_executive(model, make_lead, act):
    lead = make_lead(title="代表取締役", employee_count=600, industry="ITサービス")
    act(lead, "pricing_view")
    spec = engine.spec_for(model)
    scores = score_both(spec, [lead.pk])
    assert scores[lead.pk] == (25, 75, 100, "hot")
