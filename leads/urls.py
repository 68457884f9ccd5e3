from django.urls import path

from . import views

app_name = "leads"

# Mounted under /t/<slug>/leads/ (see config/urls.py).
urlpatterns = [
    path("", views.lead_list, name="list"),
    path("new/", views.lead_create, name="create"),
    path("bulk/", views.lead_bulk, name="bulk"),
    path("export/", views.lead_export, name="export"),
    path("quality/", views.quality_page, name="quality"),
    path("duplicates/", views.duplicates, name="duplicates"),
    path("duplicates/<int:pk>/dismiss/", views.duplicate_dismiss, name="duplicate_dismiss"),
    path("settings/", views.lead_settings, name="settings"),
    path("import/", views.import_upload, name="import"),
    path("import/<int:pk>/", views.import_detail, name="import_detail"),
    path("import/<int:pk>/preview/", views.import_preview, name="import_preview"),
    path("import/<int:pk>/start/", views.import_start, name="import_start"),
    path("import/<int:pk>/progress/", views.import_progress, name="import_progress"),
    path("import/<int:pk>/retry/", views.import_retry, name="import_retry"),
    path("import/<int:pk>/errors.csv", views.import_errors, name="import_errors"),
    path("<int:pk>/", views.lead_detail, name="detail"),
    path("<int:pk>/field/<str:name>/", views.lead_field, name="field"),
    path("<int:pk>/stage/", views.lead_stage, name="stage"),
    path("<int:pk>/timeline/", views.lead_timeline, name="timeline"),
    path("<int:pk>/merge/", views.lead_merge, name="merge"),
    path("<int:pk>/delete/", views.lead_delete, name="delete"),
]
