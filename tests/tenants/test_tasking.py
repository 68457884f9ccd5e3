"""Services enqueue tasks by their registered name, so no service imports a task module."""

import pytest

from tenants.tasking import registered_task, send_task_safely


def test_a_task_is_found_by_its_registered_name():
    from leads.tasks import csv_import_task

    found = registered_task("leads.tasks.csv_import_task")
    assert found.name == csv_import_task.name == "leads.tasks.csv_import_task"
    assert found.run.__wrapped__ is csv_import_task.run.__wrapped__  # the same function, not a look-alike
    assert registered_task(csv_import_task) is csv_import_task


def test_an_unknown_task_name_is_an_error_not_a_silent_no_op():
    from celery.exceptions import NotRegistered

    with pytest.raises(NotRegistered):
        registered_task("leads.tasks.no_such_task")
    assert send_task_safely("leads.tasks.no_such_task") is False
