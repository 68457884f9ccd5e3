"""Normalisation of lead identity fields: emails, Japanese company names, person names.

Pure functions (no database), property-tested with hypothesis in tests/leads/test_normalize.py.

- Email: NFKC (full-width ＠ and letters fold to ASCII), trimmed, lower-cased.
- Company: NFKC (full/half-width folded: ＡＢＣ→abc, ｶﾌﾞｼｷ→カブシキ, ㈱→(株)), case-folded, legal
  forms removed (株式会社, (株), 有限会社, 合同会社, ..., Inc., Co., Ltd., Corporation, ...), spaces and
  punctuation removed. Used only for matching (duplicate candidates), never shown.
- Person name: NFKC, case-folded, spaces and punctuation removed (山田 太郎 == 山田太郎).
"""

from __future__ import annotations

import re
import unicodedata

# Japanese legal-entity forms, removed wherever they appear (prefix 株式会社〇〇 or suffix 〇〇株式会社).
JAPANESE_LEGAL_FORMS = (
    "特定非営利活動法人",
    "地方独立行政法人",
    "独立行政法人",
    "国立大学法人",
    "一般社団法人",
    "一般財団法人",
    "公益社団法人",
    "公益財団法人",
    "社会福祉法人",
    "社会医療法人",
    "医療法人社団",
    "医療法人財団",
    "医療法人",
    "学校法人",
    "宗教法人",
    "有限責任事業組合",
    "株式会社",
    "有限会社",
    "合同会社",
    "合資会社",
    "合名会社",
    "相互会社",
    "npo法人",
)
# The abbreviations as written in parentheses (after NFKC ㈱ is "(株)", （株） is "(株)").
JAPANESE_LEGAL_ABBREVIATIONS = ("株", "有", "同", "資", "名", "社", "財", "医", "学", "福", "特非", "独")
_ABBREVIATION = re.compile(r"\(\s*(?:" + "|".join(JAPANESE_LEGAL_ABBREVIATIONS) + r")\s*\)")

# English/romanised legal suffixes, only at the end and only after a separator ("Taco" keeps its "co").
_LATIN_SUFFIX = re.compile(
    r"[\s,.]+(?:co\.?\s*,?\s*ltd|company\s*,?\s*limited|company|incorporated|inc|corporation|corp|co|ltd|limited"
    r"|l\.?l\.?c|llp|k\.?\s?k|g\.?\s?k|y\.?\s?k|plc|gmbh|ag|s\.?a|pte|pty|holdings?\s+co)\.?\s*$"
)
# Separators and punctuation dropped for matching (the long-vowel mark ー is a letter and stays).
_DROP = re.compile(
    r"[\s\u3000・･.,，、。'\"`’‘“”!！?？&＆/／\\＼|()（）\[\]「」『』【】<>《》〈〉{}~〜～:：;；*＊#＃"
    r"\-‐‑‒–—―−_＿+＋=＝@＠]"
)

_MAX_ROUNDS = 6


def nfkc(value: str) -> str:
    return unicodedata.normalize("NFKC", value or "")


def normalize_email(value: str | None) -> str:
    """NFKC, trimmed, lower-cased (the stored form; uniqueness per tenant is on this)."""
    return nfkc(value or "").strip().lower()


def _fold(value: str) -> str:
    """NFKC + case-fold until stable (case-folding can produce new NFKC candidates)."""
    for _round in range(_MAX_ROUNDS):
        folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).casefold())
        if folded == value:
            break
        value = folded
    return value


def _strip_company(value: str) -> str:
    value = _ABBREVIATION.sub(" ", value)
    for form in JAPANESE_LEGAL_FORMS:
        value = value.replace(form, " ")
    while True:
        stripped = _LATIN_SUFFIX.sub("", value)
        if stripped == value:
            return value
        value = stripped


def normalize_company(value: str | None) -> str:
    """Company name for matching: width-folded, case-folded, legal forms, spaces and punctuation removed.

    Idempotent: normalize_company(normalize_company(x)) == normalize_company(x).
    """
    value = _fold(value or "")
    for _round in range(_MAX_ROUNDS):
        result = _fold(_DROP.sub("", _strip_company(value)))
        if result == value:
            break
        value = result
    return value[:200]


def normalize_name(value: str | None) -> str:
    """Person name for matching: width-folded, case-folded, spaces and punctuation removed."""
    value = _fold(value or "")
    for _round in range(_MAX_ROUNDS):
        result = _fold(_DROP.sub("", value))
        if result == value:
            break
        value = result
    return value[:200]


def normalize_text(value) -> str:
    """A free-text attribute as stored: NFKC-compatible width kept as typed, but trimmed and single-line."""
    if value is None:
        return ""
    return " ".join(str(value).split())


def normalize_key(value: str | None) -> str:
    """An event or trait name for mapping lookups: 'Form Submitted' == 'form_submitted' == 'form-submitted'."""
    value = _fold(value or "").strip()
    return re.sub(r"[\s\-_.]+", "_", value).strip("_")
