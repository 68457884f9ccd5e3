"""Helpers shared by the diagnostics tests (run inside a tenant scope)."""

MINIMUMS = {"burning": 90, "hot": 80, "warm": 50}  # the rest without a minimum


def scoring_model(*segment_keys, status="active", version=1, labels=None):
    """A scoring model with these segments (burning ≥ 90, hot ≥ 80, warm ≥ 50, the rest without a minimum)."""
    from scoring.models import ScoringModel, SegmentDefinition

    model = ScoringModel.objects.create(version=version, status=status)
    for key in segment_keys:
        label = (labels or {}).get(key, key)
        SegmentDefinition.objects.create(model=model, key=key, label=label, min_total=MINIMUMS.get(key))
    return model


def diagnostics_rows(tenant_id):
    """Everything a diagnostics write could change for a tenant, to show a refused request changed nothing."""
    from diagnostics.models import Answer, Assessment, Respondent
    from tenants.context import tenant_scope

    with tenant_scope(tenant_id):
        return (
            sorted(Assessment.objects.values_list("pk", "kind", "completed_at", "title", "summary")),
            sorted(Respondent.objects.values_list("pk", "assessment_id", "user_id", "side")),
            sorted(Answer.objects.values_list("pk", "respondent_id", "item_id", "value", "note")),
        )
