"""One object of EVERY tenant-owned model for a tenant, built generically from model metadata.

New models are covered automatically. Values carry a marker string (e.g. "ZQXB7") so a response
that leaks the row is recognisable. A model the generic builder cannot make (a check constraint,
an FK to a platform table with no rows, ...) fails loudly with the name of the registry to use:
register a function in BUILDERS below that returns an unsaved or saved instance.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Callable

from django.db import IntegrityError, models, transaction
from django.utils import timezone

from tenants.context import tenant_scope
from tenants.models import Tenant, TenantOwned
from tenants.rls import tenant_owned_models

# "app_label.ModelName" -> builder(tenant, created: dict[type, Model], marker: str, user) -> Model
BUILDERS: dict[str, Callable] = {}


class CannotBuild(RuntimeError):
    pass


def _label(model) -> str:
    return f"{model._meta.app_label}.{model.__name__}"


def _required_tenant_deps(model) -> set:
    deps = set()
    for field in model._meta.concrete_fields:
        if field.is_relation and (field.many_to_one or field.one_to_one):
            target = field.related_model
            if target is not model and isinstance(target, type) and issubclass(target, TenantOwned) and not field.null:
                deps.add(target)
    return deps


def build_order(models_list) -> list:
    pending = list(models_list)
    ordered: list = []
    while pending:
        ready = [m for m in pending if _required_tenant_deps(m) <= set(ordered)]
        if not ready:
            names = ", ".join(_label(m) for m in pending)
            raise CannotBuild(
                f"Circular required foreign keys between {names}: register a builder in "
                "tests/reliability/objects.py BUILDERS."
            )
        ready.sort(key=_label)
        ordered.extend(ready)
        pending = [m for m in pending if m not in ready]
    return ordered


def _text(marker: str, model, field, max_length: int | None) -> str:
    value = f"{marker}-{model.__name__[:12]}-{field.name[:12]}"
    return value[:max_length] if max_length else value


def _value_for(field, model, marker: str, tenant: Tenant, user, created: dict, number: int = 1):
    if field.choices:
        values = [value for value, _label in field.flatchoices if value not in ("", None)]
        if values:
            return values[0]
    if field.is_relation:
        target = field.related_model
        if target is Tenant:
            return tenant
        if target is model:
            return None
        if issubclass(target, TenantOwned):
            return created.get(target)
        if target._meta.label == user._meta.label:
            return user
        existing = target._default_manager.order_by("pk").first()
        if existing is None and not field.null:
            raise CannotBuild(
                f"{_label(model)}.{field.name} needs a {_label(target)} row and there is none: register a "
                "builder in tests/reliability/objects.py BUILDERS."
            )
        return existing
    if isinstance(field, models.EmailField):
        return f"{marker.lower()}-{model.__name__.lower()}@example.test"
    if isinstance(field, models.URLField):
        return f"https://example.test/{marker}/{model.__name__.lower()}"
    if isinstance(field, models.GenericIPAddressField):
        return "192.0.2.7"
    if isinstance(field, models.UUIDField):
        return uuid.uuid4()
    if isinstance(field, models.SlugField):
        return _text(marker, model, field, field.max_length).lower().replace("_", "-")
    if isinstance(field, models.CharField | models.TextField):
        return _text(marker, model, field, field.max_length)
    if isinstance(field, models.JSONField):
        default = field.get_default()
        if isinstance(default, list):
            return [marker]
        return {"marker": marker}
    if isinstance(field, models.BooleanField):
        return field.get_default() if field.has_default() else False
    if isinstance(field, models.DateTimeField):
        return timezone.now() - dt.timedelta(days=1)
    if isinstance(field, models.DateField):
        return timezone.localdate()
    if isinstance(field, models.TimeField):
        return dt.time(9, 0)
    if isinstance(field, models.DurationField):
        return dt.timedelta(hours=1)
    if isinstance(field, models.DecimalField):
        return decimal.Decimal("1")
    if isinstance(field, models.FloatField):
        return 0.5
    if isinstance(field, models.IntegerField):
        return number  # differs between the tenants: per-tenant numbers (versions) must not collide in URLs
    if isinstance(field, models.BinaryField):
        return marker.encode()
    if isinstance(field, models.FileField):
        return f"reliability/{marker}.txt"
    if field.has_default():
        return field.get_default()
    if field.null:
        return None
    raise CannotBuild(
        f"Don't know how to fill {_label(model)}.{field.name} ({type(field).__name__}): register a builder in "
        "tests/reliability/objects.py BUILDERS."
    )


def build_generic(model, tenant: Tenant, created: dict, marker: str, user, number: int = 1):
    values = {}
    for field in model._meta.concrete_fields:
        if (
            field.primary_key
            or field.name == "tenant"
            or getattr(field, "auto_now", False)
            or getattr(field, "auto_now_add", False)
        ):
            continue
        value = _value_for(field, model, marker, tenant, user, created, number)
        if value is None and not field.null:
            if field.has_default():
                continue
            raise CannotBuild(f"{_label(model)}.{field.name} has no value: register a builder in BUILDERS.")
        values[field.attname if field.is_relation and not isinstance(value, models.Model) else field.name] = value
    return model(tenant=tenant, **values)


def build_tenant_objects(tenant: Tenant, *, marker: str, user, number: int = 1, only_missing: bool = False) -> dict:
    """One saved object of every tenant-owned model in `tenant` (inside its scope). With
    `only_missing`, models that already have a row in the tenant keep it (no generic row added)."""
    created: dict = {}
    with tenant_scope(tenant.id):
        for model in build_order(existing_tenant_owned_models()):
            if only_missing:
                existing = model._base_manager.filter(tenant=tenant).order_by("pk").first()
                if existing is not None:
                    created[model] = existing
                    continue
            builder = BUILDERS.get(_label(model))
            try:
                with transaction.atomic():
                    obj = (
                        builder(tenant, created, marker, user)
                        if builder
                        else build_generic(model, tenant, created, marker, user, number)
                    )
                    if obj.pk is None or not model._base_manager.filter(pk=obj.pk).exists():
                        model._base_manager.bulk_create([obj])
            except (IntegrityError, ValueError, TypeError) as error:
                existing = model._base_manager.filter(tenant=tenant).order_by("pk").first()
                if isinstance(error, IntegrityError) and existing is not None:
                    created[model] = existing  # e.g. one row per tenant, already made by the defaults
                    continue
                raise CannotBuild(
                    f"Could not build a {_label(model)} generically ({error}). Register a builder in "
                    "tests/reliability/objects.py BUILDERS."
                ) from error
            created[model] = obj
    return created


def build_realistic_data(tenant: Tenant, *, lead_count: int = 12) -> list[str]:
    """What a real tenant has: the new-tenant defaults (ONDO_TENANT_CREATED_HOOKS) and each app's
    demo data (ONDO_DEMO_BUILDERS, small). A failing builder is reported, not fatal (the demo has
    its own tests); returns the failures."""
    import io

    from django.conf import settings
    from django.utils.module_loading import import_string

    failures = []
    for path in [*getattr(settings, "ONDO_TENANT_CREATED_HOOKS", []), *getattr(settings, "ONDO_DEMO_BUILDERS", [])]:
        try:
            function = import_string(path)
        except ImportError:
            continue
        try:
            with tenant_scope(tenant.id), transaction.atomic():
                if path in getattr(settings, "ONDO_DEMO_BUILDERS", []):
                    function(tenant=tenant, lead_count=lead_count, stdout=io.StringIO())
                else:
                    function()
        except Exception as error:  # noqa: BLE001 - reported by the caller
            failures.append(f"{path}: {type(error).__name__}: {error}")
    return failures


def mark_text_fields(tenant: Tenant, marker: str) -> None:
    """Append `marker` to every non-empty free-text value of the tenant's rows (every tenant-owned
    model), so any page or export that shows one of them is recognisable."""
    from django.db.models import F, Value
    from django.db.models.functions import Concat, Left

    suffix = f" {marker}"
    with tenant_scope(tenant.id):
        for model in existing_tenant_owned_models():
            for field in model._meta.concrete_fields:
                if not isinstance(field, models.CharField | models.TextField) or field.choices or field.primary_key:
                    continue
                if isinstance(field, models.SlugField | models.EmailField | models.URLField):
                    continue
                keep = (field.max_length or 10_000) - len(suffix)
                if keep < 4:
                    continue
                rows = (
                    model._base_manager.filter(tenant=tenant)
                    .exclude(**{field.name: ""})
                    .exclude(**{f"{field.name}__isnull": True})
                    .exclude(**{f"{field.name}__contains": marker})
                )
                try:
                    with transaction.atomic():
                        rows.update(**{field.name: Concat(Left(F(field.name), keep), Value(suffix))})
                except IntegrityError:
                    continue  # a truncated unique value would collide: leave that field unmarked


def existing_tenant_owned_models() -> list:
    """Tenant-owned models whose table exists (a model whose migration is still being written is
    left out here; `makemigrations --check` in CI catches the missing migration)."""
    from django.db import connection

    tables = set(connection.introspection.table_names())
    return [model for model in tenant_owned_models() if model._meta.db_table in tables]


def snapshot(tenant: Tenant) -> dict:
    """Every row of every tenant-owned model of `tenant` (plus its memberships, keys and itself)."""
    from tenants.context import platform_scope
    from tenants.models import Membership, TenantAPIKey

    state = {}
    with platform_scope("reliability test: snapshot of a tenant's rows"):
        for model in existing_tenant_owned_models():
            state[_label(model)] = sorted(
                model._base_manager.filter(tenant_id=tenant.id).order_by("pk").values_list(), key=repr
            )
        state["tenants.Membership"] = sorted(Membership.objects.filter(tenant=tenant).values_list(), key=repr)
        state["tenants.TenantAPIKey"] = sorted(TenantAPIKey.objects.filter(tenant=tenant).values_list(), key=repr)
        state["tenants.Tenant"] = list(Tenant.objects.filter(pk=tenant.pk).values_list())
    return state


def diff(before: dict, after: dict) -> list[str]:
    return [label for label in before if before[label] != after.get(label)]


# --- builders for models the generic one cannot make ------------------------------------------


def _duplicate_candidate(tenant, created, marker, user):
    from leads.models import DuplicateCandidate, Lead

    first = created[Lead]
    second = build_generic(Lead, tenant, created, marker, user)
    second.email = f"{marker.lower()}-duplicate@example.test"
    Lead._base_manager.bulk_create([second])
    low, high = sorted([first, second], key=lambda lead: lead.pk)
    obj = build_generic(DuplicateCandidate, tenant, created, marker, user)
    obj.lead_a, obj.lead_b = low, high
    return obj


BUILDERS["leads.DuplicateCandidate"] = _duplicate_candidate
