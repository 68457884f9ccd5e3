"""/api/v1/kpis/... routes."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter()
router.register("kpis/targets", api.KpiTargetViewSet, basename="kpi-target")
router.register("kpis/spend", api.ChannelSpendViewSet, basename="kpi-spend")
router.register("kpis/review-log", api.ReviewLogViewSet, basename="kpi-review-log")

urlpatterns = [path("kpis/summary/", api.KpiSummaryView.as_view(), name="kpi-summary"), *router.urls]
