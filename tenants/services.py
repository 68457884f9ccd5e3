"""Writes of the tenants app: tenants, invitations, memberships, notifications, audit."""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from .clientip import client_ip
from .context import require_tenant_id, tenant_scope
from .models import ApiScope, AuditEvent, Invitation, Membership, Notification, Role, Tenant, TenantAPIKey, User

logger = logging.getLogger("ondo.tenants")

INVITATION_VALID_FOR = timedelta(days=7)


# Set when the current request recorded an export itself (see audit_download).
_export_recorded: contextvars.ContextVar[bool] = contextvars.ContextVar("ondo_export_recorded", default=False)

DOWNLOAD_CONTENT_TYPES = (
    "text/csv",
    "application/vnd.openxmlformats",
    "application/vnd.ms-excel",
    "application/pdf",
    "application/zip",
    "application/octet-stream",
)


def audit_download(request, response) -> None:
    """Every file a tenant page hands out (CSV export, download) leaves an audit event, once per
    request, unless the view recorded its own export event (called by TenantMiddleware)."""
    if response.status_code != 200 or _export_recorded.get():
        return
    content_type = response.get("Content-Type", "").split(";")[0].strip().lower()
    disposition = response.get("Content-Disposition", "")
    if not (disposition.lower().startswith("attachment") or content_type.startswith(DOWNLOAD_CONTENT_TYPES)):
        return
    filename = disposition.split("filename=", 1)[1].strip('"; ') if "filename=" in disposition else ""
    audit_record(
        action="data.exported",
        actor=getattr(request, "user", None),
        target=request.get_full_path(),
        data={"format": content_type, "file": filename[:100]},
        ip_address=client_ip(request),
    )


def audit_record(
    *, action: str, actor: User | None = None, target: str = "", data: dict | None = None, ip_address: str | None = None
) -> AuditEvent:
    """Record a security-relevant action for the active tenant. `actor` may be a user or the
    principal of an API key (kept in `data["via"]`: the actor column references users)."""
    if actor is not None and not isinstance(actor, User) and getattr(actor, "is_authenticated", False):
        data = {**(data or {}), "via": str(actor)}
        actor = None
    if "export" in action:
        _export_recorded.set(True)
    return AuditEvent.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        target=target[:200],
        data=data or {},
        ip_address=ip_address,
    )


@transaction.atomic
def tenant_create(
    *,
    name: str,
    slug: str,
    admin_email: str | None = None,
    admin_password: str | None = None,
    timezone_name: str = "Asia/Tokyo",
    language: str = "ja",
) -> Tenant:
    """Create a tenant (platform operators), optionally with its first admin."""
    tenant = Tenant(name=name, slug=slug, timezone=timezone_name, default_language=language)
    tenant.full_clean()
    tenant.save()
    if admin_email:
        user = User.objects.filter(email__iexact=admin_email).first()
        if user is None:
            user = User.objects.create_user(admin_email, admin_password, language=language)
        Membership.objects.create(user=user, tenant=tenant, role=Role.ADMIN)
        with tenant_scope(tenant.id):
            audit_record(action="membership.created", target=user.email, data={"role": Role.ADMIN})
    transaction.on_commit(lambda: _run_tenant_created_hooks(tenant.id))
    return tenant


def _run_tenant_created_hooks(tenant_id: int) -> None:
    # Apps below config register defaults for a new tenant (e.g. the seed scoring model).
    from django.utils.module_loading import import_string

    for path in getattr(settings, "ONDO_TENANT_CREATED_HOOKS", []):
        with tenant_scope(tenant_id):
            import_string(path)()


def invitation_create(*, email: str, role: str, invited_by: User, base_url: str) -> Invitation:
    """Invite `email` into the active tenant; sends a one-time link by email."""
    tenant = Tenant.objects.get(pk=require_tenant_id())
    email = email.strip().lower()
    if role not in Role.values:
        raise ValidationError({"role": _("Choose a valid role.")})
    if Membership.objects.filter(tenant=tenant, user__email__iexact=email).exists():
        raise ValidationError({"email": _("This person is already a member of this tenant.")})
    token, token_hash = Invitation.new_token()
    with transaction.atomic():
        Invitation.objects.filter(email__iexact=email, accepted_at__isnull=True, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        invitation = Invitation.objects.create(
            email=email,
            role=role,
            token_hash=token_hash,
            invited_by=invited_by,
            expires_at=timezone.now() + INVITATION_VALID_FOR,
        )
        audit_record(action="invitation.created", actor=invited_by, target=email, data={"role": role})
    link = base_url.rstrip("/") + reverse("invitation_accept", args=[token])
    with translation.override(tenant.default_language):
        subject = _("You are invited to %(tenant)s on Ondo") % {"tenant": tenant.name}
        body = render_to_string(
            "tenants/email/invitation.txt",
            {"tenant": tenant, "link": link, "inviter": invited_by, "days": INVITATION_VALID_FOR.days},
        )
    transaction.on_commit(lambda: send_mail(subject, body, None, [email]))
    invitation.plain_link = link  # shown once to the inviting admin
    return invitation


def invitation_find(token: str) -> Invitation | None:
    """Find a usable invitation by its token (before any tenant is active)."""
    from .context import platform_scope

    with platform_scope("accepting an invitation link"):
        invitation = (
            Invitation.unscoped_for_platform.select_related("tenant")
            .filter(token_hash=Invitation.hash_token(token))
            .first()
        )
    if invitation is None or not invitation.is_usable:
        return None
    return invitation


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user: User) -> Membership:
    with tenant_scope(invitation.tenant_id):
        locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if not locked.is_usable:
            raise ValidationError(_("This invitation has expired or was already used."))
        if user.email.lower() != locked.email.lower():
            raise ValidationError(_("This invitation was sent to a different email address."))
        membership, _created = Membership.objects.get_or_create(
            user=user, tenant_id=locked.tenant_id, defaults={"role": locked.role}
        )
        locked.accepted_at = timezone.now()
        locked.save(update_fields=["accepted_at"])
        audit_record(action="invitation.accepted", actor=user, target=user.email, data={"role": membership.role})
    return membership


