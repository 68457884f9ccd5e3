"""Only the leads API, for the schema test (other apps' endpoints are their own tests' business)."""

from django.urls import include, path

urlpatterns = [path("api/v1/", include("leads.api_urls"))]
