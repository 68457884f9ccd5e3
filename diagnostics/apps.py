from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class DiagnosticsConfig(AppConfig):
    name = "diagnostics"
    verbose_name = _("Diagnostics")

    def ready(self) -> None:
        from .catalog import sync_after_migrate

        # The checklist templates live in checklists/*.json; every migrate brings the tables in step.
        post_migrate.connect(sync_after_migrate, sender=self, dispatch_uid="diagnostics_sync_checklists")
