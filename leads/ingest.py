"""Set-based ingest of activities and leads (REST bulk API, Segment/RudderStack, forms, CSV).

Activities: one multi-row INSERT ... ON CONFLICT (tenant_id, external_id) DO NOTHING RETURNING
per batch on PostgreSQL (bulk_create(ignore_conflicts=True) elsewhere), so a retried delivery is
answered "duplicate" and never stored twice. Leads referenced by email are resolved with one
query and missing ones created in one statement; the leads' first/last activity times are
updated in one statement; the re-score is handed over with `leads_changed` (after commit) —
ingest never waits for scoring.

Leads: `upsert_leads` takes cleaned rows, reads the existing leads of a chunk in one query,
works out in Python what is new, changed or unchanged, and writes only new and changed rows
with one INSERT ... ON CONFLICT (tenant_id, email) DO UPDATE per chunk. Re-importing the same
data therefore writes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tenants.context import require_tenant_id

from .hooks import leads_changed
from .models import Activity, IdentityKind, Lead, LeadIdentity, LeadStageChange, Stage
from .normalize import normalize_company, normalize_email, normalize_name
from .validation import (
    CONSENT_FIELDS,
    EARLIEST_EVENT,
    EMAIL_RE,
    EVENT_HORIZON,
    PROFILE_FIELDS,
    clean_occurred_at,
    storable_json,
    unstorable,
)

MAX_ACTIVITIES_PER_REQUEST = 1000
MAX_PROPERTIES_BYTES = 16 * 1024
MAX_BIGINT = 2**63 - 1
_MAX_OFFSET = dt.timedelta(hours=16)  # PostgreSQL reads UTC offsets up to ±15:59

ITEM_FIELDS = {"lead_id", "email", "type", "occurred_at", "url", "campaign", "properties", "source", "external_id"}


@dataclass
class ActivityIn:
    """One activity to store, already validated."""

    index: int
    type: str
    occurred_at: dt.datetime
    lead_id: int | None = None
    email: str = ""
    anonymous_id: str = ""
    user_id: str = ""
    url: str = ""
    campaign: str = ""
    properties: dict = field(default_factory=dict)
    source: str = ""
    external_id: str | None = None


@dataclass
class ItemResult:
    index: int
    status: str  # accepted | duplicate | rejected
    id: int | None = None
    lead_id: int | None = None
    external_id: str | None = None
    errors: dict[str, list[str]] | None = None

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"index": self.index, "status": self.status}
        if self.id is not None:
            data["id"] = self.id
        if self.lead_id is not None:
            data["lead_id"] = self.lead_id
        if self.external_id is not None:
            data["external_id"] = self.external_id
        if self.errors:
            data["errors"] = self.errors
        return data


# --- parsing of REST items -------------------------------------------------------------------------


def _text(item: dict, name: str, max_length: int, errors: dict) -> str:
    value = item.get(name)
    if value is None:
        return ""
    if type(value) is str and len(value) <= max_length:
        # Plain ASCII without NUL (nearly every value) is storable: checked without a call.
        if ("\x00" in value or not value.isascii()) and (problem := unstorable(value)):
            errors.setdefault(name, []).append(problem)
            return ""
        return value.strip()
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        errors.setdefault(name, []).append(_("Send text."))
        return ""
    if problem := unstorable(value):
        errors.setdefault(name, []).append(problem)
        return ""
    value = str(value).strip()
    if len(value) > max_length:
        errors.setdefault(name, []).append(_("Use at most %(max)d characters.") % {"max": max_length})
    return value


def parse_activity_items(
    raw_items: Sequence[Any], *, known_types: set[str], default_source: str = "api"
) -> tuple[list[ActivityIn], list[ItemResult]]:
    """Validate REST bulk items. Returns (valid items, rejected results); a bad item never drops the others."""
    valid: list[ActivityIn] = []
    rejected: list[ItemResult] = []
    horizon = timezone.now() + EVENT_HORIZON
    utc = dt.UTC
    fromisoformat = dt.datetime.fromisoformat
    for index, item in enumerate(raw_items):
        errors: dict[str, list[str]] = {}
        if not isinstance(item, dict):
            rejected.append(ItemResult(index, "rejected", errors={"non_field_errors": [_("Send an object.")]}))
            continue
        unknown = item.keys() - ITEM_FIELDS
        if unknown:
            errors["non_field_errors"] = [
                _("Unknown field(s): %(fields)s.") % {"fields": ", ".join(sorted(map(str, unknown)))[:200]}
            ]
        activity_type = item.get("type")
        if not isinstance(activity_type, str) or not activity_type:
            errors.setdefault("type", []).append(_("Give the activity type."))
        elif activity_type not in known_types:
            errors.setdefault("type", []).append(_("Unknown activity type “%(type)s”.") % {"type": activity_type[:60]})
        lead_id = item.get("lead_id")
        email = item.get("email")
        if lead_id is not None and (type(lead_id) is not int or not 0 < lead_id <= MAX_BIGINT):
            errors.setdefault("lead_id", []).append(_("Send the lead's id as a number."))
            lead_id = None
        if email is not None:
            if type(email) is str:
                email = email.strip().lower() if email.isascii() else normalize_email(email)
            else:
                email = ""
            if not email or len(email) > 254 or not EMAIL_RE.match(email):
                errors.setdefault("email", []).append(_("Enter a valid email address."))
        if lead_id is None and not email and "lead_id" not in errors and "email" not in errors:
            errors.setdefault("lead_id", []).append(_("Identify the lead by lead_id or email."))
        occurred_raw = item.get("occurred_at")
        occurred_at = None
        if type(occurred_raw) is str:  # fast path: ISO 8601 with an offset, not in the future
            try:
                occurred_at = fromisoformat(occurred_raw)
            except ValueError:
                occurred_at = None
            if occurred_at is not None:
                if occurred_at.tzinfo is None or not EARLIEST_EVENT <= occurred_at <= horizon:
                    occurred_at = None  # the slow path says why (or reads it in the tenant's time zone)
                elif not -_MAX_OFFSET < occurred_at.utcoffset() < _MAX_OFFSET:
                    occurred_at = occurred_at.astimezone(utc)  # PostgreSQL refuses offsets beyond ±15:59
        if occurred_at is None:
            try:
                occurred_at = clean_occurred_at(occurred_raw)
            except ValidationError as error:
                errors.setdefault("occurred_at", []).extend(error.messages)
        url = _text(item, "url", 1000, errors)
        campaign = _text(item, "campaign", 200, errors)
        source = _text(item, "source", 40, errors) or default_source
        external_id = _text(item, "external_id", 200, errors) or None
        properties = item.get("properties") or {}
        if not isinstance(properties, dict):
            errors.setdefault("properties", []).append(_("Send the properties as an object."))
        elif properties:
            encoded, problem = storable_json(properties)
            if problem:
                errors.setdefault("properties", []).append(problem)
            elif len(encoded) > MAX_PROPERTIES_BYTES:
                errors.setdefault("properties", []).append(_("The properties are larger than 16 KB."))
        if errors:
            rejected.append(ItemResult(index, "rejected", external_id=external_id, errors=errors))
            continue
        valid.append(
            ActivityIn(
                index=index,
                type=activity_type,
                occurred_at=occurred_at,
                lead_id=lead_id,
                email=email or "",
                url=url,
                campaign=campaign,
                properties=properties,
                source=source,
                external_id=external_id,
            )
        )
    return valid, rejected


def pg_cursor():
    """A psycopg cursor with server-side parameter binding on Django's connection (same transaction).

    Django's default client-side binding quotes every parameter into the SQL text in Python; for the
    multi-megabyte JSON documents of bulk writes that costs more than the write itself.
    """
    import psycopg

    connection.ensure_connection()
    return psycopg.Cursor(connection.connection)


# --- leads referenced by activities -------------------------------------------------------------


def resolve_emails(
    emails: Iterable[str],
    *,
    create: bool = True,
    first_seen: dict[str, dt.datetime] | None = None,
    defaults: dict[str, dict] | None = None,
) -> dict[str, int]:
    """Normalised email → lead id, following merged-lead aliases and creating missing leads."""
    wanted = sorted({e for e in emails if e})
    if not wanted:
        return {}
    found = _lookup_emails(wanted)
    missing = [e for e in wanted if e not in found]
    if missing and create:
        now = timezone.now()
        new_leads = []
        for email in missing:
            extra = (defaults or {}).get(email, {})
            seen = (first_seen or {}).get(email, now)
            new_leads.append(
                Lead(
                    email=email,
                    first_seen_at=seen,
                    company=extra.get("company", ""),
                    company_normalized=normalize_company(extra.get("company", "")),
                    name=extra.get("name", ""),
                    name_normalized=normalize_name(extra.get("name", "")),
                    channel=extra.get("channel", ""),
                    campaign=extra.get("campaign", ""),
                )
            )
        Lead.objects.bulk_create(new_leads, ignore_conflicts=True)
        found.update(dict(Lead.objects.filter(email__in=missing).values_list("email", "id")))
    return found


# Leads by email. The emails travel as one JSON array (a 1,000-item IN list costs more to bind client-side than to
# run). With statistics the planner probes the unique (tenant_id, email) index per email; without (a table never
# analysed, as in a first import) it hashes the emails against the tenant's leads, which stays linear, where an
# `= ANY(array)` filter or a per-email probe on the wrong tenant index would be quadratic.
_PG_LEAD_IDS_BY_EMAIL = """
SELECT email, id FROM leads_lead WHERE tenant_id = %s AND email IN (SELECT json_array_elements_text(%s::json))
"""


def _lookup_emails(emails: list[str]) -> dict[str, int]:
    """Normalised email → id of the lead with that email, else of the lead a merge folded that email into."""
    tenant_id = require_tenant_id()
    with pg_cursor() as cursor:
        cursor.execute(_PG_LEAD_IDS_BY_EMAIL, [tenant_id, json.dumps(emails, ensure_ascii=False)])
        found = dict(cursor.fetchall())
        missing = [e for e in emails if e not in found]
        if missing:
            cursor.execute(
                "SELECT value, lead_id FROM leads_leadidentity WHERE tenant_id = %s AND kind = %s "
                "AND value IN (SELECT json_array_elements_text(%s::json))",
                [tenant_id, IdentityKind.EMAIL.value, json.dumps(missing, ensure_ascii=False)],
            )
            found.update(cursor.fetchall())
    return found


def existing_lead_ids(lead_ids: set[int]) -> set[int]:
    """The ids among `lead_ids` that are leads of the current tenant."""
    if not lead_ids:
        return set()
    with pg_cursor() as cursor:
        cursor.execute(
            "SELECT id FROM leads_lead WHERE tenant_id = %s AND id = ANY(%s)", [require_tenant_id(), sorted(lead_ids)]
        )
        return {row[0] for row in cursor.fetchall()}


def resolve_identities(kind: str, values: Iterable[str]) -> dict[str, int]:
    wanted = sorted({v for v in values if v})
    if not wanted:
        return {}
    return dict(LeadIdentity.objects.filter(kind=kind, value__in=wanted).values_list("value", "lead_id"))


# --- activities -------------------------------------------------------------------------------------

# One statement per batch; rows travel as one JSON document (parsed by PostgreSQL in C, far cheaper than
# adapting ten Python lists to arrays). RETURNING follows the input order (as Django's bulk_create relies on).
_PG_INSERT = """
INSERT INTO leads_activity (tenant_id, lead_id, anonymous_id, user_id, type, occurred_at, url, campaign,
                            properties, source, external_id, received_at)
