"""Segment-spec compatible ingestion: POST /v1/batch (what the Python clients call), /v1/identify,
/v1/track, /v1/page (and /v1/screen, /v1/alias, /v1/group for other senders).

Wire facts (checked against segment-analytics-python 2.4 and rudder-sdk-python 2.1):
- HTTP Basic auth, the tenant's API key ("write key") as the username and an empty password;
  Segment 2.4 also puts `writeKey` in the body (used when there is no Authorization header).
- Body `{"batch": [...], "sentAt": ...}`, up to 100 messages and 500 KB; gzip-encoded when
  `Content-Encoding: gzip` (RudderStack's default; Django does not decompress bodies).
- Each message: `type`, `messageId` (the same on every retry), `timestamp`, `userId` / `anonymousId`
  (the missing one null), `context`; track has `event` + `properties`, page has `name` +
  `properties`, identify has `traits` (RudderStack: `context.traits`).
- Answers: exactly 200 on success (RudderStack treats any other 2xx as a failure and resends),
  401 bad key, 400 bad JSON, 413 over 500 KB / 100 messages, 429 + Retry-After when rate-limited.
  Error bodies are `{"code": ..., "message": ...}` (what both clients log).

Messages are stored idempotently: the activity's external_id is the messageId, unique per tenant,
so a retried batch adds nothing. Identify traits map to lead fields and track event names to
activity types through the tenant's mappings (selectors.ingest_maps); anonymous ids are kept on
the activities and linked to the lead when an identify connects them.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import logging
import zlib
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from tenants import ratelimit
from tenants.authentication import api_key_lookup
from tenants.context import tenant_scope
from tenants.models import ApiScope

from . import selectors
from .ingest import ActivityIn, ingest_activities, link_identities, upsert_leads
from .models import ActivityTypes, IdentityKind
from .normalize import normalize_email, normalize_key
from .validation import EMAIL_RE, LeadFieldContext, check_event_time, clean_lead_fields, unstorable

logger = logging.getLogger("ondo.leads.segment")

MAX_BODY_BYTES = 500 * 1024
MAX_MESSAGES = 100
ACTIVITY_MESSAGE_TYPES = {"track", "page", "screen"}
MESSAGE_TYPES = ACTIVITY_MESSAGE_TYPES | {"identify", "alias", "group"}


class SegmentError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}

    def response(self) -> JsonResponse:
        response = JsonResponse({"code": self.code, "message": self.message}, status=self.status)
        for name, value in self.headers.items():
            response[name] = value
        return response


# --- request handling -------------------------------------------------------------------------------


def _basic_auth_key(request) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _sep, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise SegmentError(401, "unauthorized", _("Send the write key with HTTP Basic authentication."))
    return decoded.partition(":")[0].strip()


def _read_body(request) -> bytes:
    length = request.META.get("CONTENT_LENGTH")
    try:
        declared = int(length) if length else None
    except ValueError:
        declared = None
    too_big = SegmentError(413, "payload_too_large", _("The request body is larger than 500 KB."))
    if declared is not None and declared > MAX_BODY_BYTES:
        raise too_big
    raw = request.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise too_big
    if request.META.get("HTTP_CONTENT_ENCODING", "").strip().lower() == "gzip":
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            raw = inflater.decompress(raw, MAX_BODY_BYTES + 1)
        except zlib.error:
            raise SegmentError(400, "invalid_request", _("The body is not valid gzip."))
        if len(raw) > MAX_BODY_BYTES or inflater.unconsumed_tail:
            raise too_big
    return raw


def _rate_limit(key_prefix: str) -> None:
    per_minute = int(getattr(settings, "ONDO_SEGMENT_RATE_PER_MINUTE", 1200))
    # Never raises for a Redis outage (counts in this process meanwhile): an outage must not lose data.
    decision = ratelimit.hit(f"segment:{key_prefix}", limit=per_minute, period=60)
    if not decision.allowed:
        raise SegmentError(
            429,
            "rate_limited",
            _("Too many requests for this write key; retry later."),
            {"Retry-After": str(decision.retry_after)},
        )


def _authenticate(request, body_key: str | None):
    key = _basic_auth_key(request) or body_key
    if not key:
        raise SegmentError(401, "unauthorized", _("Send the write key with HTTP Basic authentication."))
    api_key = api_key_lookup(key)
    if api_key is None:
        raise SegmentError(401, "unauthorized", _("Invalid or revoked write key."))
    if not api_key.allows(ApiScope.INGEST):
        raise SegmentError(403, "forbidden", _("This API key may not send events: it needs the “ingest” scope."))
    return api_key


def handle(request, message_type: str | None = None) -> JsonResponse:
    """The /v1/<type> and /v1/batch endpoints."""
    try:
        header_key = _basic_auth_key(request)
        if header_key is not None:
            api_key = _authenticate(request, None)
            _rate_limit(api_key.prefix)
        raw = _read_body(request)
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise SegmentError(400, "invalid_request", _("The body is not valid JSON."))
        except RecursionError:
            raise SegmentError(400, "invalid_request", _("The body is nested too deeply to be read as JSON."))
        if not isinstance(body, dict):
            raise SegmentError(400, "invalid_request", _("Send a JSON object."))
        if header_key is None:
            api_key = _authenticate(request, body.get("writeKey") if isinstance(body.get("writeKey"), str) else None)
            _rate_limit(api_key.prefix)
        if message_type is None:
            messages = body.get("batch")
            if not isinstance(messages, list):
                raise SegmentError(400, "invalid_request", _("Send the messages as a list in “batch”."))
            if len(messages) > MAX_MESSAGES:
                raise SegmentError(413, "payload_too_large", _("Send at most 100 messages per batch."))
        else:
            messages = [{**body, "type": message_type}]
        with tenant_scope(api_key.tenant_id):
            summary = process_messages(messages)
    except SegmentError as error:
        return error.response()
    if summary["skipped"]:
        counts = {key: value for key, value in summary.items() if key != "errors"}
        logger.info("segment batch for tenant %s: %s", api_key.tenant_id, counts)
    return JsonResponse({"success": True, **summary}, status=200)


@csrf_exempt
@require_POST
def batch(request):
    return handle(request)


def single(message_type: str):
    @csrf_exempt
    @require_POST
    def view(request):
        return handle(request, message_type)

    view.__name__ = f"segment_{message_type}"
    return view


# --- processing -------------------------------------------------------------------------------------


def _id(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, int | float | str):
        return str(value).strip()[:200]
    return ""


def _timestamp(message: dict) -> dt.datetime:
    """The event time: the first of timestamp / originalTimestamp / sentAt that parses; now without one.

    A time outside 2000 .. now + 1 day is refused (ValidationError keyed by its field): stored, year 1 would
    be unreadable. A client clock up to a day ahead of ours is clamped to now (never future activity)."""
    now = timezone.now()
    for key in ("timestamp", "originalTimestamp", "sentAt"):
        raw = message.get(key)
        if isinstance(raw, str) and raw:
            try:
                value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
            except ValueError:
                continue
            if timezone.is_naive(value):
                value = value.replace(tzinfo=dt.UTC)
            try:
                value = check_event_time(value)
            except ValidationError as error:
                raise ValidationError({key: error.messages})
            return min(value, now)
    return now


def _traits(message: dict) -> dict:
    traits = message.get("traits")
    if not isinstance(traits, dict) or not traits:
        context = message.get("context") if isinstance(message.get("context"), dict) else {}
        traits = context.get("traits") if isinstance(context.get("traits"), dict) else {}
    return traits


def _email_of(user_id: str, traits: dict, properties: dict | None = None) -> str:
    for candidate in (traits.get("email"), (properties or {}).get("email"), user_id):
        if isinstance(candidate, str):
            email = normalize_email(candidate)
            if EMAIL_RE.match(email):
                return email
    return ""


def map_traits(traits: dict, maps: selectors.IngestMaps) -> dict[str, Any]:
    """Identify traits → raw lead attributes by the tenant's trait mapping."""
    data: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    first = last = None
    for key, value in traits.items():
        if key == "company" and isinstance(value, dict):
            # Segment's reserved trait: company {name, employee_count, industry, ...}
            for sub_key, sub_value in value.items():
                target = {
                    "name": "company",
                    "employee_count": "employee_count",
                    "employees": "employee_count",
                    "industry": "industry",
                }.get(sub_key)
                if target:
                    data.setdefault(target, sub_value)
            continue
        target = maps.traits.get(normalize_key(key))
        if not target or isinstance(value, dict | list):
            continue
        if target == "first_name":
            first = value
        elif target == "last_name":
            last = value
        elif target.startswith("custom."):
            custom[target.removeprefix("custom.")] = value
        else:
            data[target] = value
    if "name" not in data and (first or last):
        # Japanese order: family name first.
        data["name"] = " ".join(str(part) for part in (last, first) if part)
    if custom:
        data["custom_fields"] = custom
    return data


