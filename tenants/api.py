"""The API's tenancy: API-key authentication, a base view that owns the tenant
scope and the queryset, capability permissions, errors, pagination, throttling."""

from __future__ import annotations

from contextlib import ExitStack

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, pagination, permissions, throttling

from .authentication import APIKeyPrincipal
from .context import tenant_scope
from .models import Membership
from .roles import can


def tenant_id_for_request(request) -> int:
    """The tenant an authenticated API request acts for."""
    if isinstance(request.user, APIKeyPrincipal):
        return request.user.tenant_id
    slug = request.headers.get("X-Ondo-Tenant") or request.session.get("last_tenant_slug")
    membership = Membership.objects.filter(user=request.user, tenant__slug=slug, tenant__is_active=True).first()
    if membership is None:
        raise exceptions.NotFound(_("No such tenant."))
    return membership.tenant_id


class HasTenantCapability(permissions.BasePermission):
    """Reads need `read_permission`, writes `write_permission` (set on the view)."""

    def has_permission(self, request, view) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        capability = (
            getattr(view, "read_permission", "view")
            if request.method in permissions.SAFE_METHODS
            else getattr(view, "write_permission", "manage_leads")
        )
        if isinstance(request.user, APIKeyPrincipal):
            return request.user.has_perm(f"ondo.{capability}")
        return can(request.user, request.tenant, capability)


class TenantScopedAPIMixin:
    """Base of every tenant API view. It owns the tenant scope (one transaction
    per request, rolled back on error) and the queryset: subclasses set `model`
    or override `scoped_queryset()`, never `get_queryset()`."""

    permission_classes = [HasTenantCapability]
    model = None

    def dispatch(self, request, *args, **kwargs):
        with ExitStack() as stack:
            self._scope_stack = stack
            return super().dispatch(request, *args, **kwargs)

    def initial(self, request, *args, **kwargs):
        self.perform_authentication(request)
        if request.user is None or not request.user.is_authenticated:
            raise exceptions.NotAuthenticated()
        tenant_id = tenant_id_for_request(request)
        self._scope_stack.enter_context(tenant_scope(tenant_id))
        self._scope_entered = True
        from .models import Tenant

        request.tenant = Tenant.objects.get(pk=tenant_id)
        super().initial(request, *args, **kwargs)

    def handle_exception(self, exc):
        # Roll back the tenant scope's own transaction only: an error raised before the scope was
        # entered (authentication, unknown tenant) must not doom an enclosing transaction.
        if getattr(self, "_scope_entered", False) and transaction.get_connection().in_atomic_block:
            transaction.set_rollback(True)
        return super().handle_exception(exc)

    def scoped_queryset(self):
        return self.model.objects.all()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            # Schema generation runs with no tenant: describe the model without querying it.
            model = self.model or getattr(getattr(self.get_serializer_class(), "Meta", None), "model", None)
            return model.unscoped_for_platform.none() if model is not None else None
        return self.scoped_queryset()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "get_queryset" in cls.__dict__:
            raise TypeError(f"{cls.__name__}: override scoped_queryset(), not get_queryset().")


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        exc = exceptions.ValidationError(detail)
    from rest_framework.views import exception_handler as drf_exception_handler

    return drf_exception_handler(exc, context)


class StableCursorPagination(pagination.CursorPagination):
    ordering = "-id"
    page_size_query_param = "page_size"
    max_page_size = 500


class TenantRateThrottle(throttling.SimpleRateThrottle):
    """Rate limit per tenant API key (or per user for browser sessions)."""

    scope = "tenant"

    def get_cache_key(self, request, view):
        user = request.user
        if isinstance(user, APIKeyPrincipal):
            ident = f"key:{user.api_key.prefix}"
        elif user is not None and user.is_authenticated:
            ident = f"user:{user.pk}"
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}