SELECT %s, r.lead_id, r.anonymous_id, r.user_id, r.type, r.occurred_at, r.url, r.campaign,
       COALESCE(r.properties, '{}')::jsonb, r.source, r.external_id, %s
FROM json_to_recordset(%s::json) AS r(lead_id bigint, anonymous_id text, user_id text, type text,
                                      occurred_at timestamptz, url text, campaign text, properties json,
                                      source text, external_id text)
ON CONFLICT (tenant_id, external_id) WHERE external_id IS NOT NULL DO NOTHING
RETURNING id, external_id
"""

# Lead activity times from the activities themselves (index-only scan of activity_lead_time_idx), rows locked
# in id order so concurrent refreshes never deadlock (FOR NO KEY UPDATE does not block the activities' FK checks).
_PG_REFRESH_TIMES = """
WITH agg AS (
    SELECT lead_id, max(occurred_at) AS last_at, min(occurred_at) AS first_at
    FROM leads_activity
    WHERE tenant_id = %s AND lead_id IN (SELECT value::bigint FROM json_array_elements_text(%s::json))
    GROUP BY lead_id
), locked AS (
    SELECT l.id FROM leads_lead l JOIN agg ON agg.lead_id = l.id
    WHERE l.tenant_id = %s
      AND (l.last_activity_at IS DISTINCT FROM agg.last_at OR l.first_seen_at IS NULL OR l.first_seen_at > agg.first_at)
    ORDER BY l.id
    FOR NO KEY UPDATE OF l
)
UPDATE leads_lead l
SET last_activity_at = agg.last_at, first_seen_at = LEAST(l.first_seen_at, agg.first_at)
FROM agg
WHERE l.id = agg.lead_id AND l.id IN (SELECT id FROM locked) AND l.tenant_id = %s
"""


def _insert_postgres(tenant_id: int, rows: list[ActivityIn]) -> list[int | None]:
    """Insert; returns the new id per row (None for a duplicate external_id)."""
    payload = json.dumps(
        [
            {
                "lead_id": r.lead_id,
                "anonymous_id": r.anonymous_id,
                "user_id": r.user_id,
                "type": r.type,
                "occurred_at": r.occurred_at.isoformat(),
                "url": r.url,
                "campaign": r.campaign,
                "properties": r.properties,
                "source": r.source,
                "external_id": r.external_id,
            }
            for r in rows
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    with pg_cursor() as cursor:
        cursor.execute(_PG_INSERT, [tenant_id, timezone.now(), payload])
        returned = cursor.fetchall()
    by_external = {ext: pk for pk, ext in returned if ext is not None}
    plain = iter(pk for pk, ext in returned if ext is None)
    ids: list[int | None] = []
    for row in rows:
        if row.external_id is None:
            ids.append(next(plain))
        else:
            ids.append(by_external.get(row.external_id))
    return ids


def refresh_activity_times(lead_ids: Iterable[int]) -> None:
    """Set the leads' last_activity_at / first_seen_at from their activities (set-based, idempotent)."""
    ids = sorted({int(i) for i in lead_ids if i})
    if not ids:
        return
    tenant_id = require_tenant_id()
    with connection.cursor() as cursor:
        cursor.execute(_PG_REFRESH_TIMES, [tenant_id, json.dumps(ids), tenant_id, tenant_id])


