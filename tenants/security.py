"""Security plumbing of the tenants app: row-level security after every migrate, the audit trail
of logins (success, failure, lockout) in every tenant the account belongs to, and the account
name django-axes counts login failures against."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver
from django.utils import timezone

from .clientip import client_ip

logger = logging.getLogger("ondo.security")


def apply_row_level_security(sender, using="default", verbosity=1, stdout=None, **kwargs) -> None:
    """post_migrate (sent once for the tenants app, after all migrations): RLS on every
    tenant-owned table of every app, including tables added since the last run."""
    from . import rls

    rls.apply(using=using, verbosity=verbosity, stdout=stdout)


def _client_ip(request) -> str | None:
    return getattr(request, "axes_ip_address", None) or client_ip(request)


def _record_for_account(email: str | None, *, action: str, request, actor=None, data=None, dedupe_for=None) -> None:
    """One audit event in each tenant the account (looked up by email) is a member of."""
    from .context import tenant_scope
    from .models import AuditEvent, Membership
    from .services import audit_record

    if not email:
        return
    tenant_ids = list(
        Membership.objects.filter(user__email__iexact=email.strip(), tenant__is_active=True).values_list(
            "tenant_id", flat=True
        )
    )
    ip_address = _client_ip(request)
    for tenant_id in tenant_ids:
        with tenant_scope(tenant_id):
            if (
                dedupe_for
                and AuditEvent.objects.filter(
                    action=action,
                    target=email[:200],
                    ip_address=ip_address,
                    created_at__gte=timezone.now() - dedupe_for,
                ).exists()
            ):
                continue
            audit_record(action=action, actor=actor, target=email, data=data or {}, ip_address=ip_address)


@receiver(user_logged_in, dispatch_uid="ondo_audit_login")
def audit_login(sender, request, user, **kwargs) -> None:
    _record_for_account(user.email, action="login.succeeded", request=request, actor=user)


@receiver(user_login_failed, dispatch_uid="ondo_audit_login_failed")
def audit_login_failed(sender, credentials, request=None, **kwargs) -> None:
    if request is not None and getattr(request, "axes_locked_out", False):
        failures = getattr(request, "axes_failures_since_start", None)
        if failures is None or failures > int(getattr(settings, "AXES_FAILURE_LIMIT", 0)):
            return  # blocked during a lockout: recorded once as login.locked_out, not once per attempt
    email = credentials.get("email") or credentials.get("login") or credentials.get("username")
    _record_for_account(email, action="login.failed", request=request)


def audit_locked_out(sender, request=None, username=None, ip_address=None, **kwargs) -> None:
    cooloff = timedelta(hours=float(getattr(settings, "AXES_COOLOFF_TIME", 0.25) or 0.25))
    _record_for_account(username, action="login.locked_out", request=request, dedupe_for=cooloff)


def axes_username(request, credentials: dict | None = None) -> str | None:
    """AXES_USERNAME_CALLABLE: allauth authenticates with `email=`, the login form posts `login`;
    axes' default reads only one field name, so failures were counted against no account."""
    credentials = credentials or {}
    value = credentials.get("email") or credentials.get("login") or credentials.get("username")
    if not value and request is not None:
        data = getattr(request, "data", None) or request.POST
        value = data.get("login") or data.get("email")
    return value.strip().lower() if isinstance(value, str) and value.strip() else None


def connect() -> None:
    from axes.signals import user_locked_out

    user_locked_out.connect(audit_locked_out, dispatch_uid="ondo_audit_locked_out")
