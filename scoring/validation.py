"""Validation of rule input, shared by the editor, the API and the CSV import.

Raises django ValidationError keyed by field with messages in the user's language; callers
turn it into HTTP 400 with nothing changed.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from .models import CountMode, FitField, FitOperator, SegmentColour, UrlMatch

ACTIVITY_TYPE = re.compile(r"^[a-z][a-z0-9_.:-]{0,59}$")
CUSTOM_FIELD = re.compile(r"^custom:[A-Za-z0-9_-]{1,60}$")
POINTS_LIMIT = 1000
DAYS_LIMIT = 3650
FORBIDDEN_IN_TEXT = re.compile(r"[\[\];|]")


def _positive(errors: dict, spec: dict, name: str, *, limit: int = DAYS_LIMIT) -> None:
    value = spec.get(name)
    if value in (None, ""):
        spec[name] = None
        return
    try:
        value = int(value)
    except (TypeError, ValueError):
        errors[name] = _("Enter a whole number.")
        return
    if value < 1 or value > limit:
        errors[name] = _("Enter a number from 1 to %(limit)s.") % {"limit": limit}
        return
    spec[name] = value


def _points(errors: dict, spec: dict) -> None:
    try:
        points = int(spec.get("points"))
    except (TypeError, ValueError):
        errors["points"] = _("Points must be a whole number (negative allowed).")
        return
    if abs(points) > POINTS_LIMIT:
        errors["points"] = _("Points must be between -%(limit)s and %(limit)s.") % {"limit": POINTS_LIMIT}
        return
    spec["points"] = points


def validate_behaviour(spec: dict) -> dict:
    """Check and normalise a behaviour rule dict in place; raise ValidationError."""
    errors: dict[str, str] = {}
    spec["label"] = (spec.get("label") or "").strip()
    if not spec["label"]:
        errors["label"] = _("Give the rule a name.")
    activity_type = (spec.get("activity_type") or "").strip()
    spec["activity_type"] = activity_type
    if not ACTIVITY_TYPE.match(activity_type):
        errors["activity_type"] = _(
            "Enter an activity type such as page_view or email_open (lower-case letters, digits and _)."
        )
    _points(errors, spec)
    url_match = spec.get("url_match") or ""
    spec["url_match"] = url_match
    if url_match not in UrlMatch.values:
        errors["url_match"] = _("Choose a valid URL condition.")
    spec["url_value"] = (spec.get("url_value") or "").strip()
    if url_match and not spec["url_value"]:
        errors["url_value"] = _("Enter the URL text to match.")
    for name in ("url_value", "content_id", "campaign"):
        spec[name] = (spec.get(name) or "").strip()
        if FORBIDDEN_IN_TEXT.search(spec[name]):
            errors[name] = _("Brackets, ; and | cannot be used here.")
    count_mode = spec.get("count_mode") or CountMode.ONCE
    spec["count_mode"] = count_mode
    if count_mode not in CountMode.values:
        errors["count_mode"] = _("Choose once, every time or at most N times.")
    for name in ("max_count", "min_count"):
        _positive(errors, spec, name, limit=10000)
    for name in ("window_days", "recency_days", "half_life_days"):
        _positive(errors, spec, name)
    if count_mode == CountMode.AT_MOST and not spec.get("max_count") and "max_count" not in errors:
        errors["max_count"] = _("Enter how many times at most.")
    if count_mode != CountMode.AT_MOST and "max_count" not in errors:
        spec["max_count"] = None
    has_min, has_window = bool(spec.get("min_count")), bool(spec.get("window_days"))
    if has_min != has_window and "min_count" not in errors and "window_days" not in errors:
        errors["window_days" if has_min else "min_count"] = _(
            "A frequency condition needs both “at least N times” and “within D days”."
        )
    if has_min and has_window and count_mode != CountMode.ONCE and "count_mode" not in errors:
        errors["count_mode"] = _("A frequency rule is counted once.")
    if spec.get("recency_days") and spec.get("window_days") and spec["window_days"] > spec["recency_days"]:
        errors["recency_days"] = _("The recency window must be at least as long as the frequency window.")
    if errors:
        raise ValidationError(errors)
    return spec


NUMBER_FIELDS = {"employee_count"}


def validate_fit(spec: dict) -> dict:
    errors: dict[str, str] = {}
    spec["label"] = (spec.get("label") or "").strip()
    if not spec["label"]:
        errors["label"] = _("Give the rule a name.")
    field = (spec.get("field") or "").strip()
    spec["field"] = field
    if field not in FitField.values and not CUSTOM_FIELD.match(field):
        errors["field"] = _("Choose a lead field (or custom:<key> for a custom field).")
    operator = spec.get("operator") or ""
    if operator not in FitOperator.values:
        errors["operator"] = _("Choose a valid operator.")
    _points(errors, spec)
    values = spec.get("values") or []
    if isinstance(values, str):
        values = [v for v in re.split(r"[,、|\n]", values)]
    values = [str(v).strip() for v in values if str(v).strip()]
    spec["values"] = values
    if any(FORBIDDEN_IN_TEXT.search(v) for v in values):
        errors["values"] = _("Brackets, ; and | cannot be used here.")
    for name in ("number_min", "number_max"):
        value = spec.get(name)
        if value in (None, ""):
            spec[name] = None
            continue
        try:
            spec[name] = int(value)
        except (TypeError, ValueError):
            errors[name] = _("Enter a whole number.")
    if operator in ("equals", "in", "contains_any") and not values and "values" not in errors:
        errors["values"] = _("Enter at least one value (separate several with commas).")
    if operator == "equals" and len(values) > 1:
        errors["values"] = _("“equals” takes one value; use “is one of” for several.")
    if operator == "range":
        if field in ("authority", "need", "budget", "timing", "title", "industry", "department"):
            errors["operator"] = _("A number range needs a numeric field such as employees.")
        low, high = spec.get("number_min"), spec.get("number_max")
        if low is None and high is None and "number_min" not in errors and "number_max" not in errors:
            errors["number_min"] = _("Enter a lower bound, an upper bound or both.")
        elif low is not None and high is not None and low > high:
            errors["number_max"] = _("The upper bound must not be below the lower bound.")
    elif operator and operator != "range":
        if field in NUMBER_FIELDS and operator in ("contains_any",):
            errors["operator"] = _("Use a number range for a numeric field.")
        if operator != "range":
            spec["number_min"] = spec["number_max"] = None
    spec["group"] = (spec.get("group") or "").strip()
    if errors:
        raise ValidationError(errors)
    return spec


def validate_segments(segments: list[dict]) -> list[dict]:
    """Segments: unique keys, one lowest band without a minimum, distinct minimums."""
    if not segments:
        raise ValidationError(_("Define at least one segment."))
    keys = [s.get("key") for s in segments]
    if len(set(keys)) != len(keys):
        raise ValidationError(_("Each segment needs its own key."))
    for segment in segments:
        if not re.match(r"^[a-z0-9-]{1,20}$", segment.get("key") or ""):
            raise ValidationError(_("A segment key uses lower-case letters, digits and hyphens (e.g. hot)."))
        if segment.get("colour") and segment["colour"] not in SegmentColour.values:
            raise ValidationError(_("Choose one of the segment colours."))
        if not (segment.get("label") or "").strip():
            raise ValidationError(_("Give every segment a name."))
    minimums = [s.get("min_total") for s in segments]
    if sum(1 for m in minimums if m is None) != 1:
        raise ValidationError(_("Exactly one segment (the lowest) must have no minimum score."))
    numbers = [m for m in minimums if m is not None]
    if len(set(numbers)) != len(numbers):
        raise ValidationError(_("Two segments cannot start at the same score."))
    return segments
