"""Hot-lead alerts: delivery (bell + email to the owner or the sales queue, webhook) and the
follow-up deadline check. Alerts are created by the engine in the same statement as the
segment transition (unique per transition); everything here is idempotent."""

from __future__ import annotations

import logging

from django.db import transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from leads.models import LeadFeedback, Stage
from tenants.context import require_tenant_id
from tenants.models import Membership, Tenant
from tenants.services import members_with_role, notify
from tenants.tasking import enqueue_on_commit

from .models import HotLeadAlert, ScoringSettings

logger = logging.getLogger("ondo.scoring")

# A full recompute after a model change can move thousands of leads at once: those alerts are
# listed (with deadlines) but announced in one summary notification instead of one each.
FOLLOWED_UP_STAGES = (Stage.SQL, Stage.OPPORTUNITY, Stage.CUSTOMER, Stage.DISQUALIFIED)


def enqueue_delivery(alert_ids: list[int]) -> None:
    from . import tasks

    tenant_id = require_tenant_id()
    for alert_id in alert_ids:
        enqueue_on_commit(tasks.deliver_hot_lead_alert, tenant_id, alert_id)


def alerts_created_by_recompute(*, run_id: int, alert_ids: list[int], summary_count: int) -> None:
    """After a recompute: one summary for the alerts of a model change (already marked announced
    in the swap), and individual delivery for the others."""
    if summary_count:
        tenant = Tenant.objects.get(pk=require_tenant_id())
        with transaction.atomic(), translation.override(tenant.default_language):
            notify(
                recipients=_sales_queue(),
                kind="hot_lead_summary",
                title=_("%(count)s leads became hot after the scoring model changed") % {"count": summary_count},
                body=_("Open the hot-lead alerts to follow them up before their deadlines."),
                url=_url("scoring:alerts", tenant.slug),
                dedupe_key=f"hot-lead-summary:{run_id}",
            )
    if alert_ids:
        enqueue_delivery(alert_ids)


def _sales_queue():
    return members_with_role("sales") or members_with_role("admin")


def _url(name: str, slug: str, *args) -> str:
    try:
        return reverse(name, args=[slug, *args])
    except NoReverseMatch:
        return ""


def lead_url(slug: str, lead_id: int) -> str:
    for name in ("leads:detail", "leads:lead_detail"):
        url = _url(name, slug, lead_id)
        if url:
            return url
    return _url("scoring:alerts", slug)


def recipients_for(alert: HotLeadAlert) -> list:
    owner = alert.lead.owner
    if (
        owner is not None
        and owner.is_active
        and Membership.objects.filter(user=owner, tenant_id=require_tenant_id()).exists()
    ):
        return [owner]
    return _sales_queue()


def deliver(alert_id: int) -> bool:
    """Notify about one alert (once: the notification is deduplicated by the alert id) and
    queue its webhook. Returns whether anything new was sent."""
    alert = HotLeadAlert.objects.select_related("lead", "lead__owner").filter(pk=alert_id).first()
    if alert is None:
        return False
    tenant = Tenant.objects.get(pk=require_tenant_id())
    settings_row = ScoringSettings.objects.first()
    lead = alert.lead
    with translation.override(tenant.default_language):
        created = notify(
            recipients=recipients_for(alert),
            kind="hot_lead",
            title=_("Hot lead: %(name)s (%(company)s), %(score)s points")
            % {"name": lead.name or lead.email, "company": lead.company or "-", "score": lead.score_total},
            body=_("Follow up by %(deadline)s.")
            % {"deadline": timezone.localtime(alert.due_at).strftime("%Y/%m/%d %H:%M")},
            url=lead_url(tenant.slug, lead.pk),
            dedupe_key=f"hot-lead-alert:{alert.pk}",
            email=settings_row.email_alerts if settings_row else True,
        )
    HotLeadAlert.objects.filter(pk=alert.pk, notified_at__isnull=True).update(notified_at=timezone.now())
    if settings_row and settings_row.webhook_url and not alert.webhook_delivered_at:
        from . import tasks

        HotLeadAlert.objects.filter(pk=alert.pk, webhook_status="").update(webhook_status="pending")
        enqueue_on_commit(tasks.send_alert_webhook, tenant.pk, alert.pk)
    return created > 0


def sla_check(*, now=None) -> int:
    """Close alerts whose lead sales already handled; notify each overdue alert exactly once."""
    now = now or timezone.now()
    open_alerts = HotLeadAlert.objects.filter(followed_up_at__isnull=True)
    handled = open_alerts.filter(lead__stage__in=FOLLOWED_UP_STAGES).values_list("pk", flat=True)
    HotLeadAlert.objects.filter(pk__in=list(handled)).update(followed_up_at=now)
    with_feedback = [
        alert.pk
        for alert in open_alerts.filter(due_at__lt=now, breach_notified_at__isnull=True).only(
            "pk", "lead_id", "created_at"
        )
        if LeadFeedback.objects.filter(lead_id=alert.lead_id, occurred_at__gte=alert.created_at).exists()
    ]
    if with_feedback:
        HotLeadAlert.objects.filter(pk__in=with_feedback).update(followed_up_at=now)
    tenant = Tenant.objects.get(pk=require_tenant_id())
    notified = 0
    overdue = HotLeadAlert.objects.filter(followed_up_at__isnull=True, breach_notified_at__isnull=True, due_at__lt=now)
    for alert in overdue.select_related("lead", "lead__owner")[:500]:
        with transaction.atomic():
            # The conditional update is the "once": a concurrent or repeated check finds nothing to claim.
            claimed = HotLeadAlert.objects.filter(pk=alert.pk, breach_notified_at__isnull=True).update(
                breach_notified_at=now
            )
            if not claimed:
                continue
            lead = alert.lead
            recipients = {u.pk: u for u in [*recipients_for(alert), *members_with_role("admin", "marketing")]}
            with translation.override(tenant.default_language):
                notify(
                    recipients=list(recipients.values()),
                    kind="hot_lead_overdue",
                    title=_("Follow-up overdue: %(name)s (%(company)s)")
                    % {"name": lead.name or lead.email, "company": lead.company or "-"},
                    body=_("The deadline was %(deadline)s.")
                    % {"deadline": timezone.localtime(alert.due_at).strftime("%Y/%m/%d %H:%M")},
                    url=lead_url(tenant.slug, lead.pk),
                    dedupe_key=f"hot-lead-overdue:{alert.pk}",
                )
            notified += 1
    return notified
