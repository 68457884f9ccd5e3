"""Operators' view of the MQL app's tables (crosses tenants through the named platform bypass)."""

from django.contrib import admin

from tenants.admin import PlatformTenantOwnedAdmin

from .models import CalibrationRun, FeedbackReason, Handover, MqlApproval, MqlDefinition


@admin.register(MqlDefinition)
class MqlDefinitionAdmin(PlatformTenantOwnedAdmin):
    list_display = ["tenant", "version", "status", "title", "min_score", "activated_at"]
    list_filter = ["status"]


@admin.register(MqlApproval)
class MqlApprovalAdmin(PlatformTenantOwnedAdmin):
    list_display = ["tenant", "definition", "approver", "role", "approved_at"]


@admin.register(FeedbackReason)
class FeedbackReasonAdmin(PlatformTenantOwnedAdmin):
    list_display = ["tenant", "key", "label_ja", "label_en", "kind", "default_stage", "is_active"]


@admin.register(Handover)
class HandoverAdmin(PlatformTenantOwnedAdmin):
    list_display = [
        "tenant",
        "lead",
        "definition_version",
        "handed_over_at",
        "deadline_at",
        "first_contact_at",
        "closed_at",
        "outcome",
    ]


@admin.register(CalibrationRun)
class CalibrationRunAdmin(PlatformTenantOwnedAdmin):
    list_display = ["tenant", "id", "target", "status", "progress", "created_at", "finished_at"]
    readonly_fields = ["result"]
