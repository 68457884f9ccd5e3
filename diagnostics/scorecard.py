"""Scoring of an assessment: per item, per category, per cause and overall; where
marketing and sales disagree; where the answers contradict the data; and the
recommendations for every item that is not fully met, in the seed's roadmap order.

Pure functions over at most a few dozen items and their answers (the database work is
in selectors); the same code scores team assessments and the auto-diagnosis.

Scoring: yes = 1, partly = 0.5, no = 0, "not applicable" is left out. An item's points
are the mean over the respondents who answered it; a category's (or cause's) score is
the mean of its answered items × 100; the overall score is the mean over all answered
items × 100 (so every item weighs the same).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.urls import reverse
from django.utils.translation import gettext as _

from .evidence import Evidence
from .models import ANSWER_POINTS, Cause, ChecklistCategory, ChecklistItem, RoadmapPhase, Side

MET, PARTLY, UNMET, NOT_APPLICABLE, UNANSWERED = "met", "partly", "unmet", "na", "unanswered"

# Two sides disagree when their answers differ by half a point or more (yes/partly, partly/no, yes/no),
# or when one side thinks the item does not apply and the other answered it.
DISAGREEMENT_GAP = 0.5
# The data contradicts the answer by half a point or more ("answered yes, but 64 % of leads have no industry").
CONTRADICTION_GAP = 0.5

# checklist `action` → the page inside Ondo where the fix is made (URL names).
ACTION_URL_NAMES: dict[str, str] = {
    "mql_editor": "mql:mql",
    "scoring_rules": "scoring:models",
    "alert_settings": "scoring:settings",
    "kpi_planner": "kpis:planner",
    "kpi_dashboard": "kpis:dashboard",
    "sales_inbox": "mql:inbox",
    "lead_import": "leads:import",
    "data_quality": "leads:quality",
    "feedback_report": "mql:feedback_report",
    "calibration": "mql:calibration",
    "members": "tenants:members",
}


def action_url(action: str, slug: str) -> str | None:
    """The tenant URL of an action's page (None for an item without an action)."""
    name = ACTION_URL_NAMES.get(action or "")
    return reverse(name, kwargs={"slug": slug}) if name else None


@dataclass(frozen=True)
class AnswerRow:
    """One respondent's answer as the scorecard needs it."""

    item_id: int
    respondent_id: int
    respondent_name: str
    side: str
    value: str
    note: str = ""


@dataclass
class Contradiction:
    answer_status: str
    answer_points: float
    evidence: Evidence
    gap: float

    @property
    def data_is_worse(self) -> bool:
        return self.evidence.points is not None and self.evidence.points < self.answer_points

    @property
    def text(self) -> str:
        answered = {MET: _("Yes"), PARTLY: _("Partly"), UNMET: _("No")}[self.answer_status]
        headline = _lower_first(self.evidence.headline)
        if self.data_is_worse:
            return _("Answered “%(answer)s”, but %(evidence)s") % {"answer": answered, "evidence": headline}
        return _("Answered “%(answer)s”, but the data looks better: %(evidence)s") % {
            "answer": answered,
            "evidence": headline,
        }


def _lower_first(text: str) -> str:
    # "64 % of leads…" stays as it is; "No KPI review…" reads "no KPI review…" after "but".
    return text[:1].lower() + text[1:] if text[:1].isalpha() and text[1:2].islower() else text


@dataclass
class ItemResult:
    item: ChecklistItem
    number: int
    answers: list[AnswerRow] = field(default_factory=list)
    points: float | None = None
    status: str = UNANSWERED
    side_points: dict[str, float | None] = field(default_factory=dict)
    side_values: dict[str, list[str]] = field(default_factory=dict)
    disagreement: bool = False
    evidence: Evidence | None = None
    contradiction: Contradiction | None = None
    action_url: str | None = None

    @property
    def is_answered(self) -> bool:
        return bool(self.answers)

    @property
    def needs_action(self) -> bool:
        return self.status in (PARTLY, UNMET)

    @property
    def notes(self) -> list[AnswerRow]:
        return [a for a in self.answers if a.note]

    @property
    def status_label(self) -> str:
        return status_label(self.status)


def status_label(status: str) -> str:
    return {
        MET: _("Met"),
        PARTLY: _("Partly met"),
        UNMET: _("Not met"),
        NOT_APPLICABLE: _("Not applicable"),
        UNANSWERED: _("Not answered"),
    }[status]


@dataclass
class GroupScore:
    """Score of a category or a cause (0–100, None when nothing in it was answered)."""

    key: str
    label: str
    total: int = 0
    scored: int = 0
    answered: int = 0
    points: float = 0.0
    met: int = 0
    unmet: int = 0

    @property
    def score(self) -> float | None:
        return round(100.0 * self.points / self.scored, 1) if self.scored else None

    @property
    def progress_pct(self) -> float:
        return round(100.0 * self.answered / self.total, 1) if self.total else 0.0


@dataclass
class Recommendation:
    item: ItemResult
    phase: int

    @property
    def phase_label(self) -> str:
        return str(RoadmapPhase(self.phase).label)


