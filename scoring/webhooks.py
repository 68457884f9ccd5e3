"""The optional per-tenant outbound webhook for hot-lead alerts.

POST JSON, signed: `X-Ondo-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`
with `X-Ondo-Timestamp` (receivers reject old timestamps) and `X-Ondo-Delivery` (the alert id,
the same on every retry, so receivers can drop duplicates). Retried with backoff by Celery.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from django.utils import timezone

from tenants import outbound

from .models import HotLeadAlert, ScoringSettings

TIMEOUT_SECONDS = 10


class WebhookFailed(Exception):
    pass


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def payload(alert: HotLeadAlert) -> dict:
    lead = alert.lead
    return {
        "type": "hot_lead.created",
        "alert_id": alert.pk,
        "created_at": alert.created_at.isoformat(),
        "due_at": alert.due_at.isoformat(),
        "lead": {
            "id": lead.pk,
            "email": lead.email,
            "name": lead.name,
            "company": lead.company,
            "title": lead.title,
            "score_total": lead.score_total,
            "score_behaviour": lead.score_behaviour,
            "score_fit": lead.score_fit,
            "segment": lead.segment,
            "owner": lead.owner.email if lead.owner_id else None,
        },
    }


def send(alert_id: int) -> str:
    """Deliver one alert's webhook through the outbound policy (tenants.outbound). Idempotent.

    A destination the policy refuses fails the alert at once ("refused by policy", no retry); a
    network failure or a non-2xx answer (a redirect included: never followed) raises WebhookFailed
    and the task retries. Stored reasons are generic: they never tell which internal ports answer."""
    alert = HotLeadAlert.objects.select_related("lead", "lead__owner").filter(pk=alert_id).first()
    settings_row = ScoringSettings.objects.first()
    if alert is None or alert.webhook_delivered_at or settings_row is None or not settings_row.webhook_url:
        return "skipped"
    body = json.dumps(payload(alert), ensure_ascii=False, sort_keys=True).encode()
    timestamp = str(int(time.time()))
    headers = {
        "X-Ondo-Timestamp": timestamp,
        "X-Ondo-Delivery": f"hot-lead-alert-{alert.pk}",
        "X-Ondo-Signature": sign(settings_row.webhook_secret, timestamp, body),
    }
    HotLeadAlert.objects.filter(pk=alert.pk).update(webhook_attempts=alert.webhook_attempts + 1)
    try:
        outbound.post_json(settings_row.webhook_url, body, headers=headers, timeout=TIMEOUT_SECONDS)
    except outbound.OutboundRefused as refused:
        give_up(alert.pk, str(refused))
        return "refused"
    except outbound.OutboundFailed as error:
        HotLeadAlert.objects.filter(pk=alert.pk).update(webhook_status="retrying", webhook_last_error=str(error)[:300])
        raise WebhookFailed(str(error)) from None
    HotLeadAlert.objects.filter(pk=alert.pk).update(
        webhook_status="delivered", webhook_delivered_at=timezone.now(), webhook_last_error=""
    )
    return "delivered"


def give_up(alert_id: int, reason: str) -> None:
    HotLeadAlert.objects.filter(pk=alert_id).update(webhook_status="failed", webhook_last_error=reason[:300])