def activities_ingested(lead_ids: list[int], *, reason: str) -> None:
    """After ingest (after commit): refresh the leads' activity times, then announce them to the layers above.

    Runs as one Celery task per ingest request (leads.tasks.activities_ingested), so an ingest request
    only pays for storing the activities; runs in-process if the broker cannot be reached.
    """
    refresh_activity_times(lead_ids)
    leads_changed(lead_ids, reason=reason)


def _hand_over(lead_ids: Iterable[int], reason: str) -> None:
    ids = sorted({int(i) for i in lead_ids if i})
    if not ids:
        return
    tenant_id = require_tenant_id()

    def enqueue() -> None:
        from tenants.context import tenant_scope
        from tenants.tasking import send_task_safely

        from .tasks import activities_ingested_task

        if not send_task_safely(activities_ingested_task, tenant_id, ids, reason):
            with tenant_scope(tenant_id):  # no broker: do the follow-up work here rather than lose it
                activities_ingested(ids, reason=reason)

    transaction.on_commit(enqueue)


@transaction.atomic
def ingest_activities(
    items: list[ActivityIn], *, create_leads: bool = True, reason: str = "activities_ingested"
) -> list[ItemResult]:
    """Store validated activities (set-based). Items must carry lead_id, email, or an anonymous/user id.

    Returns one result per item (accepted / duplicate / rejected), in the items' order.
    """
    results: dict[int, ItemResult] = {}
    if not items:
        return []
    tenant_id = require_tenant_id()

    first_seen: dict[str, dt.datetime] = {}
    for item in items:
        if item.email and (item.email not in first_seen or item.occurred_at < first_seen[item.email]):
            first_seen[item.email] = item.occurred_at
    by_email = resolve_emails(first_seen, create=create_leads, first_seen=first_seen)
    given_ids = {item.lead_id for item in items if item.lead_id}
    known_ids = existing_lead_ids(given_ids)
    by_user = resolve_identities(IdentityKind.USER_ID, (i.user_id for i in items if not i.lead_id and not i.email))
    by_anonymous = resolve_identities(
        IdentityKind.ANONYMOUS_ID, (i.anonymous_id for i in items if not i.lead_id and not i.email)
    )

    rows: list[ActivityIn] = []
    seen_external: set[str] = set()
    for item in items:
        if item.lead_id:
            if item.lead_id not in known_ids:
                results[item.index] = ItemResult(
                    item.index,
                    "rejected",
                    external_id=item.external_id,
                    errors={"lead_id": [_("No lead with this id.")]},
                )
                continue
        elif item.email:
            item.lead_id = by_email.get(item.email)
            if item.lead_id is None:
                results[item.index] = ItemResult(
                    item.index,
                    "rejected",
                    external_id=item.external_id,
                    errors={"email": [_("No lead with this email.")]},
                )
                continue
        else:
            item.lead_id = by_user.get(item.user_id) or by_anonymous.get(item.anonymous_id)
            if item.lead_id is None and not (item.user_id or item.anonymous_id):
                results[item.index] = ItemResult(
                    item.index, "rejected", errors={"lead_id": [_("Identify the lead by lead_id or email.")]}
                )
                continue
        if item.external_id is not None:
            if item.external_id in seen_external:
                results[item.index] = ItemResult(item.index, "duplicate", external_id=item.external_id)
                continue
            seen_external.add(item.external_id)
        rows.append(item)

    if rows:
        ids = _insert_postgres(tenant_id, rows)
        touched: set[int] = set()
        for row, pk in zip(rows, ids, strict=True):
            if pk is None:
                results[row.index] = ItemResult(
                    row.index, "duplicate", lead_id=row.lead_id, external_id=row.external_id
                )
                continue
            results[row.index] = ItemResult(
                row.index, "accepted", id=pk, lead_id=row.lead_id, external_id=row.external_id
            )
            if row.lead_id:
                touched.add(row.lead_id)
        _hand_over(touched, reason)
    return [results[item.index] for item in items]


