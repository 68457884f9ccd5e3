"""Number formatting for KPI screens: yen (also in 万/億), percentages, point changes, counts.

{% load kpis_format %}
{{ value|yen }}          ¥12,500,000
{{ value|man }}          1,250万円 / 50億円 / 1億2,500万円 (English: ¥12.5M)
{{ value|pct }}          18.5%
{{ change|pt }}          +3.0pt / −2.0pt (U+2212 minus)
{% kpi_value line.actual line.unit %}    by unit (count, yen, percent, days)
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template
from django.utils.translation import get_language
from django.utils.translation import gettext as _

register = template.Library()
MINUS = "\u2212"
DASH = "–"


def _dec(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _ja() -> bool:
    return (get_language() or "ja").startswith("ja")


def _sign(text: str, negative: bool) -> str:
    return f"{MINUS}{text}" if negative else text


@register.filter
def yen(value) -> str:
    number = _dec(value)
    if number is None:
        return DASH
    rounded = number.quantize(Decimal(1), ROUND_HALF_UP)
    return _sign(f"¥{abs(rounded):,.0f}", rounded < 0)


@register.filter
def man(value) -> str:
    """Yen the way Japanese business readers read it: 1,250万円, 50億円, 1億2,500万円."""
    number = _dec(value)
    if number is None:
        return DASH
    negative, number = number < 0, abs(number)
    if not _ja():
        for size, suffix in ((Decimal(10) ** 9, "B"), (Decimal(10) ** 6, "M"), (Decimal(10) ** 3, "K")):
            if number >= size:
                scaled = (number / size).quantize(Decimal("0.1"), ROUND_HALF_UP)
                text = f"{scaled:,.1f}".removesuffix(".0")
                return _sign(f"¥{text}{suffix}", negative)
        return _sign(f"¥{number.quantize(Decimal(1), ROUND_HALF_UP):,.0f}", negative)
    oku, man_unit = Decimal(10) ** 8, Decimal(10) ** 4
    if number >= oku:
        whole_man = (number / man_unit).quantize(Decimal(1), ROUND_HALF_UP)
        oku_part, man_part = divmod(whole_man, Decimal(10000))
        text = f"{oku_part:,.0f}億" + (f"{man_part:,.0f}万" if man_part else "") + "円"
    elif number >= man_unit * 100:
        text = f"{(number / man_unit).quantize(Decimal(1), ROUND_HALF_UP):,.0f}万円"
    elif number >= man_unit:
        scaled = (number / man_unit).quantize(Decimal("0.1"), ROUND_HALF_UP)
        text = f"{scaled:,.1f}".removesuffix(".0") + "万円"
    else:
        text = f"{number.quantize(Decimal(1), ROUND_HALF_UP):,.0f}円"
    return _sign(text, negative)


@register.filter
def pct(value, places: int = 1) -> str:
    number = _dec(value)
    if number is None:
        return DASH
    text = f"{abs(number):,.{int(places)}f}%"
    return _sign(text, number < 0 and abs(number) >= Decimal("0.05"))


@register.filter
def count(value) -> str:
    """A count; fractional targets (weekly shares) keep one decimal."""
    number = _dec(value)
    if number is None:
        return DASH
    if number == number.to_integral_value() or abs(number) >= 10:
        return _sign(f"{abs(number.quantize(Decimal(1), ROUND_HALF_UP)):,.0f}", number < 0)
    return _sign(f"{abs(number):,.1f}", number < 0)


@register.filter
def pt(value) -> str:
    """A change in points: +3.0pt, −2.0pt, ±0.0pt."""
    number = _dec(value)
    if number is None:
        return DASH
    rounded = number.quantize(Decimal("0.1"), ROUND_HALF_UP)
    if rounded == 0:
        return "±0.0pt"
    return ("+" if rounded > 0 else MINUS) + f"{abs(rounded):.1f}pt"


@register.filter
def signed_pct(value) -> str:
    """A relative change: +12.5%, −3.0%."""
    number = _dec(value)
    if number is None:
        return DASH
    rounded = number.quantize(Decimal("0.1"), ROUND_HALF_UP)
    if rounded == 0:
        return "±0.0%"
    return ("+" if rounded > 0 else MINUS) + f"{abs(rounded):,.1f}%"


@register.filter
def change(line) -> str:
    """The change of a KpiLine: points for rates, percent otherwise."""
    if line is None or line.change is None:
        return DASH
    return pt(line.change) if line.change_unit == "pt" else signed_pct(line.change)


@register.simple_tag
def kpi_value(value, unit, compact=False) -> str:
    if unit == "yen":
        return man(value) if compact else yen(value)
    if unit == "percent":
        return pct(value)
    if unit == "days":
        number = _dec(value)
        return DASH if number is None else _("%(days)s days") % {"days": f"{number:,.1f}"}
    return count(value)


@register.filter
def attainment_class(value) -> str:
    number = _dec(value)
    if number is None:
        return ""
    if number >= 100:
        return "att-good"
    if number >= 80:
        return "att-warn"
    return "att-bad"


@register.filter
def delta_class(good) -> str:
    if good is None or good == "":
        return "delta-flat"
    return "delta-good" if good else "delta-bad"


@register.filter
def plain_number(value, places: int = 0) -> str:
    """A number for an <input> (no separators)."""
    number = _dec(value)
    if number is None:
        return ""
    if int(places) == 0:
        return f"{number.quantize(Decimal(1), ROUND_HALF_UP):f}"
    text = f"{number.quantize(Decimal(1).scaleb(-int(places)), ROUND_HALF_UP):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


@register.filter
def get(mapping, key):
    try:
        return mapping.get(key)
    except AttributeError:
        return None


@register.filter
def width(value) -> str:
    """A percentage for data-width (0–100, dot decimal)."""
    number = _dec(value)
    if number is None:
        return "0"
    return f"{max(Decimal(0), min(Decimal(100), number)):.1f}"


@register.simple_tag
def delta(line) -> str:
    """<span class="kdelta is-up is-good">+3.0pt</span> for a KpiLine (arrow = direction, colour = good/bad)."""
    from django.utils.html import format_html

    if line is None or line.change is None:
        return format_html('<span class="kdelta is-flat">{}</span>', DASH)
    shown = Decimal(line.change).quantize(Decimal("0.1"), ROUND_HALF_UP)
    direction = "is-up" if shown > 0 else "is-down" if shown < 0 else "is-flat"
    tone = "" if line.good is None or shown == 0 else ("is-good" if line.good else "is-bad")
    return format_html('<span class="kdelta {} {}">{}</span>', direction, tone, change(line))


@register.simple_tag
def count_unit() -> str:
    """件 in Japanese, nothing in English."""
    return "件" if _ja() else ""


@register.simple_tag
def change_label(period) -> str:
    labels = {
        "week": _("vs last week"),
        "month": _("vs last month"),
        "quarter": _("vs last quarter"),
        "year": _("vs last year"),
    }
    return labels.get(getattr(period, "kind", ""), _("vs the period before"))
