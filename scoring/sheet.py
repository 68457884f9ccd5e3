"""The scoring design sheet as CSV, in the seed's exact columns: `スコア種別,項目,条件,配点,備考`.

Rows are `行動スコア` (behaviour), `属性スコア` (fit) and `セグメント定義` (segments). The 条件
column holds the human description; the machine-readable condition is either recognised from the
item name (the seed sheet's own items, so the seed imports as it is) or written after it in
brackets, e.g. `料金ページを2回以上閲覧 [type=page_view; url_contains=/pricing; min=2; within=7]`.
Export writes the bracket only when the item name alone would not give the same rule, so the
default model exports byte for byte as the seed sheet, and any model round-trips.

Bracket keys — behaviour: type, url_contains, url_equals, content_id, campaign, count
(once | every | at_most), max, min, within, recency, half_life. Fit: field, op (equals | in |
contains_any | range | is_set | is_empty), values (separated by |), min, max, group. Segment: key,
colour. A row `行動スコア,上限,…,100,` or `属性スコア,上限,…` (or `[cap]`) caps that sub-total.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from tenants.csvutil import escape_formula, unescape_formula

HEADER = ["スコア種別", "項目", "条件", "配点", "備考"]
KIND_BEHAVIOUR = "行動スコア"
KIND_FIT = "属性スコア"
KIND_SEGMENT = "セグメント定義"
CAP_LABELS = {"上限", "cap"}

# The seed sheet (shared/seeds/000_*.txt) — the default model of every new tenant.
SEED_SHEET = """スコア種別,項目,条件,配点,備考
行動スコア,メール開封,メールを開封した,5,基本的な関心の表れ
行動スコア,メールクリック,メール内のリンクをクリックした,10,具体的な興味あり
行動スコア,資料ダウンロード,ホワイトペーパーや事例資料をDLした,20,課題認識が明確
行動スコア,価格ページ閲覧,料金・プランページを閲覧した,25,購買検討段階
行動スコア,問い合わせフォーム入力開始,フォームに入力を開始(未送信も含む),15,商談化の可能性
行動スコア,ウェビナー参加,オンラインセミナーに参加した,20,能動的な情報収集
行動スコア,サイト再訪問(週2回以上),1週間に2回以上サイトを訪問,10,継続的な関心
属性スコア,役職:経営者・役員,肩書にCEO・CTO・取締役等が含まれる,30,決裁権あり
属性スコア,役職:部長クラス,肩書に部長・マネージャー等が含まれる,20,影響力あり
属性スコア,役職:担当者クラス,肩書に担当・スタッフ等が含まれる,10,情報収集段階
属性スコア,企業規模:従業員500名以上,大企業,25,予算規模大
属性スコア,企業規模:従業員100-499名,中堅企業,20,ターゲット中核
属性スコア,企業規模:従業員50-99名,中小企業,15,ターゲット周辺
属性スコア,業種:IT・ソフトウェア,自社サービスと親和性高,20,ターゲット業種
属性スコア,業種:製造業,自社サービスと親和性中,10,ターゲット周辺
セグメント定義,ホットリード,行動スコア+属性スコア合計80点以上,商談化優先,即座に営業へ引き渡し
セグメント定義,ウォームリード,行動スコア+属性スコア合計50-79点,育成継続,定期的なナーチャリング
セグメント定義,コールドリード,行動スコア+属性スコア合計49点以下,長期育成,月1回程度の情報提供
"""

# What the seed sheet's item names mean (keyed by the normalised item name).
KNOWN_BEHAVIOUR: dict[str, dict] = {
    "メール開封": {"activity_type": "email_open"},
    "メールクリック": {"activity_type": "email_click"},
    "資料ダウンロード": {"activity_type": "download"},
    "価格ページ閲覧": {"activity_type": "pricing_view"},
    "問い合わせフォーム入力開始": {"activity_type": "form_start"},
    "ウェビナー参加": {"activity_type": "webinar_attend"},
    "サイト再訪問(週2回以上)": {"activity_type": "page_view", "min_count": 2, "window_days": 7},
}
KNOWN_FIT: dict[str, dict] = {
    "役職:経営者・役員": {
        "field": "title",
        "operator": "contains_any",
        "values": ["CEO", "CTO", "CFO", "COO", "取締役", "役員", "社長"],
    },
    "役職:部長クラス": {
        "field": "title",
        "operator": "contains_any",
        "values": ["部長", "マネージャー", "Manager", "Director"],
    },
    "役職:担当者クラス": {"field": "title", "operator": "contains_any", "values": ["担当", "スタッフ", "Staff"]},
    "企業規模:従業員500名以上": {"field": "employee_count", "operator": "range", "number_min": 500},
    "企業規模:従業員100-499名": {"field": "employee_count", "operator": "range", "number_min": 100, "number_max": 499},
    "企業規模:従業員50-99名": {"field": "employee_count", "operator": "range", "number_min": 50, "number_max": 99},
    "業種:it・ソフトウェア": {
        "field": "industry",
        "operator": "contains_any",
        "values": ["IT", "ソフトウェア", "Software", "SaaS", "情報通信"],
    },
    "業種:製造業": {"field": "industry", "operator": "contains_any", "values": ["製造", "Manufacturing", "メーカー"]},
}
SEGMENT_KEYS = {"ホット": "hot", "hot": "hot", "ウォーム": "warm", "warm": "warm", "コールド": "cold", "cold": "cold"}
DEFAULT_COLOURS = {"hot": "red", "warm": "amber", "cold": "blue-grey"}

BEHAVIOUR_DEFAULTS = {
    "url_match": "",
    "url_value": "",
    "content_id": "",
    "campaign": "",
    "count_mode": "once",
    "max_count": None,
    "min_count": None,
    "window_days": None,
    "recency_days": None,
    "half_life_days": None,
}
FIT_DEFAULTS = {"values": [], "number_min": None, "number_max": None, "group": ""}
CONDITION_WITH_BRACKET = re.compile(r"^(?P<text>.*?)\s*\[(?P<dsl>[^\[\]]*)\]\s*$", re.S)


@dataclass
class SheetModel:
    """A parsed sheet: plain dicts ready for `services` to store as a draft."""

    behaviour: list[dict] = field(default_factory=list)
    fit: list[dict] = field(default_factory=list)
    segments: list[dict] = field(default_factory=list)
    behaviour_cap: int | None = None
    fit_cap: int | None = None


@dataclass
class RowError:
    row: int
    message: str


class SheetError(Exception):
    def __init__(self, errors: list[RowError]):
        self.errors = errors
        super().__init__("; ".join(f"{e.row}: {e.message}" for e in errors))


def _key(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").strip().lower().replace("：", ":")


def _int(text: str) -> int:
    cleaned = unicodedata.normalize("NFKC", text or "").strip().replace("−", "-").replace("点", "")
    if cleaned.startswith("+"):
        cleaned = cleaned[1:]
    if not re.fullmatch(r"-?[0-9]+", cleaned):
        raise ValueError(cleaned)
    return int(cleaned)


def _parse_dsl(text: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for part in text.split(";"):
        part = part.strip()
        if not part:
            continue
        if "=" in part:
            key, value = part.split("=", 1)
            pairs[key.strip().lower()] = value.strip()
        else:
            pairs[part.lower()] = ""
    return pairs


def _split_condition(cell: str) -> tuple[str, dict[str, str] | None]:
    match = CONDITION_WITH_BRACKET.match(cell or "")
    if not match:
        return (cell or "").strip(), None
    return match["text"].strip(), _parse_dsl(match["dsl"])


def _group_from_label(label: str) -> str:
    normalized = (label or "").replace("：", ":")
    return normalized.split(":", 1)[0].strip() if ":" in normalized else ""


BEHAVIOUR_DSL_INT = {
    "max": "max_count",
    "min": "min_count",
    "within": "window_days",
    "recency": "recency_days",
    "half_life": "half_life_days",
}


def _behaviour_from_dsl(dsl: dict[str, str]) -> dict:
    spec: dict = {}
    unknown = set(dsl) - {"type", "url_contains", "url_equals", "content_id", "campaign", "count", *BEHAVIOUR_DSL_INT}
    if unknown:
        raise ValueError(_("unknown key %(key)s in the condition") % {"key": ", ".join(sorted(unknown))})
    if "type" in dsl:
        spec["activity_type"] = dsl["type"]
    if "url_contains" in dsl:
        spec["url_match"], spec["url_value"] = "contains", dsl["url_contains"]
    if "url_equals" in dsl:
        spec["url_match"], spec["url_value"] = "equals", dsl["url_equals"]
    if "content_id" in dsl:
        spec["content_id"] = dsl["content_id"]
    if "campaign" in dsl:
        spec["campaign"] = dsl["campaign"]
    if "count" in dsl:
        spec["count_mode"] = dsl["count"]
    for key, name in BEHAVIOUR_DSL_INT.items():
        if key in dsl:
            spec[name] = _int(dsl[key])
    return spec


def _fit_from_dsl(dsl: dict[str, str]) -> dict:
    unknown = set(dsl) - {"field", "op", "values", "min", "max", "group"}
    if unknown:
        raise ValueError(_("unknown key %(key)s in the condition") % {"key": ", ".join(sorted(unknown))})
    spec: dict = {}
    if "field" in dsl:
        spec["field"] = dsl["field"]
    if "op" in dsl:
        spec["operator"] = dsl["op"]
    if "values" in dsl:
        spec["values"] = [v.strip() for v in dsl["values"].split("|") if v.strip()]
    if "min" in dsl:
        spec["number_min"] = _int(dsl["min"])
    if "max" in dsl:
        spec["number_max"] = _int(dsl["max"])
    if "group" in dsl:
        spec["group"] = dsl["group"]
    return spec


def _segment_min(description: str) -> tuple[bool, int | None]:
    """(understood, min_total) from 「…80点以上」, 「…50-79点」, 「…49点以下」."""
    text = unicodedata.normalize("NFKC", description or "")
    match = re.search(r"(-?\d+)\s*点?\s*以上", text)
    if match:
        return True, int(match[1])
    match = re.search(r"(-?\d+)\s*[-~〜–]\s*(-?\d+)\s*点", text)
    if match:
        return True, int(match[1])
    if re.search(r"(-?\d+)\s*点?\s*(以下|未満)", text):
        return True, None
    return False, None


def _segment_key(label: str) -> str:
    normalized = _key(label)
    for prefix, key in SEGMENT_KEYS.items():
        if normalized.startswith(prefix):
            return key
    return ""


def decode(data: bytes) -> str:
    """UTF-8 (with or without BOM) or Shift_JIS/CP932 (Japanese Excel)."""
    for encoding in ("utf-8-sig", "cp932"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise SheetError([RowError(0, _("The file is not UTF-8 or Shift_JIS text."))])


def parse(text: str) -> SheetModel:
    """Parse a sheet; raises SheetError listing every bad row (nothing partial is returned)."""
    from .validation import validate_behaviour, validate_fit, validate_segments

    errors: list[RowError] = []
    result = SheetModel()
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    if not rows or [_key(c) for c in rows[0][:5]] != [_key(c) for c in HEADER]:
        raise SheetError(
            [RowError(1, _("The first row must be the header: %(header)s") % {"header": ",".join(HEADER)})]
        )
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < 4:
            errors.append(RowError(number, _("Expected 5 columns: %(header)s") % {"header": ",".join(HEADER)}))
            continue
        kind, label, condition, points, note = ([unescape_formula(c.strip()) for c in row] + [""] * 5)[:5]
        description, dsl = _split_condition(condition)
        try:
            if kind == KIND_SEGMENT:
                key = (dsl or {}).get("key") or _segment_key(label)
                understood, min_total = _segment_min(description)
                if not key:
                    raise ValueError(_("cannot tell which segment this is; add [key=hot] (or warm, cold, …)"))
                if not understood:
                    raise ValueError(_("write the range as 「80点以上」, 「50-79点」 or 「49点以下」"))
                colour = (dsl or {}).get("colour") or DEFAULT_COLOURS.get(key, "blue-grey")
                result.segments.append(
                    {
                        "key": key,
                        "label": label,
                        "description": description,
                        "min_total": min_total,
                        "colour": colour,
                        "priority": points,
                        "follow_up": note,
                    }
                )
                continue
            if kind not in (KIND_BEHAVIOUR, KIND_FIT):
                raise ValueError(_("the score kind must be 行動スコア, 属性スコア or セグメント定義"))
            try:
                value = _int(points)
            except ValueError:
                raise ValueError(
                    _("the points must be a whole number (negative allowed), not “%(value)s”") % {"value": points}
                )
            if _key(label) in CAP_LABELS or (dsl is not None and "cap" in dsl):
                if kind == KIND_BEHAVIOUR:
                    result.behaviour_cap = value
                else:
                    result.fit_cap = value
                continue
            if kind == KIND_BEHAVIOUR:
                spec = dict(BEHAVIOUR_DEFAULTS)
                known = KNOWN_BEHAVIOUR.get(_key(label))
                if dsl is None and known is None:
                    raise ValueError(
                        _(
                            "unknown item; describe the condition in brackets, e.g. [type=page_view; "
                            "url_contains=/pricing]"
                        )
                    )
                spec.update(known or {})
                spec.update(_behaviour_from_dsl(dsl or {}))
                spec.update(label=label, description=description, note=note, points=value)
                validate_behaviour(spec)
                result.behaviour.append(spec)
            else:
                spec = dict(FIT_DEFAULTS, group=_group_from_label(label))
                known = KNOWN_FIT.get(_key(label))
                if dsl is None and known is None:
                    raise ValueError(
                        _(
                            "unknown item; describe the condition in brackets, e.g. [field=title; "
                            "op=contains_any; values=CEO|取締役]"
                        )
                    )
                spec.update(known or {})
                spec.update(_fit_from_dsl(dsl or {}))
                spec.update(label=label, description=description, note=note, points=value)
                validate_fit(spec)
                result.fit.append(spec)
        except ValueError as error:
            errors.append(RowError(number, str(error)))
        except Exception as error:  # django ValidationError from validate_*
            messages = getattr(error, "messages", None) or [str(error)]
            errors.append(RowError(number, " ".join(messages)))
    if not errors:
        try:
            validate_segments(result.segments)
        except Exception as error:
            errors.append(RowError(0, " ".join(getattr(error, "messages", [str(error)]))))
    if errors:
        raise SheetError(errors)
    return result


# --- export ------------------------------------------------------------------------------------


def _behaviour_dsl(rule: dict) -> str:
    parts = [f"type={rule['activity_type']}"]
    if rule.get("url_match") == "contains":
        parts.append(f"url_contains={rule['url_value']}")
    elif rule.get("url_match") == "equals":
        parts.append(f"url_equals={rule['url_value']}")
    if rule.get("content_id"):
        parts.append(f"content_id={rule['content_id']}")
    if rule.get("campaign"):
        parts.append(f"campaign={rule['campaign']}")
    if rule.get("count_mode", "once") != "once":
        parts.append(f"count={rule['count_mode']}")
    for key, name in BEHAVIOUR_DSL_INT.items():
        if rule.get(name) is not None:
            parts.append(f"{key}={rule[name]}")
    return "; ".join(parts)


def _fit_dsl(rule: dict) -> str:
    parts = [f"field={rule['field']}", f"op={rule['operator']}"]
    if rule.get("values"):
        parts.append("values=" + "|".join(rule["values"]))
    if rule.get("number_min") is not None:
        parts.append(f"min={rule['number_min']}")
    if rule.get("number_max") is not None:
        parts.append(f"max={rule['number_max']}")
    if rule.get("group", "") != _group_from_label(rule["label"]):
        parts.append(f"group={rule['group']}")
    return "; ".join(parts)


def _same_behaviour(rule: dict, known: dict | None) -> bool:
    if known is None:
        return False
    expected = {**BEHAVIOUR_DEFAULTS, **known}
    return all(rule.get(k) == v for k, v in expected.items()) and rule["activity_type"] == known["activity_type"]


def _same_fit(rule: dict, known: dict | None) -> bool:
    if known is None:
        return False
    expected = {**FIT_DEFAULTS, "group": _group_from_label(rule["label"]), **known}
    return all((list(rule.get(k) or []) if k == "values" else rule.get(k)) == v for k, v in expected.items())


def _segment_description(segment: dict, next_min: int | None, lowest: bool) -> str:
    if segment.get("description"):
        return segment["description"]
    if lowest or segment.get("min_total") is None:
        return f"行動スコア+属性スコア合計{(next_min or 0) - 1}点以下"
    if next_min is None:
        return f"行動スコア+属性スコア合計{segment['min_total']}点以上"
    return f"行動スコア+属性スコア合計{segment['min_total']}-{next_min - 1}点"


def describe_segments(segments: list[dict]) -> None:
    """Fill each segment's 条件 text from the thresholds (「80点以上」, 「50-79点」, 「49点以下」)."""
    ordered = sorted(segments, key=lambda s: (s.get("min_total") is None, -(s.get("min_total") or 0)))
    for index, segment in enumerate(ordered):
        higher_min = ordered[index - 1]["min_total"] if index > 0 else None
        segment["description"] = _segment_description(
            {**segment, "description": ""}, higher_min, index == len(ordered) - 1
        )