def link_identities(*, lead_id: int, user_id: str = "", anonymous_id: str = "") -> int:
    """Remember a lead's Segment ids and attach the activities sent under them before (merge on identify).

    Returns how many earlier anonymous activities were attached to the lead.
    """
    linked = 0
    for kind, value in ((IdentityKind.USER_ID, user_id), (IdentityKind.ANONYMOUS_ID, anonymous_id)):
        if not value:
            continue
        identity = LeadIdentity.objects.filter(kind=kind, value=value).first()
        if identity is None:
            LeadIdentity.objects.create(kind=kind, value=value[:254], lead_id=lead_id)
        elif identity.lead_id != lead_id:
            identity.lead_id = lead_id  # the id now belongs to this person (e.g. a shared browser)
            identity.save(update_fields=["lead"])
        field_name = "user_id" if kind == IdentityKind.USER_ID else "anonymous_id"
        pending = Activity.objects.filter(lead__isnull=True, **{field_name: value})
        count = pending.update(lead_id=lead_id)
        linked += count
    if linked:
        refresh_activity_times([lead_id])
        leads_changed([lead_id], reason="identities_linked")
    return linked


# --- leads (bulk upsert) ----------------------------------------------------------------------------

UPSERT_COLUMNS = [*PROFILE_FIELDS, "stage", "custom_fields", *CONSENT_FIELDS]
# What an upsert writes: the attributes, their normalised forms, and the bookkeeping columns.
_WRITE_COLUMNS = [*UPSERT_COLUMNS, "company_normalized", "name_normalized", "stage_changed_at", "updated_at"]


