"""Reverse calculation: the seeds' worked examples exactly, and every bad input as a clear message."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import translation

from kpis.periods import Period
from kpis.planning import (
    ChannelInput,
    PlanInputs,
    breakdown,
    channel_budget,
    revenue_from_share,
    reverse_plan,
    split_evenly,
    upstream,
    wins_needed,
)

D = Decimal


def plan(**overrides) -> PlanInputs:
    values = {
        "revenue_target": D("50000000"),
        "avg_deal_size": D("2500000"),
        "win_rate": D("10"),
        "sql_to_opportunity_rate": D("10"),
        "mql_to_sql_rate": D("20"),
        "lead_to_mql_rate": D("25"),
    }
    values.update(overrides)
    return PlanInputs(**values)


class TestSeedExamples:
    def test_ten_wins_at_ten_percent_need_one_hundred_opportunities(self):
        assert upstream(10, D("10")) == 100

    def test_one_hundred_opportunities_at_ten_percent_need_one_thousand_leads_before(self):
        assert upstream(100, D("10")) == 1000

    def test_the_whole_chain_from_ten_won_deals(self):
        result = reverse_plan(
            PlanInputs(
                goal_type="won_deals",
                won_deals_target=D(10),
                win_rate=D(10),
                sql_to_opportunity_rate=D(10),
                mql_to_sql_rate=D(50),
                lead_to_mql_rate=D(20),
            )
        )
        assert result.ok
        assert (result.won_deals, result.opportunities, result.sqls) == (10, 100, 1000)
        assert (result.mqls, result.leads) == (2000, 10000)

    def test_fifty_oku_company_target_one_percent_from_the_web_is_5000_man(self):
        assert revenue_from_share(D("5000000000"), D("1")) == D("50000000")

    def test_5000_man_a_year_is_1250_man_a_quarter(self):
        assert split_evenly(D("50000000"), 4) == D("12500000")
        year = Period("year", dt.date(2026, 4, 1))
        quarters = breakdown(D("50000000"), year, "quarter")
        assert [amount for _p, amount in quarters] == [D("12500000")] * 4
        assert [p.start for p, _a in quarters] == [
            dt.date(2026, 4, 1),
            dt.date(2026, 7, 1),
            dt.date(2026, 10, 1),
            dt.date(2027, 1, 1),
        ]

    def test_plan_from_company_target_and_web_share(self):
        result = reverse_plan(plan(revenue_target=None, company_revenue=D("5000000000"), web_share_percent=D("1")))
        assert result.revenue == D("50000000")
        assert result.won_deals == 20  # ¥5,000万 ÷ ¥250万


class TestChain:
    def test_counts_round_up_at_every_step(self):
        result = reverse_plan(
            plan(
                revenue_target=D("12500000"),
                avg_deal_size=D("1500000"),
                win_rate=D("30"),
                sql_to_opportunity_rate=D("33"),
                mql_to_sql_rate=D("30"),
                lead_to_mql_rate=D("7"),
            )
        )
        assert result.won_deals == 9  # 8.33 → 9
        assert result.opportunities == 30  # 9 ÷ 0.3
        assert result.sqls == 91  # 30 ÷ 0.33 = 90.9
        assert result.mqls == 304  # 91 ÷ 0.3 = 303.3
        assert result.leads == 4343  # 304 ÷ 0.07 = 4342.9

    def test_channels_split_the_leads_and_the_budget(self):
        result = reverse_plan(
            plan(
                win_rate=D(20),
                sql_to_opportunity_rate=D(50),
                mql_to_sql_rate=D(40),
                lead_to_mql_rate=D(50),
                channels=[ChannelInput("webinar", D("40"), D("12500")), ChannelInput("seo", D("60"), D("3000"))],
            )
        )
        assert (result.won_deals, result.opportunities, result.sqls, result.mqls) == (20, 100, 200, 500)
        assert result.leads == 1000
        by_channel = {c.channel: c for c in result.channels}
        assert by_channel["webinar"].leads == 400 and by_channel["webinar"].budget == D("5000000")
        assert by_channel["seo"].leads == 600 and by_channel["seo"].budget == D("1800000")
        assert result.budget == D("6800000")
        assert channel_budget(400, D("12500")) == D("5000000")

    def test_targets_of_a_plan(self):
        targets = reverse_plan(plan()).targets()
        assert targets["revenue"] == D("50000000") and targets["won_deals"] == 20
        assert targets["win_rate"] == D("10") and "spend" not in targets

    def test_mql_to_opportunity_rate_is_the_seed_s_opportunity_rate(self):
        result = reverse_plan(plan(mql_to_sql_rate=D("50"), sql_to_opportunity_rate=D("20")))
        assert result.mql_to_opportunity_rate == D("10")

    def test_inputs_survive_a_json_round_trip(self):
        inputs = plan(channels=[ChannelInput("seo", D("100"), D("3000"), label="SEO")])
        assert PlanInputs.from_json(inputs.to_json()) == inputs

    def test_wins_needed(self):
        assert wins_needed(D("12500000"), D("1250000")) == 10
        assert wins_needed(D("12500001"), D("1250000")) == 11


class TestBadInput:
    @pytest.mark.parametrize("rate", ["win_rate", "sql_to_opportunity_rate", "mql_to_sql_rate", "lead_to_mql_rate"])
    def test_zero_rate_is_a_message_not_a_crash(self, rate):
        with translation.override("en"):
            result = reverse_plan(plan(**{rate: D("0")}))
        assert not result.ok
        assert "0 %" in result.errors[rate]
        assert result.leads is None  # everything above the bad step reads "—"

    def test_missing_rate_names_the_input(self):
        with translation.override("en"):
            result = reverse_plan(plan(win_rate=None))
        assert result.errors["win_rate"] == "Enter the win rate."
        assert result.won_deals == 20 and result.opportunities is None

    def test_messages_are_in_japanese_for_japanese_users(self):
        with translation.override("ja"):
            result = reverse_plan(plan(mql_to_sql_rate=D("0")))
        assert "MQL→SQL転換率" in result.errors["mql_to_sql_rate"]
        assert "0%" in result.errors["mql_to_sql_rate"]

    def test_rate_above_100_percent(self):
        assert "100" in reverse_plan(plan(win_rate=D("120"))).errors["win_rate"]

    def test_missing_or_zero_deal_size_and_revenue(self):
        assert "avg_deal_size" in reverse_plan(plan(avg_deal_size=None)).errors
        assert "avg_deal_size" in reverse_plan(plan(avg_deal_size=D(0))).errors
        assert "revenue_target" in reverse_plan(plan(revenue_target=None)).errors
        assert "revenue_target" in reverse_plan(plan(revenue_target=D(-5))).errors

    def test_company_target_without_a_share(self):
        result = reverse_plan(plan(revenue_target=None, company_revenue=D("5000000000")))
        assert "web_share_percent" in result.errors

    def test_absurd_rates_do_not_explode(self):
        result = reverse_plan(plan(revenue_target=D("900000000000000"), avg_deal_size=D(1), win_rate=D("0.0001")))
        assert "win_rate" in result.errors

    def test_channel_shares_must_add_up_to_100(self):
        with translation.override("en"):
            result = reverse_plan(
                plan(channels=[ChannelInput("a", D("50"), D(1000)), ChannelInput("b", D("30"), D(1))])
            )
        assert result.errors["channels"] == "Channel shares add up to 80 %; make them add up to 100 %."

    def test_channel_without_cpa_is_left_out_of_the_budget_with_a_warning(self):
        result = reverse_plan(plan(channels=[ChannelInput("a", D("50"), D(1000)), ChannelInput("b", D("50"), None)]))
        assert result.ok and result.leads == 40000 and result.budget == D(20000000)
        assert result.warnings


class TestBreakdown:
    def test_months_and_weeks_add_up_to_the_year(self):
        year = Period("year", dt.date(2026, 4, 1))
        months = breakdown(D("50000000"), year, "month")
        weeks = breakdown(D("50000000"), year, "week")
        assert len(months) == 12 and abs(sum(a for _p, a in months) - D("50000000")) < D("0.0001")
        assert abs(sum(a for _p, a in weeks) - D("50000000")) < D("0.0001")
        # The first week straddles the fiscal year start (Mon 2026/03/30): only Apr 1–5 count.
        first_week, first_amount = weeks[0]
        assert first_week.start == dt.date(2026, 3, 30)
        assert first_amount == D("50000000") / 12 / 30 * 5
