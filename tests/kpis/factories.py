"""Builders for KPI tests: a small tenant history written straight through the models."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from leads.models import Activity, Lead, LeadFeedback, LeadStageChange

JST = ZoneInfo("Asia/Tokyo")


def jst(y, m, d, hh=12, mm=0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, tzinfo=JST)


_seq = {"n": 0}


def lead(*, at: dt.datetime, channel: str = "seo", campaign: str = "", owner=None, **fields) -> Lead:
    _seq["n"] += 1
    return Lead.objects.create(
        email=f"kpi{_seq['n']}@prospect.example.jp",
        first_seen_at=at,
        channel=channel,
        campaign=campaign,
        owner=owner,
        **fields,
    )


def activity(lead_obj: Lead, kind: str, at: dt.datetime, campaign: str = "") -> Activity:
    return Activity.objects.create(lead=lead_obj, type=kind, occurred_at=at, campaign=campaign)


def stage(lead_obj: Lead, to_stage: str, at: dt.datetime, from_stage: str = "") -> LeadStageChange:
    lead_obj.stage = to_stage
    lead_obj.stage_changed_at = at
    lead_obj.save()
    return LeadStageChange.objects.create(lead=lead_obj, from_stage=from_stage, to_stage=to_stage, changed_at=at)


def feedback(lead_obj: Lead, outcome: str, at: dt.datetime, amount: int | None = None) -> LeadFeedback:
    return LeadFeedback.objects.create(
        lead=lead_obj, outcome=outcome, occurred_at=at, amount=Decimal(amount) if amount is not None else None
    )
