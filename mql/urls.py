"""Pages of the MQL app: namespace `mql`, mounted under /t/<slug>/scoring/ (config/urls.py).

The paths stay under scoring/ (where the app lived before) so bookmarks keep working.
"""

from django.urls import path

from . import views

app_name = "mql"

urlpatterns = [
    path("mql/", views.mql_overview, name="mql"),
    path("mql/drafts/new/", views.mql_new_draft, name="mql_new_draft"),
    path("mql/compare/", views.mql_diff, name="mql_diff"),
    path("mql/approvers/", views.mql_policy, name="mql_policy"),
    path("mql/reevaluations/<int:run_id>/", views.mql_reevaluation, name="mql_reevaluation"),
    path("mql/v<int:version>/", views.mql_definition, name="mql_definition"),
    path("mql/v<int:version>/impact/", views.mql_impact, name="mql_impact"),
    path("mql/v<int:version>/save/", views.mql_definition_save, name="mql_definition_save"),
    path("mql/v<int:version>/discard/", views.mql_discard, name="mql_discard"),
    path("mql/v<int:version>/comments/", views.mql_comment, name="mql_comment"),
    path("mql/v<int:version>/approve/", views.mql_approve, name="mql_approve"),
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/<int:lead_id>/", views.inbox_lead, name="inbox_lead"),
    path("inbox/<int:lead_id>/outcome/", views.inbox_outcome, name="inbox_outcome"),
    path("inbox/<int:lead_id>/contacted/", views.inbox_contacted, name="inbox_contacted"),
    path("feedback/report/", views.feedback_report, name="feedback_report"),
    path("feedback/export.csv", views.feedback_export, name="feedback_export"),
    path("feedback/reasons/", views.feedback_reasons, name="feedback_reasons"),
    path("feedback/reasons/<int:reason_id>/", views.feedback_reason_edit, name="feedback_reason_edit"),
    path("calibration/", views.calibration_page, name="calibration"),
    path("calibration/<int:run_id>/", views.calibration_run, name="calibration_run"),
    path("calibration/<int:run_id>/copy/", views.calibration_copy, name="calibration_copy"),
]
