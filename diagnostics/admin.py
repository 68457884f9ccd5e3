"""Django admin (platform operators): checklist templates are read-only here — they come from
`diagnostics/checklists/*.json` and are synced on every migrate; assessments cross tenants
through the explicit platform bypass."""

from django.contrib import admin

from tenants.admin import PlatformTenantOwnedAdmin

from .models import Answer, Assessment, ChecklistItem, ChecklistTemplate


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ChecklistTemplate)
class ChecklistTemplateAdmin(ReadOnlyAdmin):
    list_display = ["key", "name_ja", "name_en", "source", "position", "is_active"]


@admin.register(ChecklistItem)
class ChecklistItemAdmin(ReadOnlyAdmin):
    list_display = [
        "template",
        "position",
        "key",
        "category",
        "cause",
        "action",
        "roadmap_phase",
        "evidence_key",
        "is_active",
    ]
    list_filter = ["template", "cause", "roadmap_phase", "action"]
    search_fields = ["key", "text_ja", "text_en"]


@admin.register(Assessment)
class AssessmentAdmin(PlatformTenantOwnedAdmin):
    list_display = ["created_at", "tenant", "template", "kind", "title", "completed_at"]
    list_filter = ["kind", "template"]
    readonly_fields = ["summary", "evidence"]


@admin.register(Answer)
class AnswerAdmin(PlatformTenantOwnedAdmin):
    list_display = ["answered_at", "tenant", "assessment", "item", "value"]
    list_filter = ["value"]
