from django.urls import path

from . import views

app_name = "kpis"

# Mounted under /t/<slug>/kpis/ (see config/urls.py).
urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/review/", views.review, name="review"),
    path("review-log/<int:pk>/status/", views.review_status, name="review_status"),
    path("export/<slug:table>.csv", views.export, name="export"),
    path("planner/", views.planner, name="planner"),
    path("planner/calculate/", views.planner_calculate, name="planner_calculate"),
    path("planner/save/", views.planner_save, name="planner_save"),
    path("tree/", views.tree, name="tree"),
    path("tree/ksf/", views.ksf_save, name="ksf_create"),
    path("tree/ksf/<int:pk>/", views.ksf_save, name="ksf_update"),
    path("tree/ksf/<int:pk>/delete/", views.ksf_delete, name="ksf_delete"),
    path("targets/", views.targets, name="targets"),
    path("spend/", views.spend, name="spend"),
    path("rules/", views.rules, name="rules"),
]
