"""Who may do what in a tenant: capabilities per role, declared once.

Views declare a capability with `@tenant_permission_required("ondo.edit_scoring")`
(or `permission_required = ...` on class-based views through TenantPermissionMixin,
and `required_permission` on API views). Templates read `can.<capability>`.
"""

from __future__ import annotations

import rules

from .models import Role

ALL_ROLES = frozenset(Role.values)

CAPABILITIES: dict[str, frozenset[str]] = {
    "view": ALL_ROLES,
    "manage_leads": frozenset({Role.ADMIN, Role.MARKETING}),
    "edit_lead": frozenset({Role.ADMIN, Role.MARKETING, Role.SALES}),
    "export": frozenset({Role.ADMIN, Role.MARKETING, Role.SALES}),
    "edit_scoring": frozenset({Role.ADMIN, Role.MARKETING}),
    "draft_mql": frozenset({Role.ADMIN, Role.MARKETING}),
    "approve_mql": frozenset({Role.ADMIN, Role.MARKETING, Role.SALES}),
    "give_feedback": frozenset({Role.ADMIN, Role.SALES}),
    "plan_kpis": frozenset({Role.ADMIN, Role.MARKETING}),
    "review_kpis": frozenset({Role.ADMIN, Role.MARKETING, Role.SALES}),
    "answer_diagnosis": frozenset({Role.ADMIN, Role.MARKETING, Role.SALES}),
    "admin_tenant": frozenset({Role.ADMIN}),
}


def role_of(user, tenant) -> str | None:
    """The user's role in `tenant`, cached on the user object for the request."""
    if user is None or not getattr(user, "is_authenticated", False) or tenant is None:
        return None
    cache = getattr(user, "_ondo_roles", None)
    if cache is None:
        cache = {m.tenant_id: m.role for m in user.memberships.all()}
        user._ondo_roles = cache
    return cache.get(tenant.pk if hasattr(tenant, "pk") else tenant)


def _has_role_in(roles: frozenset[str]):
    @rules.predicate
    def predicate(user, tenant) -> bool:
        return role_of(user, tenant) in roles

    return predicate


for _capability, _roles in CAPABILITIES.items():
    rules.add_perm(f"ondo.{_capability}", _has_role_in(_roles))


def can(user, tenant, capability: str) -> bool:
    return user.has_perm(f"ondo.{capability.removeprefix('ondo.')}", tenant)


def capabilities_for(user, tenant) -> dict[str, bool]:
    role = role_of(user, tenant)
    return {name: role in roles for name, roles in CAPABILITIES.items()}
