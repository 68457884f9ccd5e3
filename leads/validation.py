"""Cleaning of lead attributes, shared by every way data comes in (API, UI, CSV, Segment, forms).

`clean_lead_fields(data, context=..., partial=...)` returns the cleaned values or raises a
ValidationError keyed by field, with messages in the active language. It is plain Python
(no queries: the tenant's channels, custom fields and members come in a `LeadFieldContext`
loaded once), so a CSV import validates 100,000 rows without touching the database.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from tenants.params import parse_id

from .models import SIZE_BAND_LIMITS, Authority, Budget, CustomFieldType, Lead, SizeBand, Stage, Timing
from .normalize import nfkc, normalize_email, normalize_text

TEXT_FIELDS = ["name", "company", "title", "department", "industry", "campaign"]
CHOICE_FIELDS = {"stage": Stage, "authority": Authority, "budget": Budget, "timing": Timing, "size_band": SizeBand}
BOOLEAN_FIELDS = ["email_consent", "unsubscribed"]
# The descriptive attributes of a lead (who, where from, owner, BANT), in one place: writes,
# bulk upserts and merges derive their column lists from it.
PROFILE_FIELDS = [
    "name",
    "company",
    "title",
    "department",
    "employee_count",
    "size_band",
    "industry",
    "phone",
    "channel",
    "campaign",
    "owner_id",
    "authority",
    "need",
    "budget",
    "timing",
]
CONSENT_FIELDS = ["email_consent", "unsubscribed"]
# Every attribute a caller may set (custom fields go in `custom_fields`; `owner` takes a member).
WRITABLE_FIELDS = [
    "email",
    *(name.removesuffix("_id") for name in PROFILE_FIELDS),
    "stage",
    "custom_fields",
    *CONSENT_FIELDS,
]

# A pragmatic address check (the same one the data-quality page counts with, see quality.py).
_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+"
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?"
EMAIL_SQL_REGEX = rf"^{_LOCAL}@{_LABEL}(\.{_LABEL})+$"
EMAIL_RE = re.compile(EMAIL_SQL_REGEX)
PHONE_RE = re.compile(r"^\+?[0-9()\- ]{6,40}$")
_TRUE = {"1", "true", "yes", "y", "on", "はい", "有", "あり", "○", "〇", "✓"}
_FALSE = {"0", "false", "no", "n", "off", "いいえ", "無", "なし", "×", ""}

# Event times (activities, feedback) lie between 2000 and a day ahead; the database refuses anything outside
# 2000–2100 (the CheckConstraints in models.py), so a value PostgreSQL would store as year 1 BC, unreadable
# afterwards, can never be written.
EARLIEST_EVENT = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
EVENT_HORIZON = dt.timedelta(days=1)
# Dates a person types into a custom date field (founded, contract renewal ...).
EARLIEST_CUSTOM_DATE, LATEST_CUSTOM_DATE = dt.date(1900, 1, 1), dt.date(2100, 12, 31)
# JSON from outside nested deeper than this is refused per item: far beyond any real payload, and well
# below the depths where Python's and PostgreSQL's JSON code run out of stack.
MAX_NESTING = 64


@dataclass
class LeadFieldContext:
    """What validation needs to know about the tenant, loaded once per request or import."""

    channels: dict[str, str] = field(default_factory=dict)  # key -> label
    custom_fields: dict[str, Any] = field(default_factory=dict)  # key -> CustomFieldDefinition
    members: dict[str, int] = field(default_factory=dict)  # lower-case email -> user id
    member_ids: set[int] = field(default_factory=set)
    channel_aliases: dict[str, str] = field(default_factory=dict)  # lower-case key/label (ja, en) -> key

    @classmethod
    def load(cls) -> LeadFieldContext:
        from . import selectors

        members = selectors.member_choices()
        channels = {c.key: c.label for c in selectors.channels()}
        return cls(
            channels=channels,
            custom_fields={d.key: d for d in selectors.custom_field_definitions()},
            members={user.email.lower(): user.id for user in members},
            member_ids={user.id for user in members},
            channel_aliases=selectors.channel_aliases(channels),
        )

    def channel_key(self, raw: str) -> str | None:
        value = nfkc(raw).strip()
        if value in self.channels:
            return value
        return self.channel_aliases.get(value.lower())


_choice_maps: dict[type, dict[str, str]] = {}


def _choice_map(enum) -> dict[str, str]:
    """Lower-case key and labels (Japanese and English) → key, built once per enum."""
    mapping = _choice_maps.get(enum)
    if mapping is None:
        from django.utils import translation

        mapping = {}
        for language in ("en", "ja"):
            with translation.override(language):
                for key, label in enum.choices:
                    if key:
                        mapping[nfkc(str(label)).strip().lower()] = key
        for key in enum.values:
            if key:
                mapping[key.lower()] = key
        _choice_maps[enum] = mapping
    return mapping


def _choice(enum, raw: Any) -> str | None:
    """Accept a key or a label (either language) of a TextChoices enum."""
    value = nfkc(str(raw)).strip()
    if value in enum.values:
        return value
    return _choice_map(enum).get(value.lower())


def parse_int(raw: Any) -> int | None:
    """'1,200', '１２００名', '1200人', 1200 → 1200; '' → None; raises ValueError otherwise."""
    if raw is None:
        return None
    if isinstance(raw, bool):
        raise ValueError("boolean")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        if not math.isfinite(raw) or raw != int(raw):
            raise ValueError("fraction")
        return int(raw)
    text = nfkc(str(raw)).strip().replace(",", "").replace(" ", "")
    text = re.sub(r"(人|名|people|employees)$", "", text)
    if text == "":
        return None
    if not re.fullmatch(r"[+-]?\d+", text):
        raise ValueError(text)
    return int(text)


def parse_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = nfkc(str(raw)).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(text)


def size_band_for(employee_count: int | None) -> str:
    if employee_count is None or employee_count <= 0:
        return ""
    for limit, band in SIZE_BAND_LIMITS:
        if limit is None or employee_count <= limit:
            return band
    return ""


# --- values PostgreSQL cannot store ------------------------------------------------------------------

_BAD_CHAR = re.compile("[\x00\ud800-\udfff]")
# In JSON text an escaped NUL reads "\u0000"; a lone surrogate stays raw (ensure_ascii=False).
_SURROGATE = re.compile("[\ud800-\udfff]")
_STRICT_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, check_circular=False)


def _nul_message() -> str:
    return _("Contains a NUL character (U+0000), which cannot be stored.")


def _surrogate_message() -> str:
    return _("Contains invalid Unicode (a lone surrogate), which cannot be stored.")


def _not_finite_message() -> str:
    return _("Contains NaN or Infinity, which are not numbers that can be stored.")


def _too_deep_message() -> str:
    return _("The data is nested more than %(max)d levels deep.") % {"max": MAX_NESTING}


def _text_problem(text: str) -> str | None:
    if text.isascii():  # the common case: only a NUL can be wrong
        return _nul_message() if "\x00" in text else None
    match = _BAD_CHAR.search(text)
    if match is None:
        return None
    return _nul_message() if match.group() == "\x00" else _surrogate_message()


def unstorable(value: Any) -> str | None:
    """Why this JSON-like value (text, number, list, object) cannot be stored, in the active language:
    a NUL character or a lone surrogate anywhere (keys too), NaN/Infinity, nesting deeper than
    MAX_NESTING. None when it can. Cheap for the common case: one C-level encode and scan."""
    if isinstance(value, str):
        return _text_problem(value)
    if isinstance(value, float):
        return None if math.isfinite(value) else _not_finite_message()
    if value is None or isinstance(value, bool | int):
        return None
    return storable_json(value)[1]


def storable_json(value: Any) -> tuple[str, str | None]:
    """(the value as JSON text, None), or ("", why it cannot be stored): one encode serves the check and a
    size limit."""
    try:
        text = _STRICT_ENCODER.encode(value)
    except (ValueError, TypeError, RecursionError):  # NaN/Infinity, a non-JSON type, absurd depth
        return "", _walk(value)
    # Brackets in the text bound the depth from above (those inside strings only over-count).
    suspect = "\\u0000" in text or (not text.isascii() and _SURROGATE.search(text) is not None)
    if not suspect and text.count("[") + text.count("{") <= MAX_NESTING:
        return text, None
    problem = _walk(value)
    return ("", problem) if problem else (text, None)


def _walk(value: Any) -> str | None:
    """The slow, exact check behind `unstorable` (iterative: no recursion limit to hit)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            problem = _text_problem(item)
            if problem:
                return problem
        elif isinstance(item, float):
            if not math.isfinite(item):
                return _not_finite_message()
        elif isinstance(item, dict | list | tuple):
            if depth >= MAX_NESTING:
                return _too_deep_message()
            if isinstance(item, dict):
                stack.extend((key, depth) for key in item)
                stack.extend((child, depth + 1) for child in item.values())
            else:
                stack.extend((child, depth + 1) for child in item)
    return None


