"""The API's tenancy: API-key authentication, a base view that owns the tenant
scope and the queryset, capability permissions, errors, pagination, throttling."""

from __future__ import annotations

from contextlib import ExitStack

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, pagination, permissions, throttling

from . import ratelimit
from .authentication import APIKeyPrincipal
from .clientip import client_ip
from .context import tenant_scope
from .models import ApiScope, Membership
from .params import MAX_ID, parse_int
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


def required_api_scope(request, view) -> str:
    """The scope an API key needs for this request: `ingest` for the actions a view lists in
    `ingest_actions` (events, identify), `read` for other safe methods, `admin` for everything else."""
    action = getattr(view, "action", None) or request.method.lower()
    if action in getattr(view, "ingest_actions", ()):
        return ApiScope.INGEST
    return ApiScope.READ if request.method in permissions.SAFE_METHODS else ApiScope.ADMIN


class HasAPIKeyScope(permissions.BasePermission):
    """Every API view: a request made with an API key needs the key to carry the request's scope.
    People (session) are limited by their role instead (HasTenantCapability)."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not isinstance(user, APIKeyPrincipal):
            return True
        scope = required_api_scope(request, view)
        if user.api_key.allows(scope):
            return True
        self.message = _("This API key may not do this: it needs the “%(scope)s” scope.") % {"scope": scope}
        return False


_ERROR_DETAIL = {
    "type": "object",
    "description": "An error that is not about the input: `detail` says what went wrong.",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
_VALIDATION_ERROR = {
    "type": "object",
    "description": "Bad input, nothing was changed: messages keyed by field (lists of strings, nested per item "
    "for lists), or by `detail` / `non_field_errors` for the request as a whole.",
    "additionalProperties": {},
    "minProperties": 1,
}
# Status code -> (component name, description): the errors every tenant API view can answer.
_ERROR_RESPONSES = {
    "400": ("ValidationError", "Bad input (body or query parameters); nothing was changed."),
    "401": ("ErrorDetail", "No or an invalid API key / session."),
    "403": ("ErrorDetail", "The key lacks the scope (ingest, read, admin) or the member's role the capability."),
    "404": ("ErrorDetail", "No such object (or tenant, or pagination cursor)."),
    "429": ("ErrorDetail", "Too many requests for this API key: retry later."),
}


def schema_error_responses(result, generator, request, public):
    """drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS): declare the error responses the API
    really gives, in the shapes of `exception_handler` below: 401/403/404/429 (`{"detail": ...}`) on every
    operation, 400 (messages by field) where there is a body or query parameters to validate."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in (("ErrorDetail", _ERROR_DETAIL), ("ValidationError", _VALIDATION_ERROR)):
        schemas.setdefault(name, schema)
    for path, item in result.get("paths", {}).items():
        if not path.startswith("/api/v1/"):
            continue
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            has_query = any(param.get("in") == "query" for param in operation.get("parameters", []))
            responses = operation.setdefault("responses", {})
            for code, (name, description) in _ERROR_RESPONSES.items():
                if code == "400" and method not in ("post", "put", "patch") and not has_query:
                    continue
                response = responses.setdefault(code, {"description": description})
                response.setdefault(
                    "content", {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}
                )
    return result


class TenantScopedAPIMixin:
    """Base of every tenant API view. It owns the tenant scope (one transaction
    per request, rolled back on error) and the queryset: subclasses set `model`
    or override `scoped_queryset()`, never `get_queryset()`."""

    # Subclasses never replace these (test_every_tenant_api_view_checks_the_key_scope).
    permission_classes = [HasAPIKeyScope, HasTenantCapability]
    model = None
    ingest_actions: tuple[str, ...] = ()

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
    """Cursor pages in a stable order. A cursor is base64 anyone can edit: DRF decodes it but filters
    on its position as given, so text where the ordering column holds numbers (or a NUL, or a number
    beyond bigint) would be a 500; every malformed cursor is a 400 here instead."""

    ordering = "-id"
    page_size_query_param = "page_size"
    max_page_size = 500
    invalid_cursor_message = _("This cursor is not valid: start again from the first page.")

    def paginate_queryset(self, queryset, request, view=None):
        self._model = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request):
        try:
            cursor = super().decode_cursor(request)
        except exceptions.NotFound:
            raise self._invalid()
        if cursor is not None and cursor.position is not None and not self._position_is_valid(cursor.position):
            raise self._invalid()
        return cursor

    def _invalid(self) -> exceptions.ValidationError:
        return exceptions.ValidationError({"cursor": [self.invalid_cursor_message]})

    def _position_is_valid(self, position: str) -> bool:
        if "\x00" in position or len(position) > 1000:
            return False
        model = getattr(self, "_model", None)
        ordering = self.ordering[0] if isinstance(self.ordering, list | tuple) else self.ordering
        if model is None or not ordering:
            return True
        field = model._meta.get_field(ordering.lstrip("-").split("__")[0])
        if field.get_internal_type().endswith(("IntegerField", "AutoField")):
            return parse_int(position, minimum=-MAX_ID - 1, maximum=MAX_ID) is not None
        try:
            field.to_python(position)
        except DjangoValidationError:
            return False
        return True


class TenantRateThrottle(throttling.SimpleRateThrottle):
    """Rate limit per tenant API key (or per user for browser sessions), counted by `tenants.ratelimit`:
    exact under concurrency, and in-process while Redis is away (never a 5xx). The rate is DRF's
    (`DEFAULT_THROTTLE_RATES["tenant"]`); keys whose prefix is in `ONDO_API_THROTTLE_EXEMPT_KEY_PREFIXES`
    (empty unless a deployment or a test names one, e.g. the key the API fuzzer uses) are not limited."""

    scope = "tenant"

    def get_cache_key(self, request, view):
        user = request.user
        if isinstance(user, APIKeyPrincipal):
            ident = f"key:{user.api_key.prefix}"
        elif user is not None and user.is_authenticated:
            ident = f"user:{user.pk}"
        else:
            ident = f"ip:{client_ip(request) or 'unknown'}"  # not DRF's get_ident: it trusts a client's X-Forwarded-For
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        user = request.user
        if isinstance(user, APIKeyPrincipal) and user.api_key.prefix in _exempt_key_prefixes():
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        decision = ratelimit.hit(key, limit=self.num_requests, period=self.duration)
        self._retry_after = decision.retry_after
        return decision.allowed

    def wait(self):
        return getattr(self, "_retry_after", None) or None


def _exempt_key_prefixes() -> frozenset[str]:
    from django.conf import settings

    return frozenset(getattr(settings, "ONDO_API_THROTTLE_EXEMPT_KEY_PREFIXES", ()))
