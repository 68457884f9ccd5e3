"""The scoring rules' meaning, in plain Python, for one lead at a time.

This is the reference semantics: the set-based SQL in `engine.py` must give exactly the same
numbers (tests compare both), and explanations ("+25 価格ページ閲覧 ×1, +30 役職: 取締役,
−10 decay") come from it.

Semantics (shared with the SQL):
- A behaviour rule matches activities of its type whose URL contains / equals the text, whose
  `properties.content_id` equals the content id, whose campaign equals the campaign (each only
  when set), and, with a recency window, that occurred at or after `as_of - recency_days`.
- Counting: once → 1 × points, every time → n × points, at most N → min(n, N) × points (the N
  most recent). A frequency rule (N+ within D days) fires once when some N matching activities
  lie within D days of each other (inclusive).
- Decay: an activity's points are multiplied by 0.5 ** (age_days / half_life) (float8).
- Each rule's contribution is rounded half up (floor(x + 0.5)); the behaviour and fit sub-totals
  are capped when a cap is set; fit rules of one group count only their best match.
- Text comparisons are NFKC-normalised and lower-cased (full/half width and case insensitive);
  an ASCII keyword such as "CTO" must stand as a word ("Director" does not contain CTO).
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

ASCII_WORD = re.compile(r"^[a-z0-9]+$")


def normalize_text(value: Any) -> str:
    """NFKC + lower case + trimmed (full/half width and case insensitive)."""
    if value is None:
        return ""
    return unicodedata.normalize("NFKC", str(value)).lower().strip(" \t\n\r")


@functools.lru_cache(maxsize=4096)
def keyword_pattern(keyword: str) -> str:
    """Regex (Python and PostgreSQL compatible) for a normalised keyword."""
    escaped = re.sub(r"([\\.^$|?*+()\[\]{}-])", r"\\\1", keyword)
    if ASCII_WORD.match(keyword):
        return f"(^|[^a-z0-9]){escaped}([^a-z0-9]|$)"
    return escaped


@functools.lru_cache(maxsize=4096)
def _compiled(keyword: str) -> re.Pattern:
    return re.compile(keyword_pattern(keyword))


def round_half_up(value: float) -> int:
    return int(math.floor(value + 0.5))


@dataclass(frozen=True)
class BehaviourSpec:
    id: int | None
    label: str
    activity_type: str
    points: int
    url_match: str = ""
    url_value: str = ""
    content_id: str = ""
    campaign: str = ""
    count_mode: str = "once"
    max_count: int | None = None
    min_count: int | None = None
    window_days: int | None = None
    recency_days: int | None = None
    half_life_days: int | None = None

    @property
    def is_frequency(self) -> bool:
        return bool(self.min_count and self.window_days)

    @property
    def count_cap(self) -> int | None:
        """How many matching activities count at most (None: all)."""
        if self.is_frequency or self.count_mode == "once":
            return 1
        if self.count_mode == "at_most":
            return self.max_count or 1
        return None


@dataclass(frozen=True)
class FitSpec:
    id: int | None
    label: str
    field: str
    operator: str
    points: int
    values: tuple[str, ...] = ()
    number_min: int | None = None
    number_max: int | None = None
    group: str = ""

    @functools.cached_property
    def normalized_values(self) -> tuple[str, ...]:
        return tuple(v for v in (normalize_text(x) for x in self.values) if v)


@dataclass(frozen=True)
class SegmentSpec:
    key: str
    label: str
    min_total: int | None
    colour: str = "blue-grey"


@dataclass(frozen=True)
class ModelSpec:
    """An immutable snapshot of a scoring model's rules (saved or an unsaved draft edit)."""

    version: int
    behaviour: tuple[BehaviourSpec, ...]
    fit: tuple[FitSpec, ...]
    segments: tuple[SegmentSpec, ...]
    behaviour_cap: int | None = None
    fit_cap: int | None = None

    def segment_for(self, total: int) -> str:
        for segment in self.ordered_segments:
            if segment.min_total is None or total >= segment.min_total:
                return segment.key
        return self.ordered_segments[-1].key if self.ordered_segments else ""

    @property
    def ordered_segments(self) -> list[SegmentSpec]:
        return sorted(self.segments, key=lambda s: -math.inf if s.min_total is None else s.min_total, reverse=True)

    @property
    def is_time_based(self) -> bool:
        # Frequency alone is not time-based: once N activities fell within D days, that stays true.
        return any(r.recency_days or r.half_life_days for r in self.behaviour)


@dataclass
class Fired:
    """One line of a score's explanation."""

    kind: str  # "behaviour" | "fit" | "decay" | "cap"
    label: str
    points: int
    count: int = 0
    detail: str = ""
    rule_id: int | None = None


@dataclass
class Score:
    behaviour: int
    fit: int
    total: int
    segment: str
    fired: list[Fired] = field(default_factory=list)


# --- behaviour -----------------------------------------------------------------------------


