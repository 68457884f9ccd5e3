from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ScoringConfig(AppConfig):
    name = "scoring"
    verbose_name = _("Scoring")

    def ready(self) -> None:
        from leads.hooks import register_leads_changed

        from .tasks import on_leads_changed

        register_leads_changed(on_leads_changed)