def membership_change_role(*, membership: Membership, role: str, actor: User) -> Membership:
    if role not in Role.values:
        raise ValidationError({"role": _("Choose a valid role.")})
    if membership.role == Role.ADMIN and role != Role.ADMIN and _admin_count(membership.tenant_id) <= 1:
        raise ValidationError(_("A tenant needs at least one admin."))
    old = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    audit_record(
        action="membership.role_changed", actor=actor, target=membership.user.email, data={"from": old, "to": role}
    )
    return membership


def membership_remove(*, membership: Membership, actor: User) -> None:
    if membership.role == Role.ADMIN and _admin_count(membership.tenant_id) <= 1:
        raise ValidationError(_("A tenant needs at least one admin."))
    email = membership.user.email
    membership.delete()
    audit_record(action="membership.removed", actor=actor, target=email)


def _admin_count(tenant_id: int) -> int:
    return Membership.objects.filter(tenant_id=tenant_id, role=Role.ADMIN).count()


def api_key_create(*, name: str, actor: User, scopes: list[str] | None = None) -> tuple[TenantAPIKey, str]:
    """Create a tenant API key with the given scopes (default: ingest only, a write key); the plain
    key is returned once and never stored."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": _("Give the key a name, e.g. the system that will use it.")})
    scopes = sorted(set(scopes or [ApiScope.INGEST]))
    if any(scope not in ApiScope.values for scope in scopes):
        raise ValidationError({"scopes": _("Choose what the key may do from the list.")})
    api_key, plain = TenantAPIKey.objects.create_key(
        name=name[:50], tenant_id=require_tenant_id(), created_by=actor, scopes=scopes
    )
    audit_record(action="api_key.created", actor=actor, target=api_key.prefix, data={"name": name, "scopes": scopes})
    return api_key, plain


def api_key_revoke(*, api_key: TenantAPIKey, actor: User) -> None:
    api_key.revoked = True
    api_key.save(update_fields=["revoked"])
    audit_record(action="api_key.revoked", actor=actor, target=api_key.prefix, data={"name": api_key.name})


def notify(
    *,
    recipients: Iterable[User],
    kind: str,
    title: str,
    body: str = "",
    url: str = "",
    dedupe_key: str,
    email: bool = True,
) -> int:
    """Notify members of the active tenant once per `dedupe_key` (bell + optional email).

    Returns how many new notifications were created; a repeated key creates none.
    """
    created = 0
    emails = []
    for user in recipients:
        try:
            with transaction.atomic():
                Notification.objects.create(
                    recipient=user, kind=kind, title=title[:300], body=body, url=url, dedupe_key=dedupe_key[:200]
                )
        except IntegrityError:
            continue  # already notified for this occurrence
        created += 1
        if email and user.email:
            emails.append(user.email)
    if emails:
        transaction.on_commit(lambda: _send_notification_emails(title, body, url, emails))
    return created


def _send_notification_emails(title: str, body: str, url: str, emails: list[str]) -> None:
    for address in emails:
        try:
            send_mail(title, f"{body}\n\n{url}".strip(), None, [address])
        except Exception:  # an SMTP outage must not undo the in-app notification
            logger.exception("notification email to %s failed", address)


def notifications_mark_read(*, user: User, notification_id: int | None = None) -> int:
    unread = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if notification_id is not None:
        unread = unread.filter(pk=notification_id)
    return unread.update(read_at=timezone.now())


def user_set_language(*, user: User, language: str) -> None:
    if language not in dict(settings.LANGUAGES):
        raise ValidationError({"language": _("Choose Japanese or English.")})
    if user.is_authenticated:
        user.language = language
        user.save(update_fields=["language"])


def members_with_role(*roles: str) -> list[User]:
    """Members of the active tenant having one of `roles` (e.g. the sales queue)."""
    return list(
        User.objects.filter(memberships__tenant_id=require_tenant_id(), memberships__role__in=roles, is_active=True)
    )