@dataclass
class UpsertResult:
    created: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)
    ids_by_email: dict[str, int] = field(default_factory=dict)
    duplicates_flagged: int = 0


def _final_values(existing: dict | None, row: dict) -> dict:
    """The lead's values after applying a cleaned row (only the row's keys change)."""
    values = dict(existing or {})
    for key, value in row.items():
        if key == "custom_fields":
            merged = {**(values.get("custom_fields") or {}), **value}
            values["custom_fields"] = {k: v for k, v in merged.items() if v is not None}
        elif key != "email":
            values[key] = value
    return values


def upsert_leads(
    rows: list[dict], *, actor=None, reason: str = "leads_upserted", chunk_size: int = 5000, progress=None
) -> UpsertResult:
    """Create or update leads by normalised email from cleaned rows (as `clean_lead_fields` returns).

    Within `rows` the last row of an email wins. Only new and changed leads are written (one INSERT and
    one UPDATE per chunk). Stage changes get history rows. Must run inside a transaction (the caller's:
    all or nothing).
    """
    from .services import _user, duplicates_flag_keys

    assert connection.in_atomic_block, "upsert_leads must run inside a transaction"
    latest: dict[str, dict] = {}
    for row in rows:
        email = row["email"]
        if email in latest:
            merged = dict(latest[email])
            merged.update({k: v for k, v in row.items() if k != "custom_fields"})
            if "custom_fields" in row:
                merged["custom_fields"] = {**latest[email].get("custom_fields", {}), **row["custom_fields"]}
            latest[email] = merged
        else:
            latest[email] = row
    emails = list(latest)
    result = UpsertResult()
    now = timezone.now()
    user = _user(actor)
    recheck: set[tuple[str, str]] = set()  # (company, name) keys of new and renamed leads
    done = 0
    chunks = [emails[start : start + chunk_size] for start in range(0, len(emails), chunk_size)]
    # Which leads exist is read for every chunk before the first write: the chunks' emails are distinct, so each
    # lookup reads the table as it was before this upsert, and none of them is planned against a table this very
    # transaction is growing (whose statistics, on a first import, say it is empty).
    ids_by_chunk = [_lookup_emails(chunk) for chunk in chunks]
    for chunk, found in zip(chunks, ids_by_chunk, strict=True):
        rows_by_id = {row["id"]: row for row in _current_rows(set(found.values()))}
        # By email, else by the alias a merge left behind (the survivor's row, with the survivor's email).
        existing = {email: rows_by_id[lead_id] for email, lead_id in found.items() if lead_id in rows_by_id}
        new_rows: list[dict] = []
        changed_rows: list[dict] = []
        stage_changes: list[tuple[str, str, str]] = []  # (email of the stored lead, from, to)
        for email in chunk:
            row = latest[email]
            current = existing.get(email)
            if current is None:
                values = _final_values({}, row)
                values["stage"] = values.get("stage") or Stage.LEAD
                values["email"] = email
                values["company_normalized"] = normalize_company(values.get("company", ""))
                values["name_normalized"] = normalize_name(values.get("name", ""))
                values["first_seen_at"] = now
                values["stage_changed_at"] = now if values["stage"] != Stage.LEAD else None
                if values["stage"] != Stage.LEAD:
                    stage_changes.append((email, "", values["stage"]))
                new_rows.append(values)
                continue
            values = _final_values({k: current[k] for k in UPSERT_COLUMNS}, row)
            if row.get("stage") in (None, ""):
                values["stage"] = current["stage"]
            if all(values[k] == current[k] for k in UPSERT_COLUMNS):
                result.unchanged.append(current["id"])
                result.ids_by_email[email] = current["id"]
                continue
            values["id"] = current["id"]
            values["company_normalized"] = normalize_company(values["company"])
            values["name_normalized"] = normalize_name(values["name"])
            values["stage_changed_at"] = current["stage_changed_at"]
            values["updated_at"] = now
            if values["stage"] != current["stage"]:
                values["stage_changed_at"] = now
                stage_changes.append((current["email"], current["stage"], values["stage"]))
            if values["company"] != current["company"] or values["name"] != current["name"]:
                recheck.add((values["company_normalized"], values["name_normalized"]))
            changed_rows.append(values)
            result.ids_by_email[email] = current["id"]
            result.updated.append(current["id"])
        ids = {row["email"]: row["id"] for row in existing.values()}
        if new_rows:
            created = _insert_leads(new_rows, now=now)
            ids.update(created)
            for values in new_rows:
                pk = created[values["email"]]
                result.ids_by_email[values["email"]] = pk
                result.created.append(pk)
                recheck.add((values["company_normalized"], values["name_normalized"]))
        if changed_rows:
            _update_leads(changed_rows)
        if stage_changes:
            LeadStageChange.objects.bulk_create(
                [
                    LeadStageChange(
                        lead_id=ids[email],
                        from_stage=old,
                        to_stage=new,
                        changed_at=now,
                        changed_by=user,
                        reason=reason[:200],
                    )
                    for email, old, new in stage_changes
                ]
            )
        done += len(chunk)
        if progress is not None:
            progress(done, len(emails))
    result.duplicates_flagged = duplicates_flag_keys(recheck)
    leads_changed([*result.created, *result.updated], reason=reason)
    return result


