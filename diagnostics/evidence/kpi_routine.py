"""Checks of the KPI routine (checklist areas "process design" and "collaboration"): shared KPI
targets set, KPIs reviewed regularly, and a nurturing period designed. All from `kpis.selectors`."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kpis import selectors as kpi_selectors

from ..models import AnswerValue
from .base import MEASURED, Evidence, evidence_check

REVIEW_WINDOW = timedelta(days=30)
REVIEWS_YES = 4  # seed 000: a weekly review; four or more in 30 days is a routine, one to three is a start


def _describe_targets(ev: Evidence) -> str:
    m = ev.metrics
    if not m["targets"]:
        return _("No KPI targets are set for the current period (%(period)s).") % {"period": m["period"]}
    return _("%(count)s KPI targets are set for the current period (%(period)s).") % {
        "count": m["targets"],
        "period": m["period"],
    }


@evidence_check("shared_kpis_set", label=gettext_lazy("Shared KPIs set"), describe=_describe_targets)
def shared_kpis_set(now: datetime) -> Evidence:
    data = kpi_selectors.current_targets_summary(now=now)
    count = int(data["targets"])
    if count == 0:
        suggested = AnswerValue.NO
    elif int(data["shared_kpis_with_target"]) >= int(data["shared_kpis_total"]):
        suggested = AnswerValue.YES
    else:
        suggested = AnswerValue.PARTLY
    return Evidence(
        key="shared_kpis_set",
        state=MEASURED,
        suggested=suggested,
        source="kpis.selectors.current_targets_summary",
        metrics={"targets": count, "period": str(data["period"])},
    )


def _describe_reviews(ev: Evidence) -> str:
    m = ev.metrics
    if not m["reviews"]:
        return _("No KPI review was logged in the last 30 days.")
    return _("%(count)s KPI reviews were logged in the last 30 days (latest %(date)s).") % {
        "count": m["reviews"],
        "date": m["latest"],
    }


@evidence_check("kpis_reviewed", label=gettext_lazy("KPIs reviewed"), describe=_describe_reviews)
def kpis_reviewed(now: datetime) -> Evidence:
    data = kpi_selectors.review_log_summary(since=now - REVIEW_WINDOW, until=now)
    count = int(data["reviews"])
    suggested = AnswerValue.YES if count >= REVIEWS_YES else AnswerValue.PARTLY if count else AnswerValue.NO
    latest = data["latest"]
    return Evidence(
        key="kpis_reviewed",
        state=MEASURED,
        suggested=suggested,
        source="kpis.selectors.review_log_summary",
        metrics={"reviews": count, "latest": timezone.localtime(latest).strftime("%Y/%m/%d") if latest else None},
    )


def _describe_nurture_period(ev: Evidence) -> str:
    m = ev.metrics
    if m.get("designed_days"):
        return _("A nurturing period of %(days)s days is designed.") % {"days": m["designed_days"]}
    return _("No nurturing period is designed (how many days a lead is nurtured before it is handed over or recycled).")


@evidence_check(
    "nurture_period_designed", label=gettext_lazy("Nurturing period designed"), describe=_describe_nurture_period
)
def nurture_period_designed(now: datetime) -> Evidence:
    # The designed period is the KPI plan's target for the average nurturing period.
    days = kpi_selectors.nurture_period_days()
    return Evidence(
        key="nurture_period_designed",
        state=MEASURED,
        source="kpis.selectors.nurture_period_days",
        suggested=AnswerValue.YES if days else AnswerValue.NO,
        metrics={"designed_days": days},
    )
