"""Actuals computed from the data, against a hand-built tenant history in Asia/Tokyo.

June 2026 (JST) is the period under test; May is the period before. Leads on the edges:
L1 23:30 on May 31 (May), L2 00:30 on June 1 (June, although still May in UTC), L4 23:59 on June 30
(June), L5 00:00 on July 1 (July).
"""

import datetime as dt
from decimal import Decimal

import pytest

from kpis import rollups, selectors, services
from kpis.periods import Period
from tenants.context import tenant_scope
from tests.kpis.factories import activity, feedback, jst, lead, stage

pytestmark = pytest.mark.django_db
D = Decimal
JUNE = Period("month", dt.date(2026, 6, 1))
MAY = Period("month", dt.date(2026, 5, 1))


@pytest.fixture
def june(tenant, users):
    with tenant_scope(tenant.id):
        sales = users["sales"]
        l1 = lead(at=jst(2026, 5, 31, 23, 30), channel="webinar", campaign="wb-0531", owner=sales)
        l2 = lead(at=jst(2026, 6, 1, 0, 30), channel="webinar", campaign="wb-0601")
        l3 = lead(at=jst(2026, 6, 15), channel="seo")
        l4 = lead(at=jst(2026, 6, 30, 23, 59), channel="seo")
        l5 = lead(at=jst(2026, 7, 1, 0, 0), channel="seo")
        l6 = lead(at=jst(2026, 5, 10), channel="seo")
        stage(l1, "mql", jst(2026, 6, 2))
        feedback(l1, "accepted", jst(2026, 6, 5))
        feedback(l1, "opportunity", jst(2026, 6, 10))
        feedback(l1, "won", jst(2026, 6, 20), amount=3_000_000)
        stage(l2, "mql", jst(2026, 6, 3))
        stage(l2, "sql", jst(2026, 6, 30, 23, 50), "mql")
        stage(l3, "mql", jst(2026, 7, 1, 0, 10))
        stage(l6, "mql", jst(2026, 5, 20))
        stage(l6, "sql", jst(2026, 5, 25), "mql")
        for i, who in enumerate([l1, l2, l3, l4, l6] * 2):
            activity(who, "email_send", jst(2026, 6, 2, 9, i), campaign="news-0602")
        for who in (l1, l2, l3):
            activity(who, "email_open", jst(2026, 6, 2, 12), campaign="news-0602")
        activity(l1, "email_click", jst(2026, 6, 2, 13), campaign="news-0602")
        for who in (l1, l2, l3, l4):
            activity(who, "webinar_register", jst(2026, 6, 4))
        for who in (l1, l2, l3):
            activity(who, "webinar_attend", jst(2026, 6, 11))
        activity(l1, "survey_answer", jst(2026, 6, 11, 15))
        activity(l3, "download", jst(2026, 6, 16))
        activity(l4, "download", jst(2026, 6, 30, 23, 0))
        activity(l5, "download", jst(2026, 7, 1, 0, 5))  # July
        activity(l2, "form_submit", jst(2026, 6, 12))
        activity(l1, "demo_request", jst(2026, 6, 7))
        activity(l1, "meeting", jst(2026, 6, 8))
        activity(l2, "meeting", jst(2026, 5, 30))  # first meeting in May
        services.spend_save(
            entries=[("webinar", dt.date(2026, 6, 1), D(300000)), ("seo", dt.date(2026, 6, 1), D(150000))], actor=None
        )
        rollups.refresh(full=True)
        yield {"l1": l1, "l2": l2, "l3": l3, "sales": sales}


def test_funnel_of_june_in_tokyo(tenant, june):
    with tenant_scope(tenant.id):
        v = selectors.kpi_values(JUNE)
    assert v["leads"] == 3  # L2 (00:30 June 1), L3, L4 (23:59 June 30) — not L1 (May 31) nor L5 (July 1)
    assert v["mqls"] == 2 and v["sqls"] == 2 and v["opportunities"] == 1
    assert v["won_deals"] == 1 and v["revenue"] == D(3000000) and v["avg_deal_size"] == D(3000000)
    assert v["lead_to_mql_rate"].quantize(D("0.01")) == D("66.67")
    assert v["mql_to_sql_rate"] == 100 and v["sql_to_opportunity_rate"] == 50 and v["win_rate"] == 100


def test_nurturing_kpis(tenant, june):
    with tenant_scope(tenant.id):
        v = selectors.kpi_values(JUNE)
    assert v["email_open_rate"] == 30  # 3 opens ÷ 10 sends
    assert v["email_click_rate"] == 10
    assert v["webinar_attendance_rate"] == 75  # 3 ÷ 4
    assert v["survey_response_rate"].quantize(D("0.1")) == D("33.3")  # 1 answer ÷ 3 attendances
    assert v["downloads"] == 2  # the July one is not June
    assert v["document_requests"] == 2  # form + demo request
    assert v["meeting_rate"].quantize(D("0.1")) == D("33.3")  # L1's first meeting ÷ 3 leads
    assert v["nurture_days"].quantize(D("0.01")) == D("19.52")  # May 31 23:30 → June 20 12:00


def test_no_sends_means_no_open_rate(tenant, users):
    with tenant_scope(tenant.id):
        activity(lead(at=jst(2026, 6, 2)), "email_open", jst(2026, 6, 2))
        rollups.refresh(full=True)
        assert selectors.kpi_values(JUNE)["email_open_rate"] is None


