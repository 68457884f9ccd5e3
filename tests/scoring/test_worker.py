"""With a real Celery worker on Redis: an ingested activity is rescored by the worker, the lead turns
hot, the alert is delivered once; retried and duplicated tasks change nothing."""

import time
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.utils import timezone

from config.celery import app
from leads.hooks import leads_changed
from leads.models import Activity, Lead
from scoring import engine, services, tasks
from scoring.models import HotLeadAlert
from tenants.context import tenant_scope
from tenants.models import Notification, Role

from ..factories import member
from .test_alerts import _Receiver, receiver  # noqa: F401 - the local webhook receiver fixture

# The worker thread and the test body connect as the app role: row-level security applies, as in production.
pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True), pytest.mark.app_role]


@pytest.fixture
def celery_worker():
    app.conf.task_always_eager = False
    app.control.purge()
    with start_worker(app, pool="solo", concurrency=1, perform_ping_check=False, loglevel="WARNING"):
        yield
    app.conf.task_always_eager = True


def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def warm_lead(tenant):
    member(tenant, Role.SALES, email="queue@acme.example")
    with tenant_scope(tenant.pk):
        services.install_default_model()
        lead = Lead.objects.create(
            email="ceo@prospect.example", name="佐藤 一郎", title="CEO", employee_count=700, industry="SaaS"
        )
        engine.rescore_leads([lead.pk])
    return lead


def ingest(tenant, lead, activity_type="pricing_view", external_id=None):
    """What the ingestion service does: store the activity, announce the change (after commit)."""
    with tenant_scope(tenant.pk):
        Activity.objects.create(lead=lead, type=activity_type, occurred_at=timezone.now(), external_id=external_id)
        leads_changed([lead.pk], reason="ingest")


def test_an_ingested_activity_is_rescored_by_the_worker_and_alerts_once(tenant, warm_lead, celery_worker):
    ingest(tenant, warm_lead)

    def delivered():
        with tenant_scope(tenant.pk):
            return Notification.objects.filter(kind="hot_lead").exists()

    assert wait_for(delivered)
    with tenant_scope(tenant.pk):
        lead = Lead.objects.get(pk=warm_lead.pk)
        assert (lead.score_total, lead.segment) == (100, "hot")
        assert HotLeadAlert.objects.count() == 1
    # The same event again (a client retry with a new id) and a duplicate task: no new alert.
    ingest(tenant, warm_lead)
    with tenant_scope(tenant.pk):
        alert = HotLeadAlert.objects.get()
    tasks.deliver_hot_lead_alert.delay(tenant.pk, alert.pk)
    tasks.rescore_leads.delay(tenant.pk, [warm_lead.pk])
    time.sleep(2)
    with tenant_scope(tenant.pk):
        assert HotLeadAlert.objects.count() == 1
        assert Notification.objects.filter(kind="hot_lead").count() == 1


def test_the_webhook_task_retries_with_backoff_until_delivered(
    tenant,
    warm_lead,
    receiver,  # noqa: F811
    monkeypatch,
    celery_worker,
):
    monkeypatch.setattr(tasks, "WEBHOOK_RETRY_BASE_SECONDS", 0)
    with tenant_scope(tenant.pk):
        services.settings_update(
            follow_up_hours=48,
            email_alerts=False,
            webhook_secret="k",
            webhook_url=f"http://127.0.0.1:{receiver.server_port}/hook",
        )
    _Receiver.fail_first = 2
    ingest(tenant, warm_lead)

    def webhook_delivered():
        with tenant_scope(tenant.pk):
            return HotLeadAlert.objects.filter(webhook_status="delivered").exists()

    assert wait_for(webhook_delivered, timeout=30)
    with tenant_scope(tenant.pk):
        alert = HotLeadAlert.objects.get()
        assert alert.webhook_attempts == 3
    assert len(_Receiver.received) == 3
    tasks.send_alert_webhook.delay(tenant.pk, alert.pk)  # a duplicate delivery of the task
    time.sleep(1.5)
    assert len(_Receiver.received) == 3


def test_reconciliation_catches_activity_whose_rescore_was_lost(tenant, warm_lead):
    # Redis was down: the activity is stored but no rescore task ever ran.
    with tenant_scope(tenant.pk):
        activity = Activity.objects.create(lead=warm_lead, type="pricing_view", occurred_at=timezone.now())
        Activity.objects.filter(pk=activity.pk).update(received_at=timezone.now() - timedelta(minutes=3))
    tasks.fan_out_reconcile_unscored()  # beat's periodic task (tasks run eagerly here)
    with tenant_scope(tenant.pk):
        assert Lead.objects.get(pk=warm_lead.pk).segment == "hot"
