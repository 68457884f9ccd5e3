"""Everything this app reads from the scoring engine, in one place.

The scoring app is the layer this app builds on; whatever it offers (follow-up deadline setting,
lead explanation fragment, the active model's rules, draft models) is reached through these
functions, each with a sensible fallback so the MQL app works on its own too.
"""

from __future__ import annotations

import logging

from django.urls import NoReverseMatch, reverse

logger = logging.getLogger("ondo.mql")

DEFAULT_FOLLOW_UP_HOURS = 48


def follow_up_hours() -> int:
    """The tenant's hot-lead follow-up deadline in hours (scoring's alert setting), default 48."""
    try:
        from scoring.engine import follow_up_hours as scoring_follow_up_hours
    except ImportError:
        return DEFAULT_FOLLOW_UP_HOURS
    return int(scoring_follow_up_hours() or DEFAULT_FOLLOW_UP_HOURS)


def stale_score_ids(lead_ids: list[int]) -> list[int]:
    """Leads whose stored score predates their latest change: never scored, scored with another
    model version, attributes saved after scoring, or activity received after scoring."""
    from django.db.models import Exists, F, OuterRef, Q

    from leads.models import Activity, Lead
    from scoring import engine

    model = engine.active_model()
    if model is None or not lead_ids:
        return []
    newer_activity = Activity.objects.filter(lead_id=OuterRef("pk"), received_at__gt=OuterRef("scored_at"))
    return list(
        Lead.objects.filter(pk__in=lead_ids)
        .filter(
            Q(scored_at__isnull=True)
            | ~Q(score_model_version=model.version)
            | Q(updated_at__gt=F("scored_at"))
            | Exists(newer_activity)
        )
        .values_list("id", flat=True)
    )


def rescore(lead_ids: list[int]) -> None:
    """Bring these leads' scores up to date with scoring's own incremental rescore."""
    from scoring import engine

    engine.rescore_leads(lead_ids)


def explanation_for(lead) -> dict | None:
    """Scoring's explanation of one lead's score (rules that fired), if available."""
    try:
        from scoring import selectors as scoring_selectors
    except ImportError:
        return None
    return scoring_selectors.explanation(lead)


def lead_explanation_url(slug: str, lead_id: int) -> str | None:
    """URL of scoring's score explanation fragment for one lead, if scoring offers it."""
    for kwargs in ({"slug": slug, "pk": lead_id}, {"slug": slug, "lead_id": lead_id}):
        try:
            return reverse("scoring:lead_explanation", kwargs=kwargs)
        except NoReverseMatch:
            continue
    return None


def lead_detail_url(slug: str, lead_id: int) -> str | None:
    for kwargs in ({"slug": slug, "pk": lead_id}, {"slug": slug, "lead_id": lead_id}):
        try:
            return reverse("leads:detail", kwargs=kwargs)
        except NoReverseMatch:
            continue
    return None


def follow_up_hot_alerts(*, lead, actor) -> None:
    """Sales reached the lead: close its open hot-lead alerts (scoring stops the SLA reminders)."""
    from scoring import services as scoring_services
    from scoring.models import HotLeadAlert

    for alert in HotLeadAlert.objects.filter(lead=lead, followed_up_at__isnull=True):
        scoring_services.alert_follow_up(alert=alert, actor=actor)
