"""Helpers shared by the diagnostics tests (run inside a tenant scope)."""


def scoring_model(*segment_keys, status="active", version=1):
    """A scoring model with these segments (hot ≥ 80, warm ≥ 50, the rest without a minimum)."""
    from scoring.models import ScoringModel, SegmentDefinition

    model = ScoringModel.objects.create(version=version, status=status)
    minimums = {"hot": 80, "warm": 50}
    for key in segment_keys:
        SegmentDefinition.objects.create(model=model, key=key, label=key, min_total=minimums.get(key))
    return model
