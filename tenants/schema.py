"""OpenAPI (drf-spectacular) description of the tenant API-key authentication."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.generators import SchemaGenerator


class TenantAPIKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "tenants.authentication.TenantAPIKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>`: a tenant API key created by a tenant admin.",
        }


class TenantSafeSchemaGenerator(SchemaGenerator):
    """Builds the schema under the explicit platform bypass: filter sets and serializers touch
    `Model.objects` of tenant-owned models while there is no request tenant (no rows are read)."""

    def get_schema(self, request=None, public=False):
        from .context import platform_scope

        with platform_scope("OpenAPI schema generation (no rows are read)"):
            return super().get_schema(request=request, public=public)