def export(model: SheetModel) -> str:
    """The sheet text (UTF-8, `\\n` line ends; the download adds a BOM for Excel)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for rule in model.behaviour:
        condition = rule.get("description", "")
        if not _same_behaviour(rule, KNOWN_BEHAVIOUR.get(_key(rule["label"]))):
            condition = f"{condition} [{_behaviour_dsl(rule)}]".strip()
        writer.writerow(
            [
                KIND_BEHAVIOUR,
                escape_formula(rule["label"]),
                escape_formula(condition),
                rule["points"],
                escape_formula(rule.get("note", "")),
            ]
        )
    if model.behaviour_cap is not None:
        writer.writerow([KIND_BEHAVIOUR, "上限", "行動スコアの上限 [cap]", model.behaviour_cap, ""])
    for rule in model.fit:
        condition = rule.get("description", "")
        if not _same_fit(rule, KNOWN_FIT.get(_key(rule["label"]))):
            condition = f"{condition} [{_fit_dsl(rule)}]".strip()
        writer.writerow(
            [
                KIND_FIT,
                escape_formula(rule["label"]),
                escape_formula(condition),
                rule["points"],
                escape_formula(rule.get("note", "")),
            ]
        )
    if model.fit_cap is not None:
        writer.writerow([KIND_FIT, "上限", "属性スコアの上限 [cap]", model.fit_cap, ""])
    segments = sorted(model.segments, key=lambda s: (s.get("min_total") is None, -(s.get("min_total") or 0)))
    for index, segment in enumerate(segments):
        higher_min = segments[index - 1]["min_total"] if index > 0 else None
        lowest = index == len(segments) - 1
        description = _segment_description(segment, higher_min, lowest)
        condition = description
        understood, parsed_min = _segment_min(description)
        expected_min = None if lowest else segment.get("min_total")
        extra = []
        if _segment_key(segment["label"]) != segment["key"]:
            extra.append(f"key={segment['key']}")
        if segment.get("colour") and segment["colour"] != DEFAULT_COLOURS.get(segment["key"], "blue-grey"):
            extra.append(f"colour={segment['colour']}")
        if not understood or parsed_min != expected_min:
            description = _segment_description({**segment, "description": ""}, higher_min, lowest)
            condition = description
        if extra:
            condition = f"{condition} [{'; '.join(extra)}]"
        writer.writerow(
            [
                KIND_SEGMENT,
                escape_formula(segment["label"]),
                escape_formula(condition),
                escape_formula(segment.get("priority", "")),
                escape_formula(segment.get("follow_up", "")),
            ]
        )
    return out.getvalue()
