from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KpisConfig(AppConfig):
    name = "kpis"
    verbose_name = _("KPIs")

    def ready(self) -> None:
        # Leads tell the layers above about changed leads; the rollups pick them up next minute.
        from leads.hooks import register_leads_changed

        from .rollups import mark_leads_dirty

        register_leads_changed(mark_leads_dirty)
