"""OpenAPI (drf-spectacular) extensions of the leads API (loaded from LeadsConfig.ready)."""

from drf_spectacular.contrib.django_filters import DjangoFilterExtension

from tenants.context import platform_scope


class TenantFilterExtension(DjangoFilterExtension):
    """Filter parameters of tenant-scoped views: the generator asks the model's default manager for
    `.none()`, which the scoped manager refuses without a tenant. The FilterSets read no tenant data
    when no tenant is active (they describe the defaults)."""

    target_class = "leads.api.TenantFilterBackend"
    priority = 1

    def get_schema_operation_parameters(self, auto_schema, *args, **kwargs):
        with platform_scope("OpenAPI schema generation (no rows are read)"):
            return super().get_schema_operation_parameters(auto_schema, *args, **kwargs)