def test_costs_from_entered_spend(tenant, june):
    with tenant_scope(tenant.id):
        v = selectors.kpi_values(JUNE)
        webinar = selectors.kpi_values(JUNE, selectors.Filters(channel="webinar"))
        by_campaign = selectors.kpi_values(JUNE, selectors.Filters(campaign="wb-0601"))
    assert v["spend"] == D(450000) and v["cpa"] == D(150000)
    assert v["cost_per_sql"] == D(225000) and v["cost_per_won"] == D(450000)
    assert webinar["spend"] == D(300000) and webinar["cpa"] == D(300000)
    assert by_campaign["spend"] is None  # spend is per channel


def test_filters(tenant, june):
    with tenant_scope(tenant.id):
        webinar = selectors.kpi_values(JUNE, selectors.Filters(channel="webinar"))
        owner = selectors.kpi_values(JUNE, selectors.Filters(owner_id=june["sales"].pk))
        unassigned = selectors.kpi_values(JUNE, selectors.Filters(owner_id=0))
        both = selectors.kpi_values(JUNE, selectors.Filters(channel="webinar", owner_id=june["sales"].pk))
        news = selectors.kpi_values(JUNE, selectors.Filters(campaign="news-0602"))
    assert (webinar["leads"], webinar["mqls"], webinar["won_deals"]) == (1, 2, 1)
    assert (owner["mqls"], owner["sqls"], owner["won_deals"]) == (1, 1, 1)
    assert unassigned["leads"] == 3 and unassigned["won_deals"] == 0
    assert both["revenue"] == D(3000000)
    assert news["email_open_rate"] == 30  # an email campaign: its sends and opens


def test_channel_and_campaign_tables(tenant, june):
    with tenant_scope(tenant.id):
        by_channel = selectors.totals_by(JUNE, "channel")
        data = selectors.dashboard(JUNE)
    assert by_channel["webinar"]["won"] == (1, D(3000000))
    assert by_channel["seo"]["lead"][0] == 2
    rows = {r["key"]: r for r in data.channels}
    assert rows["webinar"]["cpa"] == D(300000) and rows["seo"]["cost_per_sql"] is None


def test_channel_rows_are_labelled_even_for_channels_the_tenant_does_not_define(tenant, june):
    from django.utils import translation

    from leads.models import Channel

    with tenant_scope(tenant.id):
        # The tenant edits its list: webinar is renamed, seo is left out (older leads still carry it).
        Channel.objects.create(key="webinar", label="オンラインセミナー", position=0)
        with translation.override("ja"):
            rows = {r["key"]: r["label"] for r in selectors.dashboard(JUNE).channels}
        with translation.override("en"):
            english = {r["key"]: r["label"] for r in selectors.dashboard(JUNE).channels}
    assert rows["webinar"] == "オンラインセミナー"
    assert (rows["seo"], english["seo"]) == ("SEO・自然検索", "SEO / organic search")


def test_week_and_quarter(tenant, june):
    with tenant_scope(tenant.id):
        week = selectors.kpi_values(Period("week", dt.date(2026, 6, 1)))
        quarter = selectors.kpi_values(Period("quarter", dt.date(2026, 4, 1)))
    assert week["leads"] == 1 and week["mqls"] == 2  # Mon June 1 – Sun June 7
    assert quarter["leads"] == 5 and quarter["mqls"] == 3


def test_changes_in_points_and_percent(tenant, june):
    with tenant_scope(tenant.id):
        data = selectors.dashboard(JUNE)
    lead_to_mql = data.lines["lead_to_mql_rate"]  # May: 1 MQL ÷ 2 leads = 50 %; June 66.7 %
    assert lead_to_mql.change_unit == "pt" and lead_to_mql.change.quantize(D("0.1")) == D("16.7")
    assert lead_to_mql.good is True
    leads = data.lines["leads"]  # 2 → 3
    assert leads.change_unit == "%" and leads.change == 50
    cpa = data.lines["cpa"]
    assert cpa.previous is None and cpa.change is None  # no spend in May


def test_targets_attainment_and_derived_periods(tenant, june):
    with tenant_scope(tenant.id):
        services.target_set(kpi="mqls", period=JUNE, value=D(4), actor=None)
        services.target_set(kpi="mqls", period=MAY, value=D(2), actor=None)
        services.target_set(kpi="mqls", period=Period("month", dt.date(2026, 4, 1)), value=D(1), actor=None)
        services.target_set(kpi="cpa", period=Period("year", dt.date(2026, 4, 1)), value=D(100000), actor=None)
        data = selectors.dashboard(JUNE)
        quarter = selectors.targets(Period("quarter", dt.date(2026, 4, 1)))
    assert data.lines["mqls"].attainment == 50
    assert data.lines["cpa"].target == D(100000)  # a rate-like KPI inherits the year's target
    assert data.lines["cpa"].attainment.quantize(D("0.1")) == D("66.7")  # lower is better: 100,000 ÷ 150,000
    assert quarter["mqls"] == 7  # additive: the sum of its months


def test_lifetime_value(tenant, june):
    with tenant_scope(tenant.id):
        feedback(june["l1"], "won", jst(2026, 6, 25), amount=1_000_000)  # a second deal, same customer
        rollups.refresh(full=True)
        assert selectors.dashboard(JUNE).ltv == D(4000000)


def test_measured_rates_need_enough_history(tenant, june):
    with tenant_scope(tenant.id):
        rates = selectors.measured_rates(today=dt.date(2026, 7, 15), minimum=2)
        strict = selectors.measured_rates(today=dt.date(2026, 7, 15), minimum=30)
    assert rates["mql_to_sql_rate"]["value"] == D("100.0") and rates["mql_to_sql_rate"]["enough"]
    assert not strict["mql_to_sql_rate"]["enough"]
