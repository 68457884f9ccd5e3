from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MqlConfig(AppConfig):
    """MQL definition, sales feedback and calibration: an app of its own above scoring."""

    name = "mql"
    label = "mql"
    verbose_name = _("MQL definition and feedback")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import hooks

        hooks.connect()
