from django.urls import path

from . import views

app_name = "scoring"

# Mounted under /t/<slug>/scoring/ (see config/urls.py).
urlpatterns = [
    path("", views.models, name="models"),
    path("v<int:version>/", views.model_detail, name="model_detail"),
    path("v<int:version>/sheet.csv", views.sheet_export, name="sheet_export"),
    path("v<int:version>/rollback/", views.rollback, name="rollback"),
    path("compare/", views.compare, name="compare"),
    path("import/", views.sheet_import, name="sheet_import"),
    path("draft/", views.draft, name="draft"),
    path("draft/new/", views.draft_create, name="draft_create"),
    path("draft/impact/", views.impact, name="impact"),
    path("draft/rules/<str:kind>/new/", views.rule_form, name="rule_new"),
    path("draft/rules/<str:kind>/<int:pk>/", views.rule_form, name="rule_edit"),
    path("draft/rules/<str:kind>/<int:pk>/delete/", views.rule_delete, name="rule_delete"),
    path("draft/segments/", views.segments_save, name="segments_save"),
    path("draft/publish/", views.publish, name="publish"),
    path("draft/discard/", views.draft_discard, name="draft_discard"),
    path("recompute/", views.recompute, name="recompute"),
    path("runs/<int:run_id>/", views.run_status, name="run_status"),
    path("leads/<int:pk>/explanation/", views.lead_explanation, name="lead_explanation"),
    path("alerts/", views.alerts, name="alerts"),
    path("alerts/<int:pk>/follow-up/", views.alert_follow_up, name="alert_follow_up"),
    path("settings/", views.alert_settings, name="settings"),
]
