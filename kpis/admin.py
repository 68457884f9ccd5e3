"""Operators' view of KPI data (platform admin; tenants use the app's own pages)."""

from django.contrib import admin

from tenants.admin import PlatformTenantOwnedAdmin

from .models import ChannelSpend, Kgi, KpiTarget, Ksf, ReviewAlert, ReviewLogEntry, ReviewRule, RollupState


@admin.register(Kgi)
class KgiAdmin(PlatformTenantOwnedAdmin):
    list_display = ["tenant", "period_type", "period_start", "goal_type", "target_value", "updated_at"]
    list_filter = ["period_type", "goal_type"]


@admin.register(Ksf)
class KsfAdmin(PlatformTenantOwnedAdmin):
    list_display = ["tenant", "kgi", "title", "position"]


@admin.register(KpiTarget)
class KpiTargetAdmin(PlatformTenantOwnedAdmin):
    list_display = ["tenant", "kpi", "channel", "period_type", "period_start", "target_value", "source"]
    list_filter = ["period_type", "source"]


@admin.register(ChannelSpend)
class ChannelSpendAdmin(PlatformTenantOwnedAdmin):
    list_display = ["tenant", "channel", "month", "amount"]


@admin.register(ReviewRule)
class ReviewRuleAdmin(PlatformTenantOwnedAdmin):
    list_display = ["tenant", "kind", "period_type", "consecutive_periods", "change_percent", "is_active"]


@admin.register(ReviewAlert)
class ReviewAlertAdmin(PlatformTenantOwnedAdmin):
    list_display = ["tenant", "kind", "kpi", "occurrence_start", "last_period_start", "created_at", "resolved_at"]
    list_filter = ["kind"]


@admin.register(ReviewLogEntry)
class ReviewLogEntryAdmin(PlatformTenantOwnedAdmin):
    list_display = ["tenant", "period_type", "period_start", "kpi", "status", "due_on", "created_at"]
    list_filter = ["status"]


@admin.register(RollupState)
class RollupStateAdmin(PlatformTenantOwnedAdmin):
    list_display = [
        "tenant",
        "last_refresh_at",
        "last_refresh_mode",
        "last_refresh_ms",
        "last_full_at",
        "last_full_ms",
        "needs_full",
    ]
