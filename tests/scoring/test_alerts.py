"""Segment transitions and hot-lead alerts: exactly one alert per transition into hot, delivered
once to the owner or the sales queue, webhook signed and retried, SLA breaches notified once."""

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core import mail
from django.utils import timezone

from scoring import alerts, engine, services, tasks, webhooks
from scoring.models import HotLeadAlert, SegmentTransition
from tenants.models import Notification, Role

from ..factories import member


@pytest.fixture
def hot_ready(model, make_lead, act):
    """A warm lead (fit 75) that a pricing-page view (+25) makes hot."""
    lead = make_lead(title="CEO", employee_count=800, industry="SaaS", name="山田 太郎", company="株式会社ホット")
    engine.rescore_leads([lead.pk])
    lead.refresh_from_db()
    assert lead.segment == "warm"
    return lead


def test_transitions_are_recorded_with_the_model_version(hot_ready, act):
    act(hot_ready, "pricing_view")
    engine.rescore_leads([hot_ready.pk])
    transitions = list(
        SegmentTransition.objects.filter(lead=hot_ready)
        .order_by("id")
        .values_list("from_segment", "to_segment", "model_version")
    )
    assert transitions == [("", "warm", 1), ("warm", "hot", 1)]


def test_one_alert_per_transition_even_with_duplicate_events(hot_ready, act, users, django_capture_on_commit_callbacks):
    act(hot_ready, "pricing_view")
    with django_capture_on_commit_callbacks(execute=True):
        first = engine.rescore_leads([hot_ready.pk])
        # The same event delivered again, and the task retried: no new transition, no new alert.
        second = engine.rescore_leads([hot_ready.pk])
        tasks.on_leads_changed(hot_ready.tenant_id, [hot_ready.pk], "duplicate")
    assert len(first.alert_ids) == 1 and second.alert_ids == []
    assert HotLeadAlert.objects.count() == 1
    assert Notification.objects.filter(kind="hot_lead").count() == 1  # the sales member (no owner)


def test_alert_goes_to_the_owner_with_a_deadline_and_email(hot_ready, act, users, django_capture_on_commit_callbacks):
    owner = users["sales"]
    hot_ready.owner = owner
    hot_ready.save()
    act(hot_ready, "pricing_view")
    with django_capture_on_commit_callbacks(execute=True):
        (alert_id,) = engine.rescore_leads([hot_ready.pk]).alert_ids
    alert = HotLeadAlert.objects.get(pk=alert_id)
    assert timedelta(hours=47, minutes=59) < alert.due_at - alert.created_at <= timedelta(hours=48)
    notification = Notification.objects.get(kind="hot_lead")
    assert notification.recipient == owner
    assert "山田 太郎" in notification.title
    assert alert.notified_at is not None
    assert [m.to for m in mail.outbox] == [[owner.email]]


def test_unowned_lead_goes_to_the_sales_queue(hot_ready, act, scoped, django_capture_on_commit_callbacks):
    queue = [member(scoped, Role.SALES), member(scoped, Role.SALES)]
    member(scoped, Role.MARKETING)
    act(hot_ready, "pricing_view")
    with django_capture_on_commit_callbacks(execute=True):
        engine.rescore_leads([hot_ready.pk])
    assert set(Notification.objects.filter(kind="hot_lead").values_list("recipient", flat=True)) == {
        u.pk for u in queue
    }


def test_a_retried_delivery_notifies_once(hot_ready, act, users):
    act(hot_ready, "pricing_view")
    (alert_id,) = engine.rescore_leads([hot_ready.pk]).alert_ids
    assert alerts.deliver(alert_id) is True
    assert alerts.deliver(alert_id) is False
    assert Notification.objects.filter(kind="hot_lead").count() == 1


def test_follow_up_deadline_is_a_tenant_setting(hot_ready, act):
    services.settings_update(follow_up_hours=24, email_alerts=False, webhook_url="", webhook_secret=None)
    act(hot_ready, "pricing_view")
    (alert_id,) = engine.rescore_leads([hot_ready.pk]).alert_ids
    alert = HotLeadAlert.objects.get(pk=alert_id)
    assert alert.due_at - alert.created_at <= timedelta(hours=24)