def _current_rows(lead_ids: set[int]) -> list[dict]:
    """id, email, stage_changed_at and the upsert columns of these leads."""
    names = ["id", "email", "stage_changed_at", *UPSERT_COLUMNS]
    if not lead_ids:
        return []
    columns = ", ".join(f'"{name}"' for name in names)
    with pg_cursor() as cursor:
        cursor.execute(
            # As _PG_LEAD_IDS_BY_EMAIL: linear even when the table has no statistics yet.
            f"SELECT {columns} FROM leads_lead WHERE tenant_id = %s "  # nosec B608 - names from the model
            f"AND id IN (SELECT value::bigint FROM json_array_elements_text(%s::json))",
            [require_tenant_id(), json.dumps(sorted(lead_ids))],
        )
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    for row in rows:  # Django's connection hands jsonb over as text (its JSONField decodes it)
        if isinstance(row["custom_fields"], str):
            row["custom_fields"] = json.loads(row["custom_fields"])
    return rows


def _json_default(value):
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    raise TypeError(type(value))


def _record_columns(names: list[str]) -> str:
    """Column definitions of json_to_recordset for these Lead columns (types from the model)."""
    by_attname = {f.attname: f for f in Lead._meta.concrete_fields}
    return ", ".join(f'"{name}" {by_attname[name].db_type(connection)}' for name in names)


