from datetime import UTC, datetime, timedelta

import pytest

from leads.models import Activity, Lead
from scoring import engine, services

AS_OF = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def as_of():
    return AS_OF


@pytest.fixture
def model(scoped):
    """The tenant's active model: the seed sheet."""
    return services.install_default_model()


@pytest.fixture
def make_lead(scoped):
    counter = {"n": 0}

    def make(**fields):
        counter["n"] += 1
        fields.setdefault("email", f"lead{counter['n']}@prospect.example.jp")
        return Lead.objects.create(**fields)

    return make


@pytest.fixture
def act(scoped):
    def add(lead, type_, *, days_ago: float = 1.0, at=None, **fields):
        occurred = at or (AS_OF - timedelta(days=days_ago))
        return Activity.objects.create(lead=lead, type=type_, occurred_at=occurred, **fields)

    return add


def score_both(spec, lead_ids, as_of=AS_OF):
    """Scores from the SQL engine and from the Python reference; asserts they agree."""
    python = {
        i: (s.behaviour, s.fit, s.total, s.segment) for i, s in engine.score_python(spec, lead_ids, as_of).items()
    }
    from django.db import connection

    from tenants.context import require_tenant_id

    query = engine.build_score_query(
        spec,
        tenant_id=require_tenant_id(),
        as_of=as_of,
        scope="{lead} = ANY(%(ids)s)",
        scope_params={"ids": list(lead_ids)},
    )
    with connection.cursor() as cursor:
        cursor.execute(query.sql, query.params)
        sql = {row[0]: tuple(row[1:]) for row in cursor.fetchall()}
    assert sql == python, f"SQL {sql} != Python {python}"
    return python