def test_sla_breach_is_notified_once(hot_ready, act, users):
    act(hot_ready, "pricing_view")
    (alert_id,) = engine.rescore_leads([hot_ready.pk]).alert_ids
    later = timezone.now() + timedelta(hours=49)
    assert alerts.sla_check(now=later) == 1
    assert alerts.sla_check(now=later + timedelta(hours=1)) == 0
    assert Notification.objects.filter(kind="hot_lead_overdue").count() >= 1
    assert HotLeadAlert.objects.get(pk=alert_id).breach_notified_at is not None


def test_followed_up_alerts_are_not_breached(hot_ready, act, users):
    act(hot_ready, "pricing_view")
    (alert_id,) = engine.rescore_leads([hot_ready.pk]).alert_ids
    services.alert_follow_up(alert=HotLeadAlert.objects.get(pk=alert_id), actor=users["sales"])
    assert alerts.sla_check(now=timezone.now() + timedelta(days=5)) == 0


class _Receiver(BaseHTTPRequestHandler):
    received: list = []
    fail_first = 0

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((dict(self.headers), body))
        if type(self).fail_first > 0:
            type(self).fail_first -= 1
            self.send_response(503)
        else:
            self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver(settings):
    _Receiver.received = []
    _Receiver.fail_first = 0
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    # A local http receiver is reachable only through the outbound policy's test allowlist.
    settings.ONDO_OUTBOUND_ALLOWED_TEST_HOSTS = [f"127.0.0.1:{server.server_port}"]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def test_webhook_is_signed_and_retried_until_delivered(hot_ready, act, users, receiver):
    services.settings_update(
        follow_up_hours=48,
        email_alerts=True,
        webhook_secret="s3cret",
        webhook_url=f"http://127.0.0.1:{receiver.server_port}/hooks/ondo",
    )
    _Receiver.fail_first = 2
    act(hot_ready, "pricing_view")
    (alert_id,) = engine.rescore_leads([hot_ready.pk]).alert_ids
    for _attempt in range(2):  # what Celery's retries do (their backoff is tested with a real worker)
        with pytest.raises(webhooks.WebhookFailed):
            webhooks.send(alert_id)
    assert webhooks.send(alert_id) == "delivered"
    alert = HotLeadAlert.objects.get(pk=alert_id)
    assert (alert.webhook_status, alert.webhook_attempts) == ("delivered", 3)
    headers, body = _Receiver.received[-1]
    assert webhooks.verify("s3cret", headers["X-Ondo-Timestamp"], body, headers["X-Ondo-Signature"])
    assert {h["X-Ondo-Delivery"] for h, _b in _Receiver.received} == {f"hot-lead-alert-{alert_id}"}
    payload = json.loads(body)
    assert payload["lead"]["email"] == hot_ready.email and payload["lead"]["segment"] == "hot"
    # A duplicate task run does not send again.
    assert webhooks.send(alert_id) == "skipped"
    assert len(_Receiver.received) == 3


def test_a_model_change_announces_many_new_hot_leads_in_one_summary(
    model, make_lead, users, django_capture_on_commit_callbacks
):
    leads = [make_lead(title="CEO", employee_count=800, industry="SaaS") for _ in range(25)]
    engine.rescore_leads([lead.pk for lead in leads])  # all warm (75)
    draft = services.draft_get_or_create()
    services.fit_rule_save(
        model=draft,
        rule=draft.fit_rules.get(label="業種:IT・ソフトウェア"),
        data={
            "label": "業種:IT・ソフトウェア",
            "field": "industry",
            "operator": "contains_any",
            "values": ["SaaS"],
            "points": 30,
            "group": "業種",
        },
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.model_publish(model=draft)
    assert HotLeadAlert.objects.count() == 25
    assert Notification.objects.filter(kind="hot_lead_summary").count() == 1
    assert Notification.objects.filter(kind="hot_lead").count() == 0
