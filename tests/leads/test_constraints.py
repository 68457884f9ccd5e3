"""The database refuses timestamps outside 2000–2100 on the columns fed from outside: a value that
slipped past validation fails its write instead of making the tenant's data unreadable."""

import pytest
from django.db import IntegrityError, connection, transaction

from tenants.context import tenant_scope

from .factories import LeadFactory

pytestmark = pytest.mark.django_db

BAD = ["0001-01-01T00:30:00+01:00", "1999-12-31T23:59:59Z", "2100-01-01T00:00:00Z"]


def _execute(sql, params):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.mark.parametrize("value", BAD)
def test_an_activity_time_outside_2000_to_2100_is_refused_by_the_database(tenant, value):
    with tenant_scope(tenant.id):
        lead = LeadFactory()
        with pytest.raises(IntegrityError, match="activity_occurred_at_range"):
            _execute(
                "INSERT INTO leads_activity (tenant_id, lead_id, anonymous_id, user_id, type, occurred_at, url, "
                "campaign, properties, source, received_at) "
                "VALUES (%s, %s, '', '', 'page_view', %s::timestamptz, '', '', '{}', '', now())",
                [tenant.id, lead.pk, value],
            )


@pytest.mark.parametrize("column", ["first_seen_at", "last_activity_at", "stage_changed_at"])
def test_a_lead_time_outside_2000_to_2100_is_refused_by_the_database(tenant, column):
    with tenant_scope(tenant.id):
        lead = LeadFactory()
        with pytest.raises(IntegrityError, match=f"lead_{column}_range"):
            _execute(
                f"UPDATE leads_lead SET {column} = %s::timestamptz WHERE id = %s",
                ["0001-01-01T00:30:00+01:00", lead.pk],
            )
        _execute(f"UPDATE leads_lead SET {column} = NULL WHERE id = %s", [lead.pk])  # empty stays allowed


def test_feedback_times_and_close_dates_outside_the_range_are_refused_by_the_database(tenant):
    with tenant_scope(tenant.id):
        lead = LeadFactory()
        insert = (
            "INSERT INTO leads_leadfeedback (tenant_id, lead_id, outcome, reason, note, occurred_at, "
            "expected_close_on, created_at) VALUES (%s, %s, 'accepted', '', '', %s::timestamptz, %s::date, now())"
        )
        with pytest.raises(IntegrityError, match="feedback_occurred_at_range"):
            _execute(insert, [tenant.id, lead.pk, "1999-01-01T00:00:00Z", None])
        with pytest.raises(IntegrityError, match="feedback_expected_close_on_range"):
            _execute(insert, [tenant.id, lead.pk, "2026-01-01T00:00:00Z", "1999-12-31"])
        _execute(insert, [tenant.id, lead.pk, "2026-01-01T00:00:00Z", "2026-03-31"])


def test_the_migration_repairs_rows_written_before_the_constraints(tenant):
    """Rows from before the fix (year 1 BC) would make adding the constraints fail: the migration repairs them."""
    import importlib
    from types import SimpleNamespace

    from leads.models import Activity, Lead

    migration = importlib.import_module("leads.migrations.0006_event_time_ranges")
    with connection.cursor() as cursor:  # back to the state before the migration (rolled back after the test)
        cursor.execute("ALTER TABLE leads_activity DROP CONSTRAINT activity_occurred_at_range")
        cursor.execute("ALTER TABLE leads_lead DROP CONSTRAINT lead_last_activity_at_range")
    with tenant_scope(tenant.id):
        lead = LeadFactory()
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO leads_activity (tenant_id, lead_id, anonymous_id, user_id, type, occurred_at, url, "
                "campaign, properties, source, received_at) VALUES (%s, %s, '', '', 'page_view', "
                "'0001-01-01T00:30:00+01:00'::timestamptz, '', '', '{}', '', '2026-11-01T00:00:00Z')",
                [tenant.id, lead.pk],
            )
            cursor.execute(
                "UPDATE leads_lead SET last_activity_at = '0001-01-01T00:30:00+01:00'::timestamptz WHERE id = %s",
                [lead.pk],
            )
        migration.repair(None, SimpleNamespace(connection=connection))
        assert Activity.objects.get(lead=lead).occurred_at.isoformat() == "2026-11-01T00:00:00+00:00"
        assert Lead.objects.get(pk=lead.pk).last_activity_at.isoformat() == "2026-11-01T00:00:00+00:00"
