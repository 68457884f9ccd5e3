"""CSV export of an assessment: answers, evidence and recommendations, in the reader's language.

UTF-8 with BOM so Excel opens Japanese correctly; cells that a spreadsheet would run
as a formula are prefixed with an apostrophe (tenants.csvutil.escape_formula).
"""

from __future__ import annotations

import csv
import io

from django.utils.translation import gettext as _

from tenants.csvutil import escape_formula

from .models import AnswerValue, Assessment, Side
from .scorecard import Scorecard


def _score(value) -> str:
    return "" if value is None else f"{value:.1f}"


def _values(values: list[str]) -> str:
    return " / ".join(str(AnswerValue(v).label) for v in values)


def assessment_csv(*, assessment: Assessment, scorecard: Scorecard, base_url: str = "") -> str:
    """The whole result as one table: a summary block, then one row per item."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def row(*cells):
        writer.writerow([escape_formula(c) for c in cells])

    row(_("Checklist"), assessment.template.name)
    row(_("Title"), assessment.display_title)
    row(_("Date"), assessment.created_at.strftime("%Y/%m/%d"))
    row(_("Overall score"), _score(scorecard.overall.score))
    for group in scorecard.categories:
        row(_("Category score"), group.label, _score(group.score))
    for group in scorecard.causes:
        row(_("Cause score"), group.label, _score(group.score))
    weakest = scorecard.weakest_cause
    row(_("Weakest cause"), weakest.label if weakest else "")
    row()
    row(
        _("No."),
        _("Category"),
        _("Item"),
        _("Cause"),
        _("Marketing"),
        _("Sales"),
        _("All answers"),
        _("Notes"),
        _("Result"),
        _("Score"),
        _("Disagreement"),
        _("Evidence"),
        _("Suggested by data"),
        _("Contradiction"),
        _("Roadmap step"),
        _("Recommendation"),
        _("Where to fix it"),
        _("Link"),
    )
    for result in scorecard.items:
        item = result.item
        needs_action = result.needs_action
        row(
            result.number,
            item.category.name,
            item.text,
            item.get_cause_display(),
            _values(result.side_values.get(Side.MARKETING, [])),
            _values(result.side_values.get(Side.SALES, [])),
            "; ".join(
                f"{a.respondent_name} ({Side(a.side).label}): {AnswerValue(a.value).label}" for a in result.answers
            ),
            "; ".join(f"{a.respondent_name}: {a.note}" for a in result.notes),
            result.status_label,
            "" if result.points is None else f"{100 * result.points:.0f}",
            _("Yes") if result.disagreement else "",
            result.evidence.headline if result.evidence else "",
            result.evidence.suggested_label if result.evidence else "",
            result.contradiction.text if result.contradiction else "",
            item.get_roadmap_phase_display() if needs_action else "",
            item.recommendation if needs_action else "",
            item.get_action_display() if needs_action and item.action else "",
            base_url.rstrip("/") + result.action_url if needs_action and result.action_url else "",
        )
    return "\ufeff" + buffer.getvalue()


def assessment_csv_filename(assessment: Assessment) -> str:
    return f"ondo-diagnosis-{assessment.template.key}-{assessment.created_at:%Y%m%d}-{assessment.pk}.csv"
