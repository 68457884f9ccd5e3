"""One way to write and enqueue tenant tasks.

    @tenant_task()
    def score_lead(lead_id: int) -> None:      # runs inside tenant_scope(tenant_id)
        engine.score_lead(lead_id=lead_id)

    enqueue_on_commit("scoring.tasks.score_lead", tenant_id, lead_id)   # by name: services never import tasks

Tasks take the tenant id explicitly as their first argument and set the tenant
context themselves. Enqueueing happens after the transaction commits; a broker
outage is logged, never fails the request (the periodic reconciliation catches up).
"""

from __future__ import annotations

import functools
import logging

from celery import shared_task
from django.db import transaction

from .context import tenant_scope

logger = logging.getLogger("ondo.tasks")


def tenant_task(*, atomic: bool = True, **celery_options):
    """Decorate `fn(*args)` into a Celery task `task(tenant_id, *args)` run in the tenant's scope."""

    def decorator(fn):
        @shared_task(name=f"{fn.__module__}.{fn.__name__}", **celery_options)
        @functools.wraps(fn)
        def task(tenant_id: int, *args, **kwargs):
            with tenant_scope(tenant_id, atomic=atomic):
                return fn(*args, **kwargs)

        return task

    return decorator


def registered_task(task):
    """A task object from the task itself or its registered name ("app.tasks.name"), so that a service
    can enqueue a task without importing the task module (task modules are leaves that import services)."""
    if isinstance(task, str):
        from celery import current_app

        return current_app.tasks[task]
    return task


def send_task_safely(task, *args, **kwargs) -> bool:
    try:
        registered_task(task).apply_async(args=args, kwargs=kwargs)
        return True
    except Exception:  # the broker is down: the data is committed, reconciliation re-enqueues
        logger.exception("could not enqueue %s", getattr(task, "name", task))
        return False


def enqueue_on_commit(task, *args, **kwargs) -> None:
    """Enqueue `task` once the current transaction commits (immediately outside one)."""
    transaction.on_commit(lambda: send_task_safely(task, *args, **kwargs))