def _clean_partially(data: dict, context: LeadFieldContext) -> dict:
    """Clean what can be cleaned; a bad trait drops only itself (identify is best-effort)."""
    cleaned: dict[str, Any] = {}
    for key, value in data.items():
        if key == "custom_fields":
            good = {}
            for custom_key, custom_value in value.items():
                try:
                    good.update(
                        clean_lead_fields({"custom_fields": {custom_key: custom_value}}, context=context, partial=True)[
                            "custom_fields"
                        ]
                    )
                except ValidationError:
                    continue
            if good:
                cleaned["custom_fields"] = good
            continue
        try:
            cleaned.update(clean_lead_fields({key: value}, context=context, partial=True))
        except ValidationError:
            continue
    return cleaned


def process_messages(messages: list) -> dict[str, Any]:
    """Store a batch: identifies (set-based lead upsert + identity links), then activities.

    A malformed message is skipped alone; `errors` lists each with its reasons by field (the clients
    only look at the status code, but a person reading their logs or the response sees why)."""
    maps = selectors.ingest_maps()
    context = LeadFieldContext.load()
    skipped = 0
    errors: list[dict[str, Any]] = []
    identifies: list[tuple[dict, str, str, str]] = []  # (cleaned, email, user_id, anonymous_id)
    aliases: list[tuple[str, str]] = []
    activities: list[ActivityIn] = []

    def reject(index: int, message: Any, reasons: dict[str, list[str]]) -> None:
        nonlocal skipped
        skipped += 1
        message_id = _id(message.get("messageId")) if isinstance(message, dict) else ""
        errors.append({"index": index, "messageId": message_id or None, "errors": reasons})

    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            reject(index, message, {"message": [_("Send each message as an object.")]})
            continue
        # Anything in the message may end up stored (ids, properties, traits): one check of the whole.
        problem = unstorable(message)
        if problem:
            reject(index, message, {"message": [problem]})
            continue
        kind = message.get("type")
        if not isinstance(kind, str) or kind not in MESSAGE_TYPES:  # a list or object is unhashable
            reject(index, message, {"type": [_("Unknown message type.")]})
            continue
        user_id, anonymous_id = _id(message.get("userId")), _id(message.get("anonymousId"))
        if kind == "alias":
            previous = _id(message.get("previousId"))
            if previous and user_id:
                aliases.append((previous, user_id))
            else:
                reject(index, message, {"previousId": [_("An alias needs previousId and userId.")]})
            continue
        if not user_id and not anonymous_id:
            reject(index, message, {"userId": [_("Send userId or anonymousId.")]})
            continue
        if kind == "group":
            continue  # accepted; company data comes with identify traits
        traits = _traits(message)
        if kind == "identify":
            email = _email_of(user_id, traits)
            cleaned = _clean_partially(map_traits(traits, maps), context)
            cleaned.pop("email", None)
            identifies.append((cleaned, email, "" if user_id == email else user_id, anonymous_id))
            continue
        properties = message.get("properties") if isinstance(message.get("properties"), dict) else {}
        context_data = message.get("context") if isinstance(message.get("context"), dict) else {}
        page = context_data.get("page") if isinstance(context_data.get("page"), dict) else {}
        url = str(properties.get("url") or page.get("url") or "")[:1000]
        stored = dict(properties)
        try:
            occurred_at = _timestamp(message)
        except ValidationError as error:
            reject(index, message, error.message_dict)
            continue
        if kind == "track":
            event = str(message.get("event") or "")[:200]
            if not event:
                reject(index, message, {"event": [_("A track call needs the event name.")]})
                continue
            activity_type = maps.event_type(event)
            stored["event"] = event
        else:
            activity_type = maps.page_type(url) if kind == "page" else ActivityTypes.PAGE_VIEW
            if message.get("name"):
                stored["name"] = str(message["name"])[:200]
        campaign = context_data.get("campaign") if isinstance(context_data.get("campaign"), dict) else {}
        message_id = _id(message.get("messageId")) or None
        email = _email_of(user_id, traits, properties)
        activities.append(
            ActivityIn(
                index=index,
                type=activity_type,
                occurred_at=occurred_at,
                email=email,
                user_id="" if user_id == email else user_id,
                anonymous_id=anonymous_id,
                url=url,
                campaign=str(campaign.get("name") or properties.get("campaign") or "")[:200],
                properties=stored,
                source="segment",
                external_id=message_id,
            )
        )

    linked = 0
    if identifies:
        with_email = [dict(cleaned, email=email) for cleaned, email, _u, _a in identifies if email]
        ids = upsert_leads(with_email, reason="segment_identify").ids_by_email if with_email else {}
        by_user = _identity_leads(IdentityKind.USER_ID, [u for _c, e, u, _a in identifies if not e and u])
        for cleaned, email, user_id, anonymous_id in identifies:
            lead_id = ids.get(email) if email else by_user.get(user_id)
            if lead_id is None:
                skipped += 1  # nothing to attach the traits to yet (no email, unknown user id)
                continue
            if not email and cleaned:
                upsert_leads([dict(cleaned, email=_email_for(lead_id))], reason="segment_identify")
            linked += link_identities(lead_id=lead_id, user_id=user_id, anonymous_id=anonymous_id)
    for previous, user_id in aliases:
        lead_id = _identity_leads(IdentityKind.USER_ID, [user_id]).get(user_id)
        if lead_id is None and EMAIL_RE.match(normalize_email(user_id)):
            lead = selectors.lead_by_email(user_id)
            lead_id = lead.pk if lead else None
        if lead_id is None:
            skipped += 1
            continue
        linked += link_identities(lead_id=lead_id, anonymous_id=previous)

    results = ingest_activities(activities, reason="segment_ingest") if activities else []
    accepted = sum(1 for r in results if r.status == "accepted")
    duplicate = sum(1 for r in results if r.status == "duplicate")
    skipped += sum(1 for r in results if r.status == "rejected")
    return {
        "accepted": accepted,
        "duplicate": duplicate,
        "identified": len(identifies),
        "linked": linked,
        "skipped": skipped,
        "errors": errors,
    }


def _identity_leads(kind: str, values: list[str]) -> dict[str, int]:
    from .ingest import resolve_identities

    return resolve_identities(kind, values)


def _email_for(lead_id: int) -> str:
    from .models import Lead

    return Lead.objects.filter(pk=lead_id).values_list("email", flat=True).first() or ""