def storable_text(value: Any) -> str:
    """Text from outside that is only kept, never validated (a Referer): '' when it cannot be stored."""
    text = "" if value is None else str(value)
    return "" if _BAD_CHAR.search(text) else text


def _max_length(name: str) -> int:
    return Lead._meta.get_field(name).max_length


def clean_email(raw: Any) -> str:
    email = normalize_email("" if raw is None else str(raw))
    if not email:
        raise ValidationError(_("Enter an email address."), code="required")
    if len(email) > 254 or not EMAIL_RE.match(email):
        raise ValidationError(_("“%(value)s” is not a valid email address.") % {"value": email[:80]}, code="invalid")
    return email


def clean_custom_value(definition, raw: Any):
    """One custom field value, by its definition's type. Empty → None (the key is dropped)."""
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        return None
    problem = unstorable(raw)
    if problem:
        raise ValidationError(problem)
    kind = definition.field_type
    if kind == CustomFieldType.NUMBER:
        if isinstance(raw, bool):
            raise ValidationError(_("Enter a number."))
        try:
            number = Decimal(nfkc(str(raw)).strip().replace(",", ""))
        except InvalidOperation:
            raise ValidationError(_("Enter a number."))
        if not number.is_finite():
            raise ValidationError(_("Enter a number."))
        return int(number) if number == number.to_integral_value() else float(number)
    if kind == CustomFieldType.BOOLEAN:
        try:
            return parse_bool(raw)
        except ValueError:
            raise ValidationError(_("Enter yes or no."))
    if kind == CustomFieldType.DATE:
        try:
            value = raw if isinstance(raw, dt.date) else parse_date(nfkc(str(raw)).strip().replace("/", "-"))
        except ValueError:  # a well-formed impossible date (2026-02-30)
            value = None
        if value is None:
            raise ValidationError(_("Enter a date like 2026/04/01."))
        if not EARLIEST_CUSTOM_DATE <= value <= LATEST_CUSTOM_DATE:
            raise ValidationError(_("Enter a date between 1900 and 2100."))
        return value.isoformat()
    if kind == CustomFieldType.CHOICE:
        text = nfkc(str(raw)).strip()
        choices = [str(c) for c in definition.choices or []]
        for choice in choices:
            if text == choice or text.lower() == nfkc(choice).lower():
                return choice
        raise ValidationError(_("Choose one of: %(choices)s.") % {"choices": ", ".join(choices) or "—"})
    text = normalize_text(raw)
    if len(text) > 1000:
        raise ValidationError(_("Use at most 1,000 characters."))
    return text


