"""The one formula escaping every CSV export uses (tenants/csvutil.py): a cell a spreadsheet would
run as a formula gets a leading apostrophe; everything else is written as it is."""

import codecs
import csv
import io
import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tenants.csvutil import csv_lines, escape_formula, unescape_formula

FORMULAS = [
    "=SUM(A1)",
    "+cmd",
    "-1+2",
    "@SUM(A1)",
    "\t=1",
    "\r=1",
    "\tanything",
    "\ranything",
    # Full-width forms (Japanese input methods type these) and other compatibility forms.
    "＝SUM(A1)",
    "＋cmd",
    "－1",
    "＠SUM(A1)",
    "﹦1",
    # Invisible characters in front hide the formula from a naive check.
    "\u200b=cmd|' /C calc'!A0",
    "\ufeff=1",
    "\u2060+1",
    "\u202e=1",
    "\u00a0=1",
    "\u3000＝1",
    " =1",
    "\n=1",
    # DDE and separators spreadsheets treat as the start of a formula.
    "|calc",
    "｜calc",
    ";=1",
    ";+1",
    "；＝1",
]
PLAIN = ["", "株式会社サンプル", "a=b", "taro@example.jp", "1-2", "'=already", ";", ";a", "\u200bこんにちは", "100"]


@pytest.mark.parametrize("text", FORMULAS, ids=repr)
def test_formula_starts_are_escaped(text):
    assert escape_formula(text) == "'" + text


@pytest.mark.parametrize("text", PLAIN, ids=repr)
def test_plain_text_is_kept(text):
    assert escape_formula(text) == text


@pytest.mark.parametrize("value", [-5, 3.5, 0, None])
def test_numbers_stay_numbers_and_none_is_empty(value):
    assert escape_formula(value) == ("" if value is None else str(value))


_FORMULA_START = set("=+-@|")


def _runs_as_formula(text: str) -> bool:
    """What a spreadsheet sees: invisible and space characters skipped, compatibility forms folded."""
    visible = [c for c in text if unicodedata.category(c) not in ("Cf", "Cc", "Zs", "Zl", "Zp")]
    if text[:1] in ("\t", "\r"):
        return True
    if not visible:
        return False
    first = unicodedata.normalize("NFKC", visible[0])[:1]
    second = unicodedata.normalize("NFKC", visible[1])[:1] if len(visible) > 1 else ""
    return first in _FORMULA_START or (first == ";" and second in _FORMULA_START)


@given(st.text(st.characters(exclude_categories=("Cs",)), max_size=8))
@example("\u200b\u200b＝1")
@example("\u200c；－")
def test_nothing_escaped_runs_as_a_formula_and_the_escape_reverses(text):
    escaped = escape_formula(text)
    assert escaped in (text, "'" + text)
    if escaped == text:
        assert not _runs_as_formula(text), repr(text)
    if not text.startswith("'"):  # "'=x" as typed reads back as "=x": an apostrophe in front is the escape
        assert unescape_formula(escaped) == text


def test_csv_lines_are_utf8_with_a_bom_and_escaped():
    data = b"".join(csv_lines([["名前", "値"], ["=1+1", 5], ["＝HYPERLINK()", -3]]))
    assert data.startswith(codecs.BOM_UTF8)
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows == [["名前", "値"], ["'=1+1", "5"], ["'＝HYPERLINK()", "-3"]]
