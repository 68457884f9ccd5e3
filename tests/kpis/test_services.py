"""Saving a plan as targets (one per KPI per period, with monthly and weekly breakdown), spend, KSFs,
the review log — and that bad input changes nothing."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from kpis import selectors, services
from kpis.models import ChannelSpend, Kgi, KpiTarget, Ksf, ReviewLogEntry
from kpis.periods import Period
from kpis.planning import ChannelInput, PlanInputs
from tenants.context import tenant_scope
from tenants.models import AuditEvent

pytestmark = pytest.mark.django_db
D = Decimal
YEAR = Period("year", dt.date(2026, 4, 1))


def seed_plan(**overrides) -> PlanInputs:
    values = {
        "company_revenue": D("5000000000"),
        "web_share_percent": D("1"),
        "avg_deal_size": D("1250000"),
        "win_rate": D("10"),
        "sql_to_opportunity_rate": D("50"),
        "mql_to_sql_rate": D("20"),
        "lead_to_mql_rate": D("20"),
        "channels": [ChannelInput("webinar", D("40"), D("12500")), ChannelInput("seo", D("60"), D("3000"))],
    }
    values.update(overrides)
    return PlanInputs(**values)


def target(kpi, kind, start, channel=""):
    return KpiTarget.objects.get(kpi=kpi, channel=channel, period_type=kind, period_start=start).target_value


class TestPlanSave:
    def test_the_seed_plan_becomes_targets(self, tenant, users):
        with tenant_scope(tenant.id):
            kgi = services.plan_save(period=YEAR, inputs=seed_plan(), actor=users["marketing"], title="Web売上")
            assert kgi.target_value == D("50000000") and kgi.goal_type == "revenue"
            assert target("revenue", "year", YEAR.start) == D("50000000")  # ¥50億 × 1 %
            assert target("revenue", "quarter", dt.date(2026, 4, 1)) == D("12500000")  # ¥1,250万 a quarter
            assert target("won_deals", "year", YEAR.start) == 40
            assert target("opportunities", "year", YEAR.start) == 400
            assert target("mqls", "year", YEAR.start) == 4000 and target("leads", "year", YEAR.start) == 20000
            assert target("win_rate", "month", dt.date(2026, 7, 1)) == 10  # rates repeat
            assert target("leads", "year", YEAR.start, channel="webinar") == 8000
            assert target("spend", "year", YEAR.start, channel="webinar") == D("100000000")
            months = KpiTarget.objects.filter(kpi="revenue", channel="", period_type="month")
            assert months.count() == 12 and sum(t.target_value for t in months) == D("50000000")
            weeks = KpiTarget.objects.filter(kpi="revenue", channel="", period_type="week")
            assert weeks.count() == 53
            assert abs(sum(t.target_value for t in weeks) - D("50000000")) < D("0.01")
            assert AuditEvent.objects.filter(action="kpis.plan_saved").count() == 1

    def test_saving_again_replaces_the_plan(self, tenant, users):
        with tenant_scope(tenant.id):
            services.plan_save(period=YEAR, inputs=seed_plan(), actor=None)
            services.plan_save(period=YEAR, inputs=seed_plan(web_share_percent=D("2"), channels=[]), actor=None)
            assert Kgi.objects.count() == 1
            assert target("revenue", "quarter", dt.date(2026, 10, 1)) == D("25000000")
            assert not KpiTarget.objects.filter(channel="webinar").exists()  # removed channel, removed targets

    def test_manual_targets_survive_a_new_plan(self, tenant):
        with tenant_scope(tenant.id):
            services.target_set(kpi="email_open_rate", period=YEAR, value=D(20), actor=None)
            services.plan_save(period=YEAR, inputs=seed_plan(), actor=None)
            assert target("email_open_rate", "year", YEAR.start) == 20

    def test_weeks_straddling_two_planned_years_get_both_parts(self, tenant):
        with tenant_scope(tenant.id):
            services.plan_save(period=Period("year", dt.date(2025, 4, 1)), inputs=seed_plan(), actor=None)
            services.plan_save(period=YEAR, inputs=seed_plan(), actor=None)
            week = dt.date(2026, 3, 30)  # Mon Mar 30 – Sun Apr 5
            expected = D("50000000") / 12 / 31 * 2 + D("50000000") / 12 / 30 * 5
            assert abs(target("revenue", "week", week) - expected) < D("0.001")

    def test_invalid_plan_saves_nothing(self, tenant):
        with tenant_scope(tenant.id):
            with pytest.raises(ValidationError) as error:
                services.plan_save(period=YEAR, inputs=seed_plan(win_rate=D(0)), actor=None)
            assert "win_rate" in error.value.message_dict
            assert not Kgi.objects.exists() and not KpiTarget.objects.exists()

    def test_weeks_cannot_be_planned(self, tenant):
        with tenant_scope(tenant.id), pytest.raises(ValidationError):
            services.plan_save(period=Period("week", dt.date(2026, 6, 1)), inputs=seed_plan(), actor=None)

    def test_one_target_per_kpi_and_period_is_enforced_by_the_database(self, tenant):
        with tenant_scope(tenant.id):
            services.target_set(kpi="mqls", period=YEAR, value=D(10), actor=None)
            with pytest.raises(IntegrityError), transaction.atomic():
                KpiTarget.objects.create(kpi="mqls", period_type="year", period_start=YEAR.start, target_value=1)

    def test_targets_of_the_current_period_for_diagnostics(self, tenant):
        from django.utils import timezone

        with tenant_scope(tenant.id):
            services.plan_save(period=selectors.current_period("year"), inputs=seed_plan(), actor=None)
            summary = selectors.current_targets_summary(now=timezone.now())
        assert summary["shared_kpis_with_target"] == summary["shared_kpis_total"] == 5
        assert summary["targets"] >= 10


class TestOtherWrites:
    def test_spend(self, tenant, users):
        with tenant_scope(tenant.id):
            services.spend_save(entries=[("seo", dt.date(2026, 6, 15), D(120000))], actor=users["admin"])
            assert ChannelSpend.objects.get().month == dt.date(2026, 6, 1)
            services.spend_save(entries=[("seo", dt.date(2026, 6, 1), None)], actor=users["admin"])
            assert not ChannelSpend.objects.exists()
            with pytest.raises(ValidationError):
                services.spend_save(entries=[("seo", dt.date(2026, 6, 1), D(-1))], actor=None)

    def test_ksf(self, tenant, users):
        with tenant_scope(tenant.id):
            kgi = services.plan_save(period=YEAR, inputs=seed_plan(), actor=None)
            ksf = services.ksf_save(kgi=kgi, title="商談の質を高める", kpis=["mql_to_sql_rate"], actor=None)
            assert Ksf.objects.get().kpis == ["mql_to_sql_rate"]
            with pytest.raises(ValidationError):
                services.ksf_save(kgi=kgi, title="", kpis=[], actor=None)
            with pytest.raises(ValidationError):
                services.ksf_save(kgi=kgi, title="x", kpis=["nonsense"], actor=None)
            services.ksf_delete(ksf=ksf, actor=None)
            assert not Ksf.objects.exists()

    def test_review_log(self, tenant, other_tenant, users):
        from tests.factories import member

        outsider = member(other_tenant, "sales", email="outsider@rival.example")
        june = Period("month", dt.date(2026, 6, 1))
        with tenant_scope(tenant.id):
            entry = services.review_entry_create(
                period=june,
                kpi="mqls",
                finding="低下",
                action="MQL定義を見直す",
                owner=users["sales"],
                due_on=dt.date(2026, 7, 10),
                actor=users["marketing"],
            )
            services.review_entry_set_status(entry=entry, status="done", actor=users["sales"])
            assert ReviewLogEntry.objects.get().done_at is not None
            with pytest.raises(ValidationError) as error:
                services.review_entry_create(period=june, action="x", owner=outsider, actor=None)
            assert "owner" in error.value.message_dict
            with pytest.raises(ValidationError):
                services.review_entry_create(period=june, action="  ", actor=None)
            assert ReviewLogEntry.objects.count() == 1
            summary = selectors.review_log_summary(
                since=entry.created_at - dt.timedelta(days=1), until=entry.created_at + dt.timedelta(days=1)
            )
        assert summary["reviews"] == 1 and summary["latest"] == entry.created_at
