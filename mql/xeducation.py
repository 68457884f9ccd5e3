"""Import of the public "X Education" lead-scoring data set (../shared/data/x-education/Leads.csv)
through the product's own ingestion code, for calibration on real data.

Mapping (see ../shared/data/README.md):
- each row is a lead (synthetic address lead-<Lead Number>@x-education.example);
  Lead Source → channel, Lead Origin → campaign, Specialization → industry, occupation / city /
  country → custom fields, Do Not Email → unsubscribed (no email consent);
- TotalVisits → that many `visit` activities carrying their share of Total Time Spent on Website
  (`duration_seconds`), TotalVisits × Page Views Per Visit → `page_view` activities, Last Activity
  → one activity of the matching type, "A free copy of Mastering The Interview" → a `download`;
- Converted → a won (1) or lost (0) outcome.
The leaky columns written by sales after contact (Tags, Lead Quality, Last Notable Activity, Lead
Profile) are never read. The data set has no dates: arrival times are spread deterministically
over the last 180 days. Leads go through leads' `clean_lead_fields` + `upsert_leads`, activities
through `parse_activity_items` + `ingest_activities` (the bulk API path), outcomes through
`feedback.feedback_import`.
"""

from __future__ import annotations

import csv
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.db import connection, transaction
from django.utils import timezone

from leads import ingest
from leads import selectors as lead_selectors
from leads import services as lead_services
from leads.models import CustomFieldType
from leads.validation import LeadFieldContext, clean_lead_fields
from tenants.context import activate_in_transaction

from . import feedback, services

LEAKY_COLUMNS = frozenset({"Tags", "Lead Quality", "Last Notable Activity", "Lead Profile"})
NOT_SELECTED = {"", "Select", "select"}
DOMAIN = "x-education.example"

# Last Activity → activity type (built-in types where they exist, otherwise a tenant type).
LAST_ACTIVITY_TYPES = {
    "Email Opened": "email_open",
    "Email Link Clicked": "email_click",
    "Page Visited on Website": "page_view",
    "Form Submitted on Website": "form_submit",
    "Converted to Lead": "form_submit",
    "Olark Chat Conversation": "chat",
    "SMS Sent": "sms_sent",
    "Email Bounced": "email_bounced",
    "Unreachable": "unreachable",
    "Unsubscribed": "unsubscribed",
    "Had a Phone Conversation": "phone_conversation",
    "Approached upfront": "approached_upfront",
    "View in browser link Clicked": "email_view_in_browser",
    "Email Received": "email_received",
    "Email Marked Spam": "email_marked_spam",
    "Visited Booth in Tradeshow": "event_visit",
    "Resubscribed to emails": "resubscribed",
}
EXTRA_TYPES = {
    "visit": "Website visit",
    "chat": "Chat conversation",
    "sms_sent": "SMS sent",
    "email_bounced": "Email bounced",
    "unreachable": "Unreachable",
    "unsubscribed": "Unsubscribed",
    "phone_conversation": "Phone conversation",
    "approached_upfront": "Approached upfront",
    "email_view_in_browser": "Email viewed in browser",
    "email_received": "Email received",
    "email_marked_spam": "Email marked as spam",
    "event_visit": "Trade show booth visit",
    "resubscribed": "Resubscribed",
}
CUSTOM_FIELDS = [("occupation", "Occupation"), ("city", "City"), ("country", "Country")]


@dataclass
class ImportResult:
    leads: int
    activities: int
    outcomes: int
    converted: int


def read_rows(path: str | Path) -> list[dict]:
    """The CSV's rows without the leaky columns (they never leave this function)."""
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"Prospect ID", "Lead Number", "Converted"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"Not the X Education Leads.csv: missing columns {sorted(missing)}")
        return [{k: v for k, v in row.items() if k not in LEAKY_COLUMNS} for row in reader]


def _clean(value: str | None) -> str:
    value = (value or "").strip()
    return "" if value in NOT_SELECTED else value


def _number(value: str | None) -> float:
    try:
        return max(float(value), 0.0) if value not in (None, "") else 0.0
    except ValueError:
        return 0.0


def arrival(lead_number: int, now: dt.datetime) -> dt.datetime:
    """A deterministic arrival time within the last 180 days (the data set has no dates)."""
    return now - dt.timedelta(days=14 + (lead_number * 7919) % 166, minutes=(lead_number * 104729) % 1440)


def _email(row: dict) -> str:
    return f"lead-{int(row['Lead Number'])}@{DOMAIN}"


def prepare_tenant(*, actor=None) -> None:
    """Channels, custom fields and activity types the data set needs (leads' own settings services)."""
    services.defaults_ensure()
    known_types = lead_selectors.known_activity_types()
    for key, label in EXTRA_TYPES.items():
        if key not in known_types:
            lead_services.activity_type_create(label=label, key=key, actor=actor)
    existing_fields = {d.key for d in lead_selectors.custom_field_definitions()}
    for key, label in CUSTOM_FIELDS:
        if key not in existing_fields:
            lead_services.custom_field_create(label=label, field_type=CustomFieldType.TEXT, key=key, actor=actor)


def _ensure_channels(rows: list[dict], actor) -> None:
    labels = {c.label for c in lead_selectors.channels(include_inactive=True)}
    keys = {c.key for c in lead_selectors.channels(include_inactive=True)}
    context = LeadFieldContext.load()
    for source in sorted({_clean(r.get("Lead Source")) for r in rows} - {""}):
        if source not in labels and context.channel_key(source) is None and source not in keys:
            lead_services.channel_add(label=source, actor=actor)
            labels.add(source)


