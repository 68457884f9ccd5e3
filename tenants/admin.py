"""The Django admin is for platform operators. It crosses tenants, so every
tenant-owned model admin reads through the explicit platform bypass."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from .context import platform_scope
from .models import AuditEvent, Membership, Tenant, TenantAPIKey, User


class PlatformTenantOwnedAdmin(admin.ModelAdmin):
    """Base admin for tenant-owned models (bypass is named and logged)."""

    def get_queryset(self, request):
        with platform_scope(f"django admin: {request.user} lists {self.model.__name__}"):
            return self.model.unscoped_for_platform.all()

    def save_model(self, request, obj, form, change):
        with platform_scope(f"django admin: {request.user} saves {self.model.__name__}"):
            super().save_model(request, obj, form, change)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["user"]


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "timezone", "is_active", "created_at"]
    search_fields = ["name", "slug"]
    inlines = [MembershipInline]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "name", "language", "is_staff", "is_active"]
    search_fields = ["email", "name"]
    fieldsets = [
        (None, {"fields": ["email", "password", "name", "language"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]


@admin.register(AuditEvent)
class AuditEventAdmin(PlatformTenantOwnedAdmin):
    list_display = ["created_at", "tenant", "actor", "action", "target"]
    list_filter = ["action"]


@admin.register(TenantAPIKey)
class TenantAPIKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "tenant", "prefix", "created", "revoked"]
