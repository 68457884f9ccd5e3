from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = _("Tenants and accounts")

    def ready(self):
        from django.core import checks
        from django.db.models.signals import post_migrate

        # roles registers the ondo.* permissions; schema the OpenAPI auth extension.
        from . import rls, roles, schema, security  # noqa: F401

        # Row-level security on every tenant-owned table after every migrate (all apps' tables).
        post_migrate.connect(security.apply_row_level_security, sender=self, dispatch_uid="ondo_apply_rls")
        security.connect()
        checks.register(rls.check_connected_role, checks.Tags.database)
        from .outbound import check_outbound_settings

        checks.register(check_outbound_settings, checks.Tags.security, deploy=True)
