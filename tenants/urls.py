from django.urls import path

from . import views

app_name = "tenants"

# Mounted under /t/<slug>/ (see config/urls.py).
urlpatterns = [
    path("settings/", views.tenant_settings, name="settings"),
    path("members/", views.members, name="members"),
    path("members/<int:membership_id>/", views.member_update, name="member_update"),
    path("invitations/<int:invitation_id>/revoke/", views.invitation_revoke, name="invitation_revoke"),
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/bell/", views.notification_bell, name="bell"),
    path("notifications/read/", views.notifications_read, name="notifications_read"),
    path("api-keys/", views.api_keys, name="api_keys"),
    path("api-keys/<str:key_id>/revoke/", views.api_key_revoke, name="api_key_revoke"),
    path("audit/", views.audit_log, name="audit_log"),
]
