"""Small display helpers for the diagnostics templates."""

from django import template

from ..models import AnswerValue, Side

register = template.Library()

# Same bands as KPI attainment in UI.md: ≥ 80 green, 50–79 amber, < 50 red.
GOOD, FAIR = 80.0, 50.0


@register.filter
def score_class(score) -> str:
    if score is None or score == "":
        return "att-none"
    score = float(score)
    return "att-good" if score >= GOOD else "att-warn" if score >= FAIR else "att-bad"


@register.filter
def score_text(score) -> str:
    return "–" if score is None or score == "" else f"{float(score):.1f}"


@register.filter
def pt(delta) -> str:
    """A change in points: "+3.0pt", "−2.0pt" (true minus sign), "±0.0pt"."""
    if delta is None or delta == "":
        return "–"
    delta = float(delta)
    if delta > 0:
        return f"+{delta:.1f}pt"
    if delta < 0:
        return f"\u2212{abs(delta):.1f}pt"
    return "±0.0pt"


@register.filter
def delta_class(delta) -> str:
    if delta is None or delta == "" or float(delta) == 0:
        return "delta-flat"
    return "delta-good" if float(delta) > 0 else "delta-bad"


@register.filter
def answer_label(value) -> str:
    return str(AnswerValue(value).label) if value in AnswerValue.values else ""


@register.filter
def side_label(value) -> str:
    return str(Side(value).label) if value in Side.values else ""


@register.filter
def get_item(mapping, key):
    return (mapping or {}).get(key)
