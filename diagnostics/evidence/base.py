"""What one measurement is (`Evidence`), the registry of checks, and the helpers the checks share.

A state without a measurement never carries a made-up number: `no_data` (there is nothing to
measure yet) or `unavailable` (the check failed just now, or an old snapshot says so).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.utils.functional import Promise
from django.utils.translation import gettext as _

from leads.models import Lead

from ..models import ANSWER_POINTS, AnswerValue

MEASURED = "measured"
NO_DATA = "no_data"
UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class Evidence:
    """One measurement. `metrics` is JSON-safe; texts are built in the reader's language."""

    key: str
    state: str
    suggested: str | None = None
    metrics: dict = field(default_factory=dict)
    source: str = ""

    @property
    def is_measured(self) -> bool:
        return self.state == MEASURED and self.suggested is not None

    @property
    def points(self) -> float | None:
        return ANSWER_POINTS.get(self.suggested) if self.is_measured else None

    @property
    def label(self) -> str:
        return str(EVIDENCE[self.key].label) if self.key in EVIDENCE else self.key

    @property
    def headline(self) -> str:
        """One sentence in the active language, e.g. "64.0 % of leads have no industry"."""
        if self.state == UNAVAILABLE:
            return _("Not available yet: this needs %(feature)s.") % {
                "feature": _feature_name(self.metrics.get("needs"))
            }
        if self.state == NO_DATA:
            return _no_data_text(self.metrics.get("reason", ""))
        check = EVIDENCE.get(self.key)
        return check.describe(self) if check else ""

    @property
    def suggested_label(self) -> str:
        return str(AnswerValue(self.suggested).label) if self.suggested else ""

    def to_json(self) -> dict:
        return {
            "key": self.key,
            "state": self.state,
            "suggested": self.suggested,
            "metrics": self.metrics,
            "source": self.source,
        }

    @classmethod
    def from_json(cls, data: dict) -> Evidence:
        return cls(
            key=data["key"],
            state=data.get("state", UNAVAILABLE),
            suggested=data.get("suggested"),
            metrics=data.get("metrics") or {},
            source=data.get("source", ""),
        )


@dataclass(frozen=True)
class EvidenceCheck:
    key: str
    label: Promise
    compute: Callable[[datetime], Evidence]
    describe: Callable[[Evidence], str]


EVIDENCE: dict[str, EvidenceCheck] = {}


def evidence_check(key: str, *, label: Promise, describe: Callable[[Evidence], str]):
    """Register `fn(now) -> Evidence` as the check for `key`."""

    def decorator(fn: Callable[[datetime], Evidence]):
        EVIDENCE[key] = EvidenceCheck(key=key, label=label, compute=fn, describe=describe)
        return fn

    return decorator


# --- helpers of the checks -------------------------------------------------------------


def n(count) -> str:
    """A count with thousands separators (12,450), as Japanese business documents write it."""
    return f"{int(count):,}"


def pct(part: float, whole: float) -> float:
    return round(100.0 * part / whole, 1) if whole else 0.0


def grade(value: float, yes: float, partly: float, *, lower_is_better: bool = False) -> str:
    if lower_is_better:
        return AnswerValue.YES if value <= yes else AnswerValue.PARTLY if value <= partly else AnswerValue.NO
    return AnswerValue.YES if value >= yes else AnswerValue.PARTLY if value >= partly else AnswerValue.NO


def live_leads():
    return Lead.objects.filter(merged_into__isnull=True)


def no_data(key: str, reason: str, source: str = "", **metrics) -> Evidence:
    return Evidence(key=key, state=NO_DATA, metrics={"reason": reason, **metrics}, source=source)


def _feature_name(needs: str | None) -> str:
    # Snapshots kept before every source existed may still name one; they read as "not set up yet".
    if needs == "error":
        return _("data that could not be read just now; please try again later")
    return _("a part of Ondo that is not set up yet")


def _no_data_text(reason: str) -> str:
    texts = {
        "no_leads": _("No leads yet, so there is nothing to measure."),
        "no_handovers": _("No leads were handed over to sales in the last 90 days."),
        "no_rejections": _("No leads were rejected or lost in the last 180 days."),
        "no_hot_transitions": _("No lead became hot in the last 90 days."),
    }
    return texts.get(reason, _("Not enough data to measure this yet."))
