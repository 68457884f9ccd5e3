"""Reads of the leads app (all scoped to the active tenant by the models' managers)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.db.models import Q, QuerySet
from django.utils import translation

from tenants.context import require_tenant_id
from tenants.models import Membership, Role, User
from tenants.params import parse_id, parse_int

from .defaults import DEFAULT_CHANNELS, DEFAULT_EVENT_MAP, DEFAULT_PAGE_MAP, DEFAULT_TRAIT_MAP
from .models import (
    Activity,
    ActivityType,
    ActivityTypes,
    Channel,
    CustomFieldDefinition,
    DuplicateCandidate,
    DuplicateStatus,
    ImportJob,
    IngestMapping,
    Lead,
    LeadFeedback,
    LeadMerge,
    LeadStageChange,
    MappingKind,
)
from .normalize import nfkc, normalize_key

# --- tenant configuration ---------------------------------------------------------------------


def channels(*, include_inactive: bool = False) -> list[Channel]:
    """The tenant's channel list (its own rows, or the defaults until it edits them)."""
    rows = list(Channel.objects.all())
    if not rows:
        return [Channel(key=key, label=str(label), position=i) for i, (key, label) in enumerate(DEFAULT_CHANNELS)]
    return rows if include_inactive else [row for row in rows if row.is_active]


def channel_labels() -> dict[str, str]:
    """The tenant's channels, key → label (what a lead's channel may be set to)."""
    return {channel.key: channel.label for channel in channels(include_inactive=True)}


def channel_display_labels() -> dict[str, str]:
    """Key → label for showing figures: the tenant's channels, and for keys it no longer defines (old leads,
    removed channels) the default channels' labels in the active language."""
    return {**{key: str(label) for key, label in DEFAULT_CHANNELS}, **channel_labels()}


def channel_aliases(channel_map: dict[str, str]) -> dict[str, str]:
    """Lower-case key or label → key, including the default labels in Japanese and English."""
    aliases: dict[str, str] = {}
    for language in ("en", "ja"):
        with translation.override(language):
            for key, label in DEFAULT_CHANNELS:
                if key in channel_map:
                    aliases[nfkc(str(label)).strip().lower()] = key
    for key, label in channel_map.items():
        aliases[nfkc(label).strip().lower()] = key
        aliases[key.lower()] = key
    return aliases


def custom_field_definitions() -> list[CustomFieldDefinition]:
    return list(CustomFieldDefinition.objects.all())


def activity_type_choices() -> list[tuple[str, str]]:
    """Built-in and tenant-defined activity types as (key, label)."""
    custom = [(row.key, row.label) for row in ActivityType.objects.all()]
    builtin_keys = set(ActivityTypes.values)
    return [(key, str(label)) for key, label in ActivityTypes.choices] + [
        (key, label) for key, label in custom if key not in builtin_keys
    ]


def known_activity_types() -> set[str]:
    return set(ActivityTypes.values) | set(ActivityType.objects.values_list("key", flat=True))


@dataclass
class IngestMaps:
    """Effective Segment/RudderStack mappings: defaults overlaid with the tenant's rows."""

    traits: dict[str, str] = field(default_factory=dict)
    events: dict[str, str] = field(default_factory=dict)
    pages: list[tuple[str, str]] = field(default_factory=list)
    types: set[str] = field(default_factory=set)

    def event_type(self, event: str) -> str:
        """Mapped type, else the event itself when it names a type, else its snake_case name."""
        key = normalize_key(event)
        mapped = self.events.get(key)
        if mapped:
            return mapped
        return key[:60] or "track"

    def page_type(self, url: str) -> str:
        lowered = (url or "").lower()
        for needle, activity_type in self.pages:
            if needle and needle in lowered:
                return activity_type
        return ActivityTypes.PAGE_VIEW


def ingest_maps() -> IngestMaps:
    traits = {normalize_key(k): v for k, v in DEFAULT_TRAIT_MAP.items()}
    events = {normalize_key(k): str(v) for k, v in DEFAULT_EVENT_MAP.items()}
    pages = {k.lower(): str(v) for k, v in DEFAULT_PAGE_MAP.items()}
    for row in IngestMapping.objects.all():
        target = row.target
        if row.kind == MappingKind.TRAIT:
            _overlay(traits, normalize_key(row.source), target)
        elif row.kind == MappingKind.EVENT:
            _overlay(events, normalize_key(row.source), target)
        elif row.kind == MappingKind.PAGE:
            _overlay(pages, row.source.lower(), target)
    types = known_activity_types()
    for key in types:
        events.setdefault(key, key)
    # Longest needle first, so '/pricing/enterprise' wins over '/pricing'.
    ordered_pages = sorted(pages.items(), key=lambda item: -len(item[0]))
    return IngestMaps(traits=traits, events=events, pages=ordered_pages, types=types)


def _overlay(mapping: dict[str, str], key: str, target: str) -> None:
    if target:
        mapping[key] = target
    else:
        mapping.pop(key, None)  # an empty target switches a default off


