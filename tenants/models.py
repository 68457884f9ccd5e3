"""Tenants, users, memberships, and the base for every tenant-owned model."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.contrib.postgres.fields import ArrayField
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.models import AbstractAPIKey, APIKeyManager

from .context import TenantContextMissing, current_tenant_id, platform_bypass_reason, require_tenant_id


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra):
        if not email:
            raise ValueError("Users need an email address.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra["is_staff"] = True
        extra["is_superuser"] = True
        return self._create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who logs in with email + password; belongs to tenants through memberships."""

    email = models.EmailField(_("email address"), unique=True)
    name = models.CharField(_("name"), max_length=150, blank=True)
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES, default="ja")
    is_staff = models.BooleanField(_("platform operator"), default=False)
    is_active = models.BooleanField(_("active"), default=True)
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.name or self.email

    @property
    def display_name(self) -> str:
        return self.name or self.email.split("@")[0]


slug_validator = RegexValidator(
    r"^[a-z0-9][a-z0-9-]{1,48}[a-z0-9]$", _("Use 3–50 lower-case letters, digits and hyphens.")
)


class Tenant(models.Model):
    """One customer company's space. Platform-level (not tenant-owned)."""

    name = models.CharField(_("company name"), max_length=200)
    slug = models.SlugField(_("URL name"), max_length=50, unique=True, validators=[slug_validator])
    timezone = models.CharField(_("time zone"), max_length=64, default="Asia/Tokyo")
    currency = models.CharField(_("currency"), max_length=3, default="JPY")
    default_language = models.CharField(_("default language"), max_length=8, choices=settings.LANGUAGES, default="ja")
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("tenant")
        verbose_name_plural = _("tenants")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    ADMIN = "admin", _("Admin")
    MARKETING = "marketing", _("Marketing")
    SALES = "sales", _("Sales")
    VIEWER = "viewer", _("Viewer")


class Membership(models.Model):
    """A user's role in one tenant. Looked up before a tenant is active, so not tenant-scoped."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [models.UniqueConstraint(fields=["tenant", "user"], name="membership_unique_tenant_user")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.tenant} ({self.role})"


class TenantQuerySet(models.QuerySet):
    pass


class TenantManager(models.Manager.from_queryset(TenantQuerySet)):
    """Default manager of tenant-owned models: always filtered to the active tenant.

    Raises TenantContextMissing when no tenant is active, unless code runs in an
    explicit `platform_scope()` bypass.
    """

    def get_queryset(self):
        queryset = super().get_queryset()
        tenant_id = current_tenant_id()
        if tenant_id is not None:
            return queryset.filter(tenant_id=tenant_id)
        if platform_bypass_reason():
            return queryset
        raise TenantContextMissing(f"Unscoped query of {self.model.__name__}: activate a tenant with tenant_scope().")

    def none(self):
        """An empty queryset reads nothing, so it needs no tenant (OpenAPI schema generation builds
        filter sets from `Model.objects.none()` with no request)."""
        return self._queryset_class(model=self.model, using=self._db, hints=self._hints).none()

    def bulk_create(self, objs, *args, **kwargs):
        tenant_id = require_tenant_id()
        for obj in objs:
            if obj.tenant_id is None:
                obj.tenant_id = tenant_id
            elif obj.tenant_id != tenant_id:
                raise TenantContextMissing("bulk_create() of another tenant's rows.")
        return super().bulk_create(objs, *args, **kwargs)


class TenantOwned(models.Model):
    """Base of every tenant-owned table: a `tenant_id` column, a scoped default
    manager, and saves that can only write the active tenant's rows."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", editable=False)

    objects = TenantManager()
    # Explicitly named bypass for platform code (admin, fan-out); prefer platform_scope().
    unscoped_for_platform = models.Manager()  # noqa: DJ012 - a manager, not a field

    class Meta:
        abstract = True
        base_manager_name = "unscoped_for_platform"

    def save(self, *args, **kwargs):
        tenant_id = current_tenant_id()
        if self.tenant_id is None:
            self.tenant_id = require_tenant_id()
        elif tenant_id is not None and self.tenant_id != tenant_id:
            raise TenantContextMissing("Refusing to save another tenant's row.")
        elif tenant_id is None and not platform_bypass_reason():
            require_tenant_id()
        super().save(*args, **kwargs)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Invitation(TenantOwned):
    """A one-time link inviting an email address into a tenant with a role."""

    email = models.EmailField(_("email address"))
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.MARKETING)
    token_hash = models.CharField(max_length=64)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        constraints = [models.UniqueConstraint(fields=["tenant", "token_hash"], name="invitation_unique_token")]
        indexes = [models.Index(fields=["token_hash"], name="invitation_token_idx")]

    def __str__(self):
        return f"{self.email} ({self.role})"

    @staticmethod
    def new_token() -> tuple[str, str]:
        token = secrets.token_urlsafe(32)
        return token, _token_hash(token)

    @staticmethod
    def hash_token(token: str) -> str:
        return _token_hash(token)

    @property
    def is_usable(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > timezone.now()


class Notification(TenantOwned):
    """An in-app notification for one member (the bell). Deduplicated by key."""

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=40)
    title = models.CharField(max_length=300)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=500, blank=True)
    dedupe_key = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "recipient", "dedupe_key"], name="notification_unique_dedupe")
        ]
        indexes = [models.Index(fields=["tenant", "recipient", "read_at"], name="notification_unread_idx")]

    def __str__(self):
        return self.title


class AuditEvent(TenantOwned):
    """Security-relevant actions, visible to tenant admins."""

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    action = models.CharField(max_length=60)
    target = models.CharField(max_length=200, blank=True)
    data = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "-created_at"], name="audit_tenant_created_idx")]

    def __str__(self):
        return f"{self.action} {self.target}".strip()


class ApiScope(models.TextChoices):
    """What an API key may do. A write key (Segment, a site tag) is shipped to browsers and
    partners, so it gets `ingest` only: events and identify, nothing it could read back."""

    INGEST = "ingest", _("Ingest (send events and identify leads)")
    READ = "read", _("Read (leads, activities, scores, KPIs)")
    ADMIN = "admin", _("Admin (edit leads, scoring, recomputes, plans)")


def all_api_scopes() -> list[str]:
    """Every scope: the default of keys made in code (fixtures, bench) and of the keys that existed
    before scopes (migration 0003), which could do everything."""
    return list(ApiScope.values)


class TenantAPIKey(AbstractAPIKey):
    """A per-tenant API key (write key for the Segment-compatible endpoint too).

    Only the hash is stored. Looked up by prefix before the tenant is known, so it
    is a platform-level table (a Citus reference table), like Tenant and Membership.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_keys")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    last_used_at = models.DateTimeField(null=True, blank=True)
    scopes = ArrayField(
        models.CharField(max_length=16, choices=ApiScope.choices), default=all_api_scopes, verbose_name=_("scopes")
    )

    objects = APIKeyManager()

    class Meta(AbstractAPIKey.Meta):
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def allows(self, scope: str) -> bool:
        return scope in self.scopes

    def get_scopes_display(self) -> list[str]:
        labels = dict(ApiScope.choices)
        return [str(labels.get(scope, scope)) for scope in self.scopes]
