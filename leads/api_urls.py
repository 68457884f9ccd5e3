"""/api/v1/ routes of the leads app."""

from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter()
router.register("leads", api.LeadViewSet, basename="lead")
router.register("activities", api.ActivityViewSet, basename="activity")

urlpatterns = router.urls