# --- members --------------------------------------------------------------------------------------


def member_choices() -> list[User]:
    """Members of the active tenant (possible lead owners)."""
    return list(
        User.objects.filter(memberships__tenant_id=require_tenant_id(), is_active=True).order_by("name", "email")
    )


def sales_members() -> list[User]:
    return list(
        User.objects.filter(
            memberships__tenant_id=require_tenant_id(), memberships__role__in=[Role.SALES, Role.ADMIN], is_active=True
        ).order_by("name", "email")
    )


def is_member(user_id: int) -> bool:
    return Membership.objects.filter(tenant_id=require_tenant_id(), user_id=user_id).exists()


# --- leads ----------------------------------------------------------------------------------------


def lead_get(pk) -> Lead:
    """One lead of the active tenant (another tenant's id raises DoesNotExist, like a missing one)."""
    return Lead.objects.select_related("owner").get(pk=pk)


def lead_by_email(email: str) -> Lead | None:
    from .models import IdentityKind, LeadIdentity
    from .normalize import normalize_email

    email = normalize_email(email)
    lead = Lead.objects.filter(email=email).first()
    if lead is None:
        alias = LeadIdentity.objects.filter(kind=IdentityKind.EMAIL, value=email).select_related("lead").first()
        lead = alias.lead if alias else None
    return lead


def lead_timeline(lead: Lead, *, before_id: int | None = None, limit: int = 50) -> list[Activity]:
    """The lead's activities, newest first, in pages (keyset on (occurred_at, id))."""
    queryset = Activity.objects.filter(lead=lead).order_by("-occurred_at", "-id")
    if before_id:
        anchor = Activity.objects.filter(lead=lead, pk=before_id).values("occurred_at", "id").first()
        if anchor:
            queryset = queryset.filter(
                Q(occurred_at__lt=anchor["occurred_at"]) | Q(occurred_at=anchor["occurred_at"], id__lt=anchor["id"])
            )
    return list(queryset[:limit])


def lead_stage_history(lead: Lead) -> QuerySet[LeadStageChange]:
    return LeadStageChange.objects.filter(lead=lead).select_related("changed_by").order_by("-changed_at", "-id")


def lead_feedback(lead: Lead) -> QuerySet[LeadFeedback]:
    return LeadFeedback.objects.filter(lead=lead).select_related("recorded_by").order_by("-occurred_at", "-id")


def lead_merges(lead: Lead) -> QuerySet[LeadMerge]:
    return LeadMerge.objects.filter(survivor=lead).select_related("merged_by")


def lead_duplicate_candidates(lead: Lead) -> list[tuple[DuplicateCandidate, Lead]]:
    """Open duplicate candidates of this lead, with the other lead of each pair."""
    pairs = DuplicateCandidate.objects.filter(
        Q(lead_a=lead) | Q(lead_b=lead), status=DuplicateStatus.OPEN
    ).select_related("lead_a", "lead_b")
    return [(pair, pair.lead_b if pair.lead_a_id == lead.pk else pair.lead_a) for pair in pairs]


def duplicate_candidates(*, status: str = DuplicateStatus.OPEN) -> QuerySet[DuplicateCandidate]:
    return DuplicateCandidate.objects.filter(status=status).select_related(
        "lead_a", "lead_b", "lead_a__owner", "lead_b__owner"
    )


def import_jobs(limit: int = 20) -> list[ImportJob]:
    return list(ImportJob.objects.defer("raw", "errors").select_related("created_by")[:limit])


def lead_activity_counts(lead: Lead) -> list[dict]:
    """Activity count per type for this lead (uses the covering index)."""
    from django.db.models import Count

    return list(
        Activity.objects.filter(lead=lead).values("type").annotate(count=Count("id")).order_by("-count", "type")
    )


# --- the lead list: keyset pagination that stays fast at 1,000,000 leads -------------------------

LIST_PAGE_SIZE = 50
COUNT_CAP = 10_000


@dataclass
class LeadPage:
    leads: list[Lead]
    next_cursor: str | None
    prev_cursor: str | None
    count: int
    count_capped: bool


def _encode_cursor(direction: str, value, pk: int) -> str:
    import base64
    import json

    if hasattr(value, "isoformat"):
        value = value.isoformat()
    raw = json.dumps([direction, value, pk], ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str | None):
    import base64
    import json

    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        direction, value, pk = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if direction not in ("n", "p") or parse_id(pk) is None:
            return None
        return direction, value, pk
    except (ValueError, TypeError):
        return None


