"""Checks of the lead data itself (checklist area "data and targeting"): attributes filled in,
duplicates, and behaviour data collected. Figures come from `leads.quality` where it has them."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Count
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from leads import quality
from leads.models import Activity

from ..models import AnswerValue
from .base import MEASURED, Evidence, evidence_check, grade, live_leads, n, no_data, pct

# Thresholds: a check suggests "yes" only when the data clearly shows it.
CORE_FILL_YES, CORE_FILL_PARTLY = 80.0, 50.0  # % of leads with industry, title and company size
BANT_FILL_YES = 50.0  # average % of leads with authority, need, budget, timing
DUPLICATES_YES, DUPLICATES_PARTLY = 2.0, 5.0  # % of leads in a duplicate group
BEHAVIOUR_WINDOW = timedelta(days=30)
BEHAVIOUR_TYPES_YES, BEHAVIOUR_ACTIVE_YES = 3, 10.0  # activity types seen; % of leads active in the window

# --- attribute completeness -----------------------------------------------------------

ATTRIBUTE_FIELDS = ["industry", "title", "company_size", "authority", "need", "budget", "timing"]
CORE_FIELDS = ["industry", "title", "company_size"]
BANT_FIELDS = ["authority", "need", "budget", "timing"]
ATTRIBUTES_SOURCE = "leads.quality.attribute_completeness"


def _attribute_labels() -> dict[str, str]:
    return {
        "industry": _("industry"),
        "title": _("job title"),
        "company_size": _("company size"),
        "authority": _("decision authority"),
        "need": _("need"),
        "budget": _("budget"),
        "timing": _("timing"),
    }


def _describe_completeness(ev: Evidence) -> str:
    m = ev.metrics
    labels = _attribute_labels()
    if ev.suggested == AnswerValue.YES:
        return _(
            "%(pct)s %% of leads have industry, job title and company size; qualifying fields average %(bant)s %%."
        ) % {"pct": m["core_min_pct"], "bant": m["bant_avg_pct"]}
    if m["core_min_pct"] < CORE_FILL_YES:
        weakest = m["weakest_core"]
        return _("%(pct)s %% of leads have no %(field)s.") % {
            "pct": round(100 - m["filled_pct"][weakest], 1),
            "field": labels[weakest],
        }
    return _("Qualifying fields (authority, need, budget, timing) are missing on %(pct)s %% of leads on average.") % {
        "pct": round(100 - m["bant_avg_pct"], 1)
    }


@evidence_check("attribute_completeness", label=gettext_lazy("Attribute completeness"), describe=_describe_completeness)
def attribute_completeness(now: datetime) -> Evidence:
    result = quality.attribute_completeness()  # the data-quality page's own figures
    total = int(result["total"])
    if not total:
        return no_data("attribute_completeness", "no_leads", ATTRIBUTES_SOURCE)
    filled = {name: round(100.0 - float(result["missing_pct"][name]), 1) for name in ATTRIBUTE_FIELDS}
    weakest_core = min(CORE_FIELDS, key=lambda name: filled[name])
    core_min = filled[weakest_core]
    bant_avg = round(sum(filled[name] for name in BANT_FIELDS) / len(BANT_FIELDS), 1)
    if core_min >= CORE_FILL_YES and bant_avg >= BANT_FILL_YES:
        suggested = AnswerValue.YES
    elif core_min >= CORE_FILL_PARTLY:
        suggested = AnswerValue.PARTLY
    else:
        suggested = AnswerValue.NO
    return Evidence(
        key="attribute_completeness",
        state=MEASURED,
        suggested=suggested,
        source=ATTRIBUTES_SOURCE,
        metrics={
            "leads": total,
            "filled_pct": filled,
            "weakest_core": weakest_core,
            "core_min_pct": core_min,
            "bant_avg_pct": bant_avg,
        },
    )


# --- duplicates -------------------------------------------------------------------------

DUPLICATES_SOURCE = "leads.quality.duplicate_summary"


def _describe_duplicates(ev: Evidence) -> str:
    return _("%(pct)s %% of leads (%(count)s) look like duplicates: same company and name.") % {
        "pct": ev.metrics["duplicate_pct"],
        "count": n(ev.metrics["duplicate_leads"]),
    }


@evidence_check("duplicate_rate", label=gettext_lazy("Duplicate rate"), describe=_describe_duplicates)
def duplicate_rate(now: datetime) -> Evidence:
    result = quality.duplicate_summary(sample=0)  # the figures only, not the review queue
    total, duplicate_leads, groups = int(result["total"]), int(result["duplicate_leads"]), int(result["groups"])
    if not total:
        return no_data("duplicate_rate", "no_leads", DUPLICATES_SOURCE)
    share = pct(duplicate_leads, total)
    return Evidence(
        key="duplicate_rate",
        state=MEASURED,
        source=DUPLICATES_SOURCE,
        suggested=grade(share, DUPLICATES_YES, DUPLICATES_PARTLY, lower_is_better=True),
        metrics={"leads": total, "duplicate_leads": duplicate_leads, "groups": groups, "duplicate_pct": share},
    )


# --- behaviour data -------------------------------------------------------------------------

BEHAVIOUR_SOURCE = "leads.models (aggregate)"


def _describe_behaviour(ev: Evidence) -> str:
    m = ev.metrics
    if not m["activities"]:
        return _("No activity (opens, clicks, downloads, visits) was recorded in the last 30 days.")
    return _("%(count)s activities of %(types)s types in the last 30 days; %(pct)s %% of leads were active.") % {
        "count": n(m["activities"]),
        "types": len(m["by_type"]),
        "pct": m["active_pct"],
    }


@evidence_check(
    "behaviour_data_collected", label=gettext_lazy("Behaviour data collected"), describe=_describe_behaviour
)
def behaviour_data_collected(now: datetime) -> Evidence:
    since = now - BEHAVIOUR_WINDOW
    recent = Activity.objects.filter(occurred_at__gte=since, occurred_at__lte=now)
    by_type = dict(recent.values_list("type").annotate(n=Count("id")).values_list("type", "n"))
    active = recent.filter(lead__isnull=False).aggregate(n=Count("lead", distinct=True))["n"]
    total = live_leads().count()
    if not total and not by_type:
        return no_data("behaviour_data_collected", "no_leads", BEHAVIOUR_SOURCE)
    activities = sum(by_type.values())
    active_pct = pct(active, total)
    if not activities:
        suggested = AnswerValue.NO
    elif len(by_type) >= BEHAVIOUR_TYPES_YES and active_pct >= BEHAVIOUR_ACTIVE_YES:
        suggested = AnswerValue.YES
    else:
        suggested = AnswerValue.PARTLY
    return Evidence(
        key="behaviour_data_collected",
        state=MEASURED,
        suggested=suggested,
        source=BEHAVIOUR_SOURCE,
        metrics={
            "activities": activities,
            "by_type": dict(sorted(by_type.items(), key=lambda kv: -kv[1])),
            "active_leads": active,
            "active_pct": active_pct,
            "window_days": BEHAVIOUR_WINDOW.days,
        },
    )