def clean_lead_fields(
    data: dict[str, Any], *, context: LeadFieldContext, partial: bool = False, allow_unknown: bool = False
) -> dict[str, Any]:
    """Clean lead attributes. Returns only the keys present in `data` (plus derived ones).

    Raises ValidationError({field: [messages]}) listing every problem at once; nothing is written.
    """
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}

    def fail(name: str, message: str) -> None:
        errors.setdefault(name, []).append(str(message))

    # Values that cannot be stored are that field's error, checked first: no other message repeats them.
    problems = {key: unstorable(value) for key, value in data.items()}
    if any(problems.values()):
        for key, problem in problems.items():
            if problem:
                fail(str(key), problem)
        data = {key: value for key, value in data.items() if not problems[key]}

    unknown = [key for key in data if key not in WRITABLE_FIELDS]
    if unknown and not allow_unknown:
        for key in unknown:
            fail(key, _("Unknown field."))

    if ("email" in data or not partial) and "email" not in errors:
        try:
            cleaned["email"] = clean_email(data.get("email"))
        except ValidationError as error:
            fail("email", error.messages[0])

    for name in TEXT_FIELDS:
        if name in data:
            value = normalize_text(data[name])
            if len(value) > _max_length(name):
                fail(name, _("Use at most %(max)d characters.") % {"max": _max_length(name)})
            cleaned[name] = value

    if "need" in data:
        value = "" if data["need"] is None else str(data["need"]).strip()
        if len(value) > 5000:
            fail("need", _("Use at most %(max)d characters.") % {"max": 5000})
        cleaned["need"] = value

    if "phone" in data:
        value = nfkc("" if data["phone"] is None else str(data["phone"])).strip()
        value = value.replace("ー", "-").replace("－", "-")
        if value and not PHONE_RE.match(value):
            fail("phone", _("Enter a phone number using digits, +, -, ( ) and spaces."))
        cleaned["phone"] = value

    if "employee_count" in data:
        try:
            count = parse_int(data["employee_count"])
        except ValueError:
            fail("employee_count", _("Enter the number of employees as a whole number, e.g. 120."))
        else:
            if count is not None and not (0 <= count <= 10_000_000):
                fail("employee_count", _("Enter a number between 0 and 10,000,000."))
            cleaned["employee_count"] = count

    for name, enum in CHOICE_FIELDS.items():
        if name not in data:
            continue
        raw = data[name]
        if raw is None or str(raw).strip() == "":
            if name == "stage":
                if not partial:
                    cleaned["stage"] = Stage.LEAD
                continue
            cleaned[name] = ""
            continue
        key = _choice(enum, raw)
        if key is None:
            labels = ", ".join(str(label) for value, label in enum.choices if value)
            fail(
                name,
                _("“%(value)s” is not one of the choices (%(choices)s).") % {"value": str(raw)[:40], "choices": labels},
            )
        else:
            cleaned[name] = key

    if "employee_count" in cleaned and "size_band" not in data and cleaned["employee_count"] is not None:
        cleaned["size_band"] = size_band_for(cleaned["employee_count"])

    if "channel" in data:
        raw = data["channel"]
        if raw is None or str(raw).strip() == "":
            cleaned["channel"] = ""
        else:
            key = context.channel_key(str(raw))
            if key is None:
                fail(
                    "channel",
                    _("Unknown channel “%(value)s”. Choose one of: %(choices)s.")
                    % {"value": str(raw)[:40], "choices": ", ".join(context.channels.values())},
                )
            else:
                cleaned["channel"] = key

    if "owner" in data:
        raw = data["owner"]
        if raw is None or str(raw).strip() == "":
            cleaned["owner_id"] = None
        elif isinstance(raw, int) and not isinstance(raw, bool) and raw in context.member_ids:
            cleaned["owner_id"] = raw
        elif hasattr(raw, "pk") and raw.pk in context.member_ids:
            cleaned["owner_id"] = raw.pk
        else:
            text = str(raw).strip()
            owner_id = context.members.get(normalize_email(text))
            if owner_id is None and parse_id(text) in context.member_ids:
                owner_id = parse_id(text)
            if owner_id is None:
                fail("owner", _("No member of this workspace matches “%(value)s”.") % {"value": text[:80]})
            else:
                cleaned["owner_id"] = owner_id

    for name in BOOLEAN_FIELDS:
        if name in data:
            try:
                cleaned[name] = parse_bool(data[name])
            except ValueError:
                fail(name, _("Enter yes or no."))

    if "custom_fields" in data:
        raw = data["custom_fields"]
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            fail("custom_fields", _("Send the custom fields as an object of key: value."))
        else:
            values = {}
            for key, value in raw.items():
                definition = context.custom_fields.get(key)
                if definition is None:
                    fail("custom_fields", _("Unknown custom field “%(key)s”.") % {"key": str(key)[:40]})
                    continue
                try:
                    values[key] = clean_custom_value(definition, value)
                except ValidationError as error:
                    fail("custom_fields", f"{definition.label}: {error.messages[0]}")
            cleaned["custom_fields"] = values

    if errors:
        raise ValidationError(errors)
    return cleaned