def _cursor_value(column: str, value):
    """The cursor's sort value as the column's type, or raise ValueError: a cursor is base64 anyone
    can edit, and a text where a number belongs (or a NUL, or a date past 9999) is a 500 otherwise."""
    from django.utils.dateparse import parse_datetime

    if value is None:
        return None
    field = Lead._meta.get_field(column)
    if field.get_internal_type() in ("IntegerField", "PositiveIntegerField", "AutoField", "BigAutoField"):
        number = parse_int(value, minimum=-(2**31), maximum=2**31 - 1)
        if number is None:
            raise ValueError(value)
        return number
    if not isinstance(value, str) or "\x00" in value or len(value) > 1000:
        raise ValueError(value)
    if field.get_internal_type() == "DateTimeField":
        moment = parse_datetime(value)  # raises ValueError on an impossible date
        if moment is None or moment.tzinfo is None:
            raise ValueError(value)
        return moment
    return value


def _after(column: str, descending: bool, nullable: bool, value, pk: int) -> Q:
    """Rows after (value, pk) in the order (column [desc] nulls last, id [desc])."""
    beyond = "lt" if descending else "gt"
    if value is None:  # inside the NULL tail: only the id decides
        return Q(**{f"{column}__isnull": True, f"id__{beyond}": pk}) if nullable else Q(**{f"id__{beyond}": pk})
    condition = Q(**{f"{column}__{beyond}": value}) | Q(**{column: value, f"id__{beyond}": pk})
    if nullable:
        condition |= Q(**{f"{column}__isnull": True})
    return condition


def _before(column: str, descending: bool, nullable: bool, value, pk: int) -> Q:
    """Rows before (value, pk) in the same order (for the previous page)."""
    ahead = "gt" if descending else "lt"
    if value is None:
        return (
            Q(**{f"{column}__isnull": False}) | Q(**{f"{column}__isnull": True, f"id__{ahead}": pk})
            if nullable
            else Q(**{f"id__{ahead}": pk})
        )
    return Q(**{f"{column}__{ahead}": value}) | Q(**{column: value, f"id__{ahead}": pk})


def lead_page(queryset: QuerySet[Lead], *, sort: str, cursor: str | None, size: int = LIST_PAGE_SIZE) -> LeadPage:
    """One page of the (filtered) lead list in `sort` order ('-score', 'name', ...), keyset-paginated:
    the cost of a page does not grow with its position, unlike OFFSET."""
    from django.db.models import F

    from .filters import DEFAULT_SORT, SORT_FIELDS

    key = sort.lstrip("-")
    if key not in SORT_FIELDS:
        sort, key = DEFAULT_SORT, DEFAULT_SORT.lstrip("-")
    descending = sort.startswith("-")
    column = SORT_FIELDS[key]
    nullable = Lead._meta.get_field(column).null
    state = _decode_cursor(cursor)
    if state is not None:
        try:
            state = (state[0], _cursor_value(column, state[1]), state[2])
        except ValueError:
            state = None  # a tampered cursor: the first page
    backwards = state is not None and state[0] == "p"

    def ordering(reverse: bool):
        desc = descending != reverse
        nulls = {"nulls_first": True} if reverse else {"nulls_last": True}
        expression = F(column).desc(**nulls) if desc else F(column).asc(**nulls)
        if column == "id":
            return [F("id").desc() if desc else F("id").asc()]
        return [expression, F("id").desc() if desc else F("id").asc()]

    page_qs = queryset
    if state is not None:
        _direction, value, pk = state
        condition = (
            _before(column, descending, nullable, value, pk)
            if backwards
            else _after(column, descending, nullable, value, pk)
        )
        page_qs = page_qs.filter(condition)
    rows = list(page_qs.select_related("owner").order_by(*ordering(backwards))[: size + 1])
    has_more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()

    def cursor_for(direction: str, lead: Lead) -> str:
        return _encode_cursor(direction, getattr(lead, column), lead.pk)

    more_after = has_more if not backwards else state is not None
    more_before = (state is not None) if not backwards else has_more
    next_cursor = cursor_for("n", rows[-1]) if rows and more_after else None
    prev_cursor = cursor_for("p", rows[0]) if rows and more_before else None
    count = queryset.order_by()[: COUNT_CAP + 1].count()
    return LeadPage(
        leads=rows,
        next_cursor=next_cursor,
        prev_cursor=prev_cursor,
        count=min(count, COUNT_CAP),
        count_capped=count > COUNT_CAP,
    )


def lead_industries(limit: int = 200) -> list[str]:
    """Industries in use (for the filter's suggestions), cached briefly per tenant."""
    from django.core.cache import cache
    from django.db.models import Count

    key = f"ondo:leads:industries:{require_tenant_id()}"
    try:
        cached = cache.get(key)
    except Exception:
        cached = None
    if cached is not None:
        return cached
    values = list(
        Lead.objects.exclude(industry="")
        .values("industry")
        .annotate(n=Count("id"))
        .order_by("-n")
        .values_list("industry", flat=True)[:limit]
    )
    try:
        cache.set(key, values, timeout=300)
    except Exception:  # only a suggestion list: without a cache it is recomputed next time
        logging.getLogger("ondo.leads").debug("industry suggestions not cached", exc_info=True)
    return values
