"""API-key authentication (no import of rest_framework.views: DRF loads this from settings)."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from .models import TenantAPIKey
from .roles import CAPABILITIES


class APIKeyPrincipal:
    """The caller behind an API key: an integration acting for one tenant."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    pk = None
    id = None

    def __init__(self, api_key: TenantAPIKey):
        self.api_key = api_key
        self.tenant_id = api_key.tenant_id

    def __str__(self) -> str:
        return f"api-key:{self.api_key.prefix}"

    def has_perm(self, perm: str, obj=None) -> bool:
        # Integrations push data and outcomes; tenant administration stays with people.
        return perm.removeprefix("ondo.") in CAPABILITIES and perm != "ondo.admin_tenant"


def api_key_lookup(raw_key: str) -> TenantAPIKey | None:
    """A valid (not revoked, not expired) key of an active tenant, or None."""
    try:
        # get_from_key is a manager method (a select_related() queryset does not have it).
        api_key = TenantAPIKey.objects.get_from_key(raw_key.strip())
    except TenantAPIKey.DoesNotExist:
        return None
    if api_key.has_expired or api_key.revoked or not api_key.tenant.is_active:
        return None
    if api_key.last_used_at is None or (timezone.now() - api_key.last_used_at).total_seconds() > 300:
        TenantAPIKey.objects.filter(pk=api_key.pk).update(last_used_at=timezone.now())
    return api_key


class TenantAPIKeyAuthentication(BaseAuthentication):
    keyword = "Api-Key"

    def authenticate(self, request):
        header = get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        keyword, _sep, raw_key = header.partition(" ")
        if keyword.lower() not in {"api-key", "bearer"} or not raw_key:
            return None
        api_key = api_key_lookup(raw_key)
        if api_key is None:
            raise exceptions.AuthenticationFailed(_("Invalid or revoked API key."))
        return APIKeyPrincipal(api_key), api_key

    def authenticate_header(self, request):
        return self.keyword