def clean_occurred_at(raw: Any, *, default: dt.datetime | None = None) -> dt.datetime:
    """An event time: ISO 8601 (Z or offset; naive = tenant time zone), from 2000 to a day ahead, in UTC."""
    if raw is None or raw == "":
        if default is not None:
            return default
        raise ValidationError(_("Give the time the activity happened (ISO 8601)."))
    if isinstance(raw, dt.datetime):
        value = raw
    else:
        text = str(raw).strip()
        not_iso = ValidationError(_("“%(value)s” is not a date and time in ISO 8601 format.") % {"value": text[:40]})
        try:
            value = dt.datetime.fromisoformat(text)
        except ValueError:
            try:
                value = parse_datetime(text)  # raises ValueError on impossible values (minute 60)
            except ValueError:
                value = None
            if value is None:
                raise not_iso
    if timezone.is_naive(value):
        try:
            value = timezone.make_aware(value)
        except (OverflowError, ValueError):
            value = value.replace(tzinfo=dt.UTC)  # year 1 or 9999: out of range below either way
    return check_event_time(value)


def check_event_time(value: dt.datetime, *, horizon: dt.timedelta = EVENT_HORIZON) -> dt.datetime:
    """An aware event time in UTC if it lies between 2000 and now + `horizon`, else a ValidationError.

    Stored in UTC: PostgreSQL refuses offsets beyond ±15:59 that Python accepts."""
    if value < EARLIEST_EVENT:
        raise ValidationError(_("The time lies before the year 2000."), code="too_early")
    if value > timezone.now() + horizon:
        raise ValidationError(_("The time lies in the future."), code="future")
    return value.astimezone(dt.UTC)
