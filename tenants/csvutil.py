"""CSV for spreadsheets, one implementation for every export of every app.

`escape_formula(value)` puts an apostrophe in front of a cell a spreadsheet would run as a formula
(CSV injection): one that starts — after any invisible characters (zero-width space, BOM, bidi marks,
spaces, control characters), with compatibility forms folded (full-width ＝＋－＠, small ﹦) — with
= + - @ or | (DDE), or with ; followed by one of them; and one that starts with a tab or carriage
return. Numbers are ours, not text someone typed: they are written as they are (-5 stays a number).

`csv_lines(rows)` yields the encoded lines of a CSV (UTF-8 with BOM, so Excel opens Japanese text
correctly) with every cell escaped, for streamed responses.
"""

from __future__ import annotations

import codecs
import csv
import unicodedata
from collections.abc import Iterable, Iterator
from decimal import Decimal

FORMULA_START = frozenset("=+-@|")
_INVISIBLE = frozenset({"Cf", "Cc", "Zs", "Zl", "Zp"})  # format, control and space characters


def _visible(text: str, start: int) -> tuple[int, str]:
    """The index of the first visible character at or after `start` and its folded form ('' at the end)."""
    index = start
    while index < len(text) and unicodedata.category(text[index]) in _INVISIBLE:
        index += 1
    if index == len(text):
        return index, ""
    return index, unicodedata.normalize("NFKC", text[index])[:1]


def is_formula(text: str) -> bool:
    """Whether a spreadsheet could run this cell as a formula."""
    if not text:
        return False
    first = text[0]
    if first.isalnum() or first == "'":  # the common case, decided at once
        return False
    if first in "\t\r":
        return True
    index, folded = _visible(text, 0)
    if folded in FORMULA_START:
        return True
    if folded == ";":
        return _visible(text, index + 1)[1] in FORMULA_START
    return False


def escape_formula(value) -> str:
    """The cell as text, with a leading apostrophe when a spreadsheet would run it as a formula."""
    if value is None:
        return ""
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return str(value)
    text = str(value)
    return "'" + text if is_formula(text) else text


def unescape_formula(cell: str) -> str:
    """The inverse for cells read back from an exported sheet: "'=x" → "=x" (only before a formula)."""
    if cell.startswith("'") and is_formula(cell[1:]):
        return cell[1:]
    return cell


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterable[Iterable], *, bom: bool = True) -> Iterator[bytes]:
    """Encoded CSV lines (the first with a UTF-8 BOM), every cell through escape_formula."""
    writer = csv.writer(_Echo(), lineterminator="\r\n")
    prefix = codecs.BOM_UTF8 if bom else b""
    for row in rows:
        yield prefix + writer.writerow([escape_formula(cell) for cell in row]).encode("utf-8")
        prefix = b""
