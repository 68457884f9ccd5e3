"""Number formatting for the MQL pages (Japanese business conventions, see UI.md)."""

from __future__ import annotations

from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def pct(value, digits: int = 1) -> str:
    """0.1234 → "12.3%" ("–" when unknown)."""
    if value is None or value == "":
        return "–"
    return f"{float(value) * 100:.{int(digits)}f}%"


@register.filter
def pts(value) -> str:
    """A difference of two rates in points: 0.03 → "+3.0pt"."""
    if value is None:
        return "–"
    number = float(value) * 100
    sign = "+" if number > 0 else ("−" if number < 0 else "±")
    return f"{sign}{abs(number):.1f}pt"


@register.filter
def yen(value) -> str:
    if value in (None, ""):
        return "–"
    return f"¥{int(Decimal(value)):,}"


@register.filter
def signed(value) -> str:
    if value is None:
        return "–"
    number = int(value)
    return f"+{number}" if number > 0 else (f"−{abs(number)}" if number < 0 else "0")


def _float_or_none(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


@register.filter
def auc(value) -> str:
    number = _float_or_none(value)
    return "–" if number is None else f"{number:.3f}"


@register.filter
def ratio(value) -> str:
    number = _float_or_none(value)
    return "–" if number is None else f"×{number:.2f}"


@register.filter
def percent_of(value, total) -> float:
    """value / total as 0–100 (for data-width bars)."""
    try:
        return round(100.0 * float(value) / float(total), 1) if total else 0.0
    except (TypeError, ValueError):
        return 0.0


@register.filter
def get_item(mapping, key):
    try:
        return mapping.get(key)
    except AttributeError:
        return None


@register.filter
def minus(value, other):
    try:
        return value - other
    except TypeError:
        return None