def lead_data(row: dict) -> dict:
    do_not_email = (row.get("Do Not Email") or "").strip().lower() == "yes"
    return {
        "email": _email(row),
        "name": f"X Education {int(row['Lead Number'])}",
        "channel": _clean(row.get("Lead Source")),
        "campaign": _clean(row.get("Lead Origin")),
        "industry": _clean(row.get("Specialization")),
        "unsubscribed": do_not_email,
        "email_consent": not do_not_email,
        "custom_fields": {
            "occupation": _clean(row.get("What is your current occupation")) or None,
            "city": _clean(row.get("City")) or None,
            "country": _clean(row.get("Country")) or None,
        },
    }


def activity_items(row: dict, now: dt.datetime) -> list[dict]:
    """Raw activity items (the bulk API's shape) for one row."""
    number = int(row["Lead Number"])
    email = _email(row)
    start = arrival(number, now)
    visits = int(round(_number(row.get("TotalVisits"))))
    seconds = _number(row.get("Total Time Spent on Website"))
    if visits == 0 and seconds > 0:
        visits = 1
    page_views = int(round(_number(row.get("TotalVisits")) * _number(row.get("Page Views Per Visit"))))
    items: list[dict] = []

    def at(step: int, total: int) -> str:
        span = dt.timedelta(days=13)
        return (start + span * (step + 1) / (total + 1)).isoformat()

    for i in range(visits):
        items.append(
            {
                "type": "visit",
                "email": email,
                "occurred_at": at(i, visits),
                "url": "https://x-education.example/",
                "external_id": f"xe-{number}-visit-{i}",
                "properties": {"duration_seconds": round(seconds / visits, 1)},
            }
        )
    for i in range(page_views):
        items.append(
            {
                "type": "page_view",
                "email": email,
                "occurred_at": at(i, page_views),
                "url": "https://x-education.example/courses",
                "external_id": f"xe-{number}-pv-{i}",
            }
        )
    last = LAST_ACTIVITY_TYPES.get(_clean(row.get("Last Activity")))
    if last:
        items.append(
            {
                "type": last,
                "email": email,
                "occurred_at": (start + dt.timedelta(days=13, hours=12)).isoformat(),
                "external_id": f"xe-{number}-last",
            }
        )
    if (row.get("A free copy of Mastering The Interview") or "").strip().lower() == "yes":
        items.append(
            {
                "type": "download",
                "email": email,
                "occurred_at": at(0, 1),
                "properties": {"content_id": "mastering-the-interview"},
                "external_id": f"xe-{number}-dl",
            }
        )
    return items


def import_rows(
    rows: list[dict], *, actor=None, won_amount: int = 0, progress: Callable[[str], None] | None = None
) -> ImportResult:
    """Import the rows into the active tenant (call inside `tenant_scope`)."""
    started = time.monotonic()

    def say(message: str) -> None:
        if progress is not None:
            progress(f"{message} ({time.monotonic() - started:.1f} s)")

    now = timezone.now()
    with transaction.atomic():
        activate_in_transaction()
        prepare_tenant(actor=actor)
        _ensure_channels(rows, actor)
        context = LeadFieldContext.load()
        known_types = lead_selectors.known_activity_types()
    cleaned = [clean_lead_fields(lead_data(row), context=context) for row in rows]
    with transaction.atomic():
        activate_in_transaction()
        result = ingest.upsert_leads(cleaned, actor=actor, reason="xeducation_import")
        analyze_tables()
    say(f"leads: {len(result.created)} created, {len(result.updated)} updated")

    # One batch: one change announcement for all leads, so scoring stages a single set-based
    # recompute instead of thousands of incremental rescores.
    activities = _ingest([item for row in rows for item in activity_items(row, now)], known_types)
    say(f"activities: {activities}")

    outcomes = [
        {
            "email": _email(row),
            "outcome": "won",
            "amount": won_amount,
            "occurred_at": (arrival(int(row["Lead Number"]), now) + dt.timedelta(days=14)).isoformat(),
        }
        if (row.get("Converted") or "").strip() == "1"
        else {
            "email": _email(row),
            "outcome": "lost",
            "reason": "other",
            "note": "Not converted (X Education data)",
            "occurred_at": (arrival(int(row["Lead Number"]), now) + dt.timedelta(days=14)).isoformat(),
        }
        for row in rows
    ]
    with transaction.atomic():
        activate_in_transaction()
        imported = feedback.feedback_import(rows=outcomes, actor=actor)
    say(f"outcomes: {imported.created}")
    return ImportResult(
        leads=len(result.ids_by_email),
        activities=activities,
        outcomes=imported.created,
        converted=sum(1 for o in outcomes if o["outcome"] == "won"),
    )


def _ingest(raw_items: list[dict], known_types: set[str]) -> int:
    if not raw_items:
        return 0
    items, rejected = ingest.parse_activity_items(raw_items, known_types=known_types, default_source="import")
    if rejected:
        first = rejected[0]
        raise ValueError(f"activity item {first.index} rejected: {first.errors}")
    with transaction.atomic():
        activate_in_transaction()
        results = ingest.ingest_activities(items, create_leads=False, reason="xeducation_import")
        # Fresh planner statistics before the rescoring this batch triggers: on a table that just
        # grew from nothing the planner estimates one row and picks nested loops (minutes, not ms).
        analyze_tables()
    return sum(1 for r in results if r.status == "accepted")


def analyze_tables() -> None:
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE leads_lead, leads_activity")
