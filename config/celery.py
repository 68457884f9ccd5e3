"""The Celery app and the whole beat schedule (one file, no django-celery-beat)."""

import os

from celery import Celery
from celery.schedules import crontab
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("ondo")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    # Redis re-delivers unacknowledged tasks after the visibility timeout:
    # every time limit stays well below it so no task runs twice concurrently.
    broker_transport_options={"visibility_timeout": 3600},
    task_time_limit=1800,
    task_soft_time_limit=1500,
    task_ignore_result=True,
    broker_connection_retry_on_startup=True,
    timezone="Asia/Tokyo",
)
app.autodiscover_tasks()


@worker_init.connect
def _refuse_privileged_role(**kwargs):
    """A worker bound by no row-level security would see every tenant: refuse to start (tenants/rls.py)."""
    from tenants.rls import refuse_privileged_role

    refuse_privileged_role()


# Periodic work. Fan-out tasks enqueue one task per tenant (platform-level bypass).
app.conf.beat_schedule = {
    "scoring-time-based-rescore": {
        "task": "scoring.tasks.fan_out_time_based_rescore",
        "schedule": crontab(minute="*/15"),
    },
    "scoring-reconcile-unscored": {
        "task": "scoring.tasks.fan_out_reconcile_unscored",
        "schedule": crontab(minute="*/5"),
    },
    "scoring-recover-stale-runs": {
        "task": "scoring.tasks.fan_out_recover_stale_runs",
        "schedule": crontab(minute="*/2"),
    },
    "leads-recover-stale-imports": {
        "task": "leads.tasks.fan_out_recover_stale_imports",
        "schedule": crontab(minute="1-59/2"),
    },
    "scoring-alert-sla-check": {
        "task": "scoring.tasks.fan_out_sla_check",
        "schedule": crontab(minute="*/10"),
    },
    "mql-reconcile": {
        "task": "mql.tasks.fan_out_reconcile",
        "schedule": crontab(minute="2-59/5"),
    },
    "kpis-rollup-refresh": {
        "task": "kpis.tasks.fan_out_rollup_refresh",
        "schedule": crontab(minute="*"),
    },
    "kpis-review-alerts": {
        "task": "kpis.tasks.fan_out_review_alerts",
        "schedule": crontab(minute=0, hour=8),
    },
    "diagnostics-weekly-auto-diagnosis": {
        "task": "diagnostics.tasks.fan_out_auto_diagnosis",
        "schedule": crontab(minute=30, hour=6, day_of_week="mon"),
    },
}
