"""/api/v1/scoring/...: included from config/api_urls.py."""

from django.urls import path

from . import api

urlpatterns = [
    path("scoring/models/", api.ModelList.as_view(), name="api-scoring-models"),
    path("scoring/models/<int:version>/", api.ModelDetail.as_view(), name="api-scoring-model"),
    path("scoring/models/<int:version>/sheet.csv", api.ModelSheet.as_view(), name="api-scoring-model-sheet"),
    path("scoring/models/<int:version>/rollback/", api.ModelRollback.as_view(), name="api-scoring-model-rollback"),
    path("scoring/draft/", api.DraftCreate.as_view(), name="api-scoring-draft"),
    path("scoring/draft/sheet/", api.DraftSheetImport.as_view(), name="api-scoring-draft-sheet"),
    path("scoring/draft/publish/", api.DraftPublish.as_view(), name="api-scoring-draft-publish"),
    path("scoring/draft/behaviour-rules/", api.BehaviourRuleListCreate.as_view(), name="api-scoring-behaviour-rules"),
    path(
        "scoring/draft/behaviour-rules/<int:pk>/", api.BehaviourRuleDetail.as_view(), name="api-scoring-behaviour-rule"
    ),
    path("scoring/draft/fit-rules/", api.FitRuleListCreate.as_view(), name="api-scoring-fit-rules"),
    path("scoring/draft/fit-rules/<int:pk>/", api.FitRuleDetail.as_view(), name="api-scoring-fit-rule"),
    path("scoring/recompute/", api.RecomputeCreate.as_view(), name="api-scoring-recompute"),
    path("scoring/runs/<int:pk>/", api.RunDetail.as_view(), name="api-scoring-run"),
    path("scoring/leads/<int:pk>/explanation/", api.LeadExplanation.as_view(), name="api-scoring-explanation"),
    path("scoring/alerts/", api.AlertList.as_view(), name="api-scoring-alerts"),
    path("scoring/alerts/<int:pk>/follow-up/", api.AlertFollowUp.as_view(), name="api-scoring-alert-follow-up"),
]