def _insert_leads(rows: list[dict], *, now: dt.datetime) -> dict[str, int]:
    """Insert new leads (complete rows); returns email → id. A row created concurrently is updated."""
    tenant_id = require_tenant_id()
    # Every concrete column, defaulted like the ORM would (so columns added later by others still get values).
    fields = [f for f in Lead._meta.concrete_fields if f.attname not in ("id", "tenant_id")]
    defaults = {}
    for model_field in fields:
        if model_field.attname in ("created_at", "updated_at"):
            defaults[model_field.attname] = now
        elif model_field.has_default() or not model_field.null:
            defaults[model_field.attname] = model_field.get_default()
        else:
            defaults[model_field.attname] = None
    names = [f.attname for f in fields]
    payload = json.dumps(
        [{name: row.get(name, defaults[name]) for name in names} for row in rows],
        ensure_ascii=False,
        separators=(",", ":"),
        default=_json_default,
    )
    quoted = ", ".join(f'"{name}"' for name in names)
    updates = ", ".join(f'"{name}" = EXCLUDED."{name}"' for name in _WRITE_COLUMNS)
    sql = (
        f"INSERT INTO leads_lead (tenant_id, {quoted}) "  # nosec B608 - column names come from the model
        f"SELECT %s, {', '.join(f'r.{q}' for q in quoted.split(', '))} "
        f"FROM json_to_recordset(%s::json) AS r({_record_columns(names)}) "
        f"ON CONFLICT (tenant_id, email) DO UPDATE SET {updates} RETURNING email, id"
    )
    with pg_cursor() as cursor:
        cursor.execute(sql, [tenant_id, payload])
        return dict(cursor.fetchall())


def _update_leads(rows: list[dict]) -> None:
    """Write the changed columns of existing leads (one UPDATE ... FROM json_to_recordset)."""
    tenant_id = require_tenant_id()
    names = ["id", *_WRITE_COLUMNS]
    payload = json.dumps(
        [{name: row[name] for name in names} for row in rows],
        ensure_ascii=False,
        separators=(",", ":"),
        default=_json_default,
    )
    assignments = ", ".join(f'"{name}" = r."{name}"' for name in _WRITE_COLUMNS)
    sql = (
        f"UPDATE leads_lead AS l SET {assignments} "  # nosec B608 - column names come from the model
        f"FROM json_to_recordset(%s::json) AS r({_record_columns(names)}) "
        f"WHERE l.id = r.id AND l.tenant_id = %s"
    )
    with pg_cursor() as cursor:
        cursor.execute(sql, [payload, tenant_id])
