"""/api/v1/: each app contributes its API routes here."""

from django.urls import include, path

urlpatterns = [
    path("", include("leads.api_urls")),
    path("", include("scoring.api_urls")),
    path("", include("mql.api_urls")),
    path("", include("kpis.api_urls")),
]
