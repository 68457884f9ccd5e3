from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView, TemplateView
from drf_spectacular.views import SpectacularAPIView

from config.api_docs import SwaggerDocsView
from tenants import views as tenant_views

tenant_patterns = [
    path("", tenant_views.tenant_home, name="tenant_home"),
    path("", include("tenants.urls")),
    path("leads/", include("leads.urls")),
    path("scoring/", include("scoring.urls")),
    # MQL pages keep their /scoring/... paths (bookmarks) in their own namespace.
    path("scoring/", include("mql.urls")),
    path("kpis/", include("kpis.urls")),
    path("diagnostics/", include("diagnostics.urls")),
]

urlpatterns = [
    path("", tenant_views.home, name="home"),
    path("t/<slug:slug>/", include(tenant_patterns)),
    # Before allauth's own route: the e-mail page with Ondo's ownership rules (tenants/accounts.py).
    path("accounts/email/", tenant_views.EmailView.as_view(), name="account_email"),
    path("accounts/", include("allauth.urls")),
    path("language/", tenant_views.switch_language, name="switch_language"),
    path("invite/<str:token>/", tenant_views.invitation_accept, name="invitation_accept"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SwaggerDocsView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", RedirectView.as_view(pattern_name="api-docs", permanent=False), name="api-redoc"),
    path("api/v1/", include("config.api_urls")),
    # Segment/RudderStack-compatible /v1/batch, /v1/identify, /v1/track, /v1/page and the public form /f/<slug>/<key>/.
    path("", include("leads.public_urls")),
    path("healthz/", TemplateView.as_view(template_name="healthz.txt", content_type="text/plain"), name="healthz"),
    path("ops/admin/", admin.site.urls),
]