@dataclass
class Scorecard:
    items: list[ItemResult]
    categories: list[GroupScore]
    causes: list[GroupScore]
    overall: GroupScore
    respondents: list[dict]

    @property
    def answered(self) -> int:
        return sum(1 for r in self.items if r.is_answered)

    @property
    def total(self) -> int:
        return len(self.items)

    @property
    def progress_pct(self) -> float:
        return round(100.0 * self.answered / self.total, 1) if self.total else 0.0

    @property
    def weakest_cause(self) -> GroupScore | None:
        scored = [c for c in self.causes if c.score is not None]
        if not scored:
            return None
        order = {key: i for i, key in enumerate(Cause.values)}
        return min(scored, key=lambda c: (c.score, -c.unmet, order[c.key]))

    @property
    def disagreements(self) -> list[ItemResult]:
        return [r for r in self.items if r.disagreement]

    @property
    def contradictions(self) -> list[ItemResult]:
        return [r for r in self.items if r.contradiction]

    @property
    def with_evidence(self) -> list[ItemResult]:
        return [r for r in self.items if r.evidence is not None]

    @property
    def recommendations(self) -> list[Recommendation]:
        """Every item not fully met, ordered by roadmap step, then the weakest first, then checklist order."""
        open_items = [r for r in self.items if r.needs_action]
        open_items.sort(key=lambda r: (r.item.roadmap_phase, r.points if r.points is not None else 0, r.number))
        return [Recommendation(item=r, phase=r.item.roadmap_phase) for r in open_items]

    @property
    def recommendations_by_phase(self) -> list[tuple[str, list[Recommendation]]]:
        groups: dict[int, list[Recommendation]] = defaultdict(list)
        for rec in self.recommendations:
            groups[rec.phase].append(rec)
        return [(str(RoadmapPhase(phase).label), groups[phase]) for phase in sorted(groups)]

    def summary(self) -> dict:
        """The figures kept on the assessment for history and trend charts."""
        return {
            "overall": self.overall.score,
            "categories": {c.key: c.score for c in self.categories},
            "causes": {c.key: c.score for c in self.causes},
            "answered": self.answered,
            "total": self.total,
            "respondents": len(self.respondents),
            "weakest_cause": self.weakest_cause.key if self.weakest_cause else None,
        }


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _status(points: float | None, answered: bool) -> str:
    if not answered:
        return UNANSWERED
    if points is None:
        return NOT_APPLICABLE
    if points >= 1.0:
        return MET
    if points <= 0.0:
        return UNMET
    return PARTLY


def build_scorecard(
    *,
    categories: list[ChecklistCategory],
    items: list[ChecklistItem],
    answers: list[AnswerRow],
    evidence: dict[str, Evidence] | None = None,
    slug: str | None = None,
) -> Scorecard:
    """Score one assessment. `items` in display order; `evidence` keyed by evidence key."""
    evidence = evidence or {}
    by_item: dict[int, list[AnswerRow]] = defaultdict(list)
    respondents: dict[int, dict] = {}
    for row in answers:
        by_item[row.item_id].append(row)
        entry = respondents.setdefault(
            row.respondent_id, {"id": row.respondent_id, "name": row.respondent_name, "side": row.side, "answered": 0}
        )
        entry["answered"] += 1

    category_scores = {c.pk: GroupScore(key=c.key, label=c.name) for c in categories}
    cause_scores = {value: GroupScore(key=value, label=str(label)) for value, label in Cause.choices}
    overall = GroupScore(key="overall", label=_("Overall"))
    results = []
    for number, item in enumerate(items, start=1):
        rows = by_item.get(item.pk, [])
        points_list = [ANSWER_POINTS[r.value] for r in rows if r.value in ANSWER_POINTS]
        points = _mean(points_list)
        result = ItemResult(item=item, number=number, answers=rows, points=points, status=_status(points, bool(rows)))
        _compare_sides(result)
        if item.evidence_key:
            result.evidence = evidence.get(item.evidence_key)
            result.contradiction = find_contradiction(result)
        if slug is not None:
            result.action_url = action_url(item.action, slug)
        results.append(result)
        for group in (category_scores.get(item.category_id), cause_scores.get(item.cause), overall):
            if group is None:
                continue
            group.total += 1
            if rows:
                group.answered += 1
            if points is not None:
                group.scored += 1
                group.points += points
                group.met += result.status == MET
                group.unmet += result.status in (PARTLY, UNMET)
    return Scorecard(
        items=results,
        categories=[category_scores[c.pk] for c in categories if category_scores[c.pk].total],
        causes=[c for c in cause_scores.values() if c.total],
        overall=overall,
        respondents=sorted(respondents.values(), key=lambda r: (r["side"], r["name"])),
    )


def _compare_sides(result: ItemResult) -> None:
    """Marketing vs sales on one item: each side's mean, and whether they disagree."""
    per_side: dict[str, list[str]] = defaultdict(list)
    for row in result.answers:
        if row.side in (Side.MARKETING, Side.SALES):
            per_side[row.side].append(row.value)
    result.side_values = dict(per_side)
    for side, values in per_side.items():
        result.side_points[side] = _mean([ANSWER_POINTS[v] for v in values if v in ANSWER_POINTS])
    if Side.MARKETING not in per_side or Side.SALES not in per_side:
        return
    marketing, sales = result.side_points[Side.MARKETING], result.side_points[Side.SALES]
    if marketing is None or sales is None:
        result.disagreement = (marketing is None) != (sales is None)  # "n/a" against an answer
    else:
        result.disagreement = abs(marketing - sales) >= DISAGREEMENT_GAP


def find_contradiction(result: ItemResult) -> Contradiction | None:
    """The data disagrees with the team's answer by half a point or more."""
    ev = result.evidence
    if ev is None or ev.points is None or result.points is None or result.status not in (MET, PARTLY, UNMET):
        return None
    gap = abs(result.points - ev.points)
    if gap < CONTRADICTION_GAP:
        return None
    return Contradiction(answer_status=result.status, answer_points=result.points, evidence=ev, gap=gap)
