"""Review rules: the seed's defaults, firing exactly once per occurrence, notifying the chosen roles."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core import mail

from kpis import alerts, rollups, services
from kpis.models import ReviewAlert, ReviewRule, RuleKind
from kpis.periods import Period
from tenants.context import tenant_scope
from tenants.models import Notification
from tests.kpis.factories import jst, lead, stage

pytestmark = pytest.mark.django_db
D = Decimal


def month(y, m):
    return Period("month", dt.date(y, m, 1))


def mqls(count, y, m, d=10):
    for i in range(count):
        stage(lead(at=jst(y, m, d)), "mql", jst(y, m, d, 12, i))


@pytest.fixture
def history(tenant, users):
    """MQLs: Apr 10, May 6, Jun 5, Jul 5 against a target of 8 a month from May."""
    with tenant_scope(tenant.id):
        for (y, m), n in {(2026, 4): 10, (2026, 5): 6, (2026, 6): 5, (2026, 7): 5}.items():
            mqls(n, y, m)
            if m >= 5:
                services.target_set(kpi="mqls", period=month(y, m), value=D(8), actor=None)
        rollups.refresh(full=True)
    return tenant


def only_rule(kind):
    ReviewRule.objects.exclude(kind=kind).update(is_active=False)


def test_defaults_are_the_seed_rules(tenant):
    with tenant_scope(tenant.id):
        rules = services.review_rules_ensure_defaults()
        assert {(r.kind, r.period_type, r.consecutive_periods) for r in rules if r.kind == RuleKind.MISSED} == {
            ("missed", "month", 2)
        }
        assert [r.change_percent for r in rules if r.kind == RuleKind.MOVED] == [D(20)]
        assert services.review_rules_ensure_defaults() == rules  # once


def test_missed_two_months_fires_once(history, users, django_capture_on_commit_callbacks):
    with tenant_scope(history.id):
        services.review_rules_ensure_defaults()
        only_rule(RuleKind.MISSED)
        with django_capture_on_commit_callbacks(execute=True):
            fired = alerts.evaluate(today=dt.date(2026, 7, 3))  # closed: May (6 < 8), June (5 < 8)
        assert [(a.kpi, a.occurrence_start) for a in fired] == [("mqls", dt.date(2026, 5, 1))]
        assert alerts.evaluate(today=dt.date(2026, 7, 3)) == []  # a retry fires nothing
        assert alerts.evaluate(today=dt.date(2026, 8, 2)) == []  # the same streak, now 3 months: still once
        assert ReviewAlert.objects.count() == 1
        notified = set(Notification.objects.filter(kind="kpi_review").values_list("recipient__email", flat=True))
    assert notified == {users[r].email for r in ("admin", "marketing", "sales")}  # not the viewer
    assert len(mail.outbox) == 3


def test_a_new_streak_fires_again(history):
    with tenant_scope(history.id):
        services.review_rules_ensure_defaults()
        only_rule(RuleKind.MISSED)
        alerts.evaluate(today=dt.date(2026, 7, 3))
        mqls(9, 2026, 8)  # August hits the target
        mqls(1, 2026, 9)
        mqls(1, 2026, 10)
        for m in (8, 9, 10):
            services.target_set(kpi="mqls", period=month(2026, m), value=D(8), actor=None)
        rollups.refresh(full=True)
        fired = alerts.evaluate(today=dt.date(2026, 11, 1))
        assert [(a.kpi, a.occurrence_start) for a in fired] == [("mqls", dt.date(2026, 9, 1))]


def test_one_missed_month_is_not_enough(history):
    with tenant_scope(history.id):
        services.review_rules_ensure_defaults()
        only_rule(RuleKind.MISSED)
        assert alerts.evaluate(today=dt.date(2026, 6, 3)) == []  # only May closed below target


def test_moved_twenty_percent_fires_once_per_period(history):
    with tenant_scope(history.id):
        services.review_rules_ensure_defaults()
        only_rule(RuleKind.MOVED)
        fired = alerts.evaluate(today=dt.date(2026, 6, 2))  # May 6 vs April 10: −40 % (inquiries and MQLs)
        assert sorted((a.kpi, a.data["change_percent"]) for a in fired) == [("leads", "-40.0"), ("mqls", "-40.0")]
        assert alerts.evaluate(today=dt.date(2026, 6, 20)) == []
        assert alerts.evaluate(today=dt.date(2026, 7, 2)) == []  # June 5 vs May 6: −16.7 %, under 20 %


def test_rules_are_editable(history, users):
    with tenant_scope(history.id):
        services.review_rules_ensure_defaults()
        rule = ReviewRule.objects.get(kind=RuleKind.MOVED)
        services.review_rule_update(
            rule=rule,
            actor=users["admin"],
            is_active=True,
            period_type="month",
            consecutive_periods=2,
            change_percent=D(50),
            kpis=["mqls"],
            notify_roles=["sales"],
        )
        only_rule(RuleKind.MOVED)
        assert alerts.evaluate(today=dt.date(2026, 6, 2)) == []  # −40 % is under the new 50 % (and only MQLs)
        services.review_rule_update(
            rule=rule,
            actor=users["admin"],
            is_active=True,
            period_type="month",
            consecutive_periods=2,
            change_percent=D(30),
            kpis=["mqls"],
            notify_roles=["sales"],
        )
        assert len(alerts.evaluate(today=dt.date(2026, 6, 2))) == 1
        recipients = set(Notification.objects.values_list("recipient__email", flat=True))
    assert recipients == {users["sales"].email}


def test_inactive_rules_do_not_fire(history):
    with tenant_scope(history.id):
        services.review_rules_ensure_defaults()
        ReviewRule.objects.update(is_active=False)
        assert alerts.evaluate(today=dt.date(2026, 7, 3)) == []


def test_alert_texts_in_japanese(history):
    from django.utils import translation

    with tenant_scope(history.id):
        services.review_rules_ensure_defaults()
        only_rule(RuleKind.MISSED)
        alert = alerts.evaluate(today=dt.date(2026, 7, 3))[0]
        with translation.override("ja"):
            title, body = alerts.alert_text(alert)
    assert title == "KPIの見直し: MQL数が2期連続で目標未達です"
    assert "2026年6月" in body and "実績 5" in body and "目標 8" in body


def test_fan_out_tasks_run_per_tenant(history, other_tenant):
    from kpis import tasks

    with tenant_scope(history.id):
        services.review_rules_ensure_defaults()
    assert tasks.fan_out_review_alerts() == 2
    assert tasks.fan_out_rollup_refresh() >= 1
