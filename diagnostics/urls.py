from django.urls import path

from . import views

app_name = "diagnostics"

# Mounted under /t/<slug>/diagnostics/ (see config/urls.py).
urlpatterns = [
    path("", views.index, name="index"),
    path("start/", views.start, name="start"),
    path("health-card/", views.health_card, name="health_card"),
    path("auto/refresh/", views.auto_refresh, name="auto_refresh"),
    path("compare/", views.compare, name="compare"),
    path("history/<slug:template_key>/", views.history, name="history"),
    path("<int:pk>/", views.result, name="result"),
    path("<int:pk>/answer/", views.answer, name="answer"),
    path("<int:pk>/answer/side/", views.respondent_side, name="respondent_side"),
    path("<int:pk>/answer/<int:item_id>/", views.answer_save, name="answer_save"),
    path("<int:pk>/complete/", views.complete, name="complete"),
    path("<int:pk>/report/", views.report, name="report"),
    path("<int:pk>/export.csv", views.export_csv, name="export"),
]
