"""Role checks for views: declared once per view, the same way everywhere.

@tenant_permission_required("edit_scoring")
def rule_edit(request, slug, pk): ...

@tenant_permission_required("view", write="edit_scoring")   # GET/HEAD need "view", other methods "edit_kpis"
def plan(request, slug): ...

require(request, "approve_mql")   # inside a view, for a check that depends on the object

class LeadList(TenantPermissionMixin, View):
    permission_required = "view"
"""

from __future__ import annotations

import functools

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import render

from .roles import CAPABILITIES, can


def _check(request, capability: str) -> None:
    if getattr(request, "tenant", None) is None:
        raise Http404("Tenant pages live under /t/<slug>/.")
    if capability not in CAPABILITIES:
        raise ValueError(f"Unknown capability {capability!r}")
    if not can(request.user, request.tenant, capability):
        raise PermissionDenied


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def require(request, capability: str) -> None:
    """403 unless the current member has `capability` in this tenant (404 outside a tenant)."""
    _check(request, capability)


def tenant_permission_required(capability: str, *, write: str | None = None):
    """`capability` for reading; with `write`, unsafe methods (POST, PUT, ...) need that one instead."""

    def decorator(view):
        @functools.wraps(view)
        def wrapped(request, *args, **kwargs):
            needed = write if write and request.method not in SAFE_METHODS else capability
            _check(request, needed)
            return view(request, *args, **kwargs)

        wrapped.ondo_capability = capability
        wrapped.ondo_write_capability = write or capability
        return wrapped

    return decorator


class TenantPermissionMixin:
    permission_required: str = "view"

    def dispatch(self, request, *args, **kwargs):
        _check(request, self.permission_required)
        return super().dispatch(request, *args, **kwargs)


def render_htmx(request, template: str, context: dict | None = None, *, fragment: str | None = None, status: int = 200):
    """Full page for normal requests, `template#fragment` for htmx requests."""
    name = f"{template}#{fragment}" if fragment and getattr(request, "htmx", False) else template
    return render(request, name, context or {}, status=status)
