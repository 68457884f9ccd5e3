from django.contrib import admin

from tenants.admin import PlatformTenantOwnedAdmin

from .models import HotLeadAlert, ScoreRun, ScoringModel, ScoringSettings, SegmentTransition


@admin.register(ScoringModel)
class ScoringModelAdmin(PlatformTenantOwnedAdmin):
    list_display = ["tenant", "version", "status", "name", "published_at"]
    list_filter = ["status"]


@admin.register(ScoreRun)
class ScoreRunAdmin(PlatformTenantOwnedAdmin):
    list_display = [
        "tenant",
        "id",
        "kind",
        "status",
        "model_version",
        "done_chunks",
        "total_chunks",
        "leads_changed",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "kind"]


@admin.register(SegmentTransition)
class SegmentTransitionAdmin(PlatformTenantOwnedAdmin):
    list_display = ["tenant", "lead_id", "from_segment", "to_segment", "model_version", "occurred_at"]


@admin.register(HotLeadAlert)
class HotLeadAlertAdmin(PlatformTenantOwnedAdmin):
    list_display = ["tenant", "id", "lead_id", "created_at", "due_at", "followed_up_at", "webhook_status"]


@admin.register(ScoringSettings)
class ScoringSettingsAdmin(PlatformTenantOwnedAdmin):
    list_display = ["tenant", "follow_up_hours", "email_alerts", "webhook_url"]