def _activity_matches(rule: BehaviourSpec, activity: dict, as_of: datetime) -> bool:
    if activity["type"] != rule.activity_type:
        return False
    url = activity.get("url") or ""
    if rule.url_match == "contains" and rule.url_value not in url:
        return False
    if rule.url_match == "equals" and url != rule.url_value:
        return False
    if rule.content_id:
        properties = activity.get("properties") or {}
        if str(properties.get("content_id", "")) != rule.content_id:
            return False
    if rule.campaign and (activity.get("campaign") or "") != rule.campaign:
        return False
    if rule.recency_days and activity["occurred_at"] < as_of - timedelta(days=rule.recency_days):
        return False
    return True


def _decay(rule: BehaviourSpec, occurred_at: datetime, as_of: datetime) -> float:
    if not rule.half_life_days:
        return 1.0
    age_days = max((as_of - occurred_at).total_seconds(), 0.0) / 86400.0
    return math.pow(0.5, age_days / rule.half_life_days)


def behaviour_rule_value(rule: BehaviourSpec, activities: list[dict], as_of: datetime) -> tuple[int, int, int]:
    """(points after decay, points before decay, activities counted) for one rule."""
    matching = sorted(a["occurred_at"] for a in activities if _activity_matches(rule, a, as_of))
    if not matching:
        return 0, 0, 0
    if rule.is_frequency:
        need = rule.min_count
        window = timedelta(days=rule.window_days)
        qualifying = [
            matching[i] for i in range(need - 1, len(matching)) if matching[i] - matching[i - need + 1] <= window
        ]
        if not qualifying:
            return 0, 0, 0
        latest = qualifying[-1]
        return round_half_up(rule.points * _decay(rule, latest, as_of)), rule.points, 1
    cap = rule.count_cap
    counted = matching[-cap:] if cap else matching
    raw = rule.points * len(counted)
    if rule.half_life_days:
        value = round_half_up(sum(rule.points * _decay(rule, t, as_of) for t in counted))
    else:
        value = raw
    return value, raw, len(counted)


# --- fit -----------------------------------------------------------------------------------


def lead_field_value(lead: dict, field_name: str) -> Any:
    if field_name.startswith("custom:"):
        return (lead.get("custom_fields") or {}).get(field_name[len("custom:") :])
    if field_name == "email_domain":
        email = lead.get("email") or ""
        return email.rsplit("@", 1)[-1] if "@" in email else ""
    return lead.get(field_name)


def _as_number(value: Any) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    text = normalize_text(value)
    if re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", text):
        return float(text)
    return None


def fit_rule_match(rule: FitSpec, lead: dict) -> tuple[bool, str]:
    """Whether the rule matches, and the matched value/keyword for the explanation."""
    raw = lead_field_value(lead, rule.field)
    if rule.operator == "is_set":
        return normalize_text(raw) != "", ""
    if rule.operator == "is_empty":
        return normalize_text(raw) == "", ""
    if rule.operator == "range":
        number = _as_number(raw)
        if number is None:
            return False, ""
        if rule.number_min is not None and number < rule.number_min:
            return False, ""
        if rule.number_max is not None and number > rule.number_max:
            return False, ""
        return True, str(raw)
    text = normalize_text(raw)
    if not text:
        return False, ""
    values = rule.normalized_values
    if rule.operator == "equals":
        return (bool(values) and text == values[0]), text
    if rule.operator == "in":
        return text in values, text
    if rule.operator == "contains_any":
        for original, keyword in zip(rule.values, values, strict=False):
            if _compiled(keyword).search(text):
                return True, original
        return False, ""
    return False, ""


# --- the whole score -------------------------------------------------------------------------


def score_lead(spec: ModelSpec, lead: dict, activities: list[dict], as_of: datetime) -> Score:
    """Score one lead (dict of Lead fields) with its activities (dicts with type, occurred_at,
    url, campaign, properties)."""
    fired: list[Fired] = []
    behaviour = 0
    decay_total = 0
    for rule in spec.behaviour:
        value, raw, count = behaviour_rule_value(rule, activities, as_of)
        if count == 0:
            continue
        behaviour += value
        fired.append(Fired("behaviour", rule.label, raw, count, rule_id=rule.id))
        decay_total += value - raw
    if decay_total:
        fired.append(Fired("decay", "", decay_total))
    if spec.behaviour_cap is not None and behaviour > spec.behaviour_cap:
        fired.append(Fired("cap", "behaviour", spec.behaviour_cap - behaviour))
        behaviour = spec.behaviour_cap

    fit = 0
    best_in_group: dict[str, tuple[FitSpec, str]] = {}
    for rule in spec.fit:
        matched, detail = fit_rule_match(rule, lead)
        if not matched:
            continue
        if rule.group:
            current = best_in_group.get(rule.group)
            if current is None or rule.points > current[0].points:
                best_in_group[rule.group] = (rule, detail)
            continue
        fit += rule.points
        fired.append(Fired("fit", rule.label, rule.points, detail=detail, rule_id=rule.id))
    for rule, detail in best_in_group.values():
        fit += rule.points
        fired.append(Fired("fit", rule.label, rule.points, detail=detail, rule_id=rule.id))
    if spec.fit_cap is not None and fit > spec.fit_cap:
        fired.append(Fired("cap", "fit", spec.fit_cap - fit))
        fit = spec.fit_cap

    total = behaviour + fit
    return Score(behaviour, fit, total, spec.segment_for(total), fired)
