"""Pages, htmx fragments, role checks, bad input (400, clear message, nothing saved) and CSV exports."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest

from kpis import rollups, services
from kpis.models import ChannelSpend, Kgi, KpiTarget, Ksf, ReviewLogEntry, ReviewRule
from kpis.periods import Period
from tenants.context import tenant_scope
from tests.kpis.factories import activity, feedback, jst, lead, stage

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def data(tenant, users):
    with tenant_scope(tenant.id):
        a = lead(
            at=jst(2026, 6, 3),
            channel="webinar",
            campaign='=HYPERLINK("http://evil")',
            owner=users["sales"],
            name="見込 花子",
            segment="hot",
            stage="mql",
        )
        b = lead(at=jst(2026, 6, 4), channel="seo", campaign="-seo-blog")
        stage(b, "mql", jst(2026, 6, 5))
        feedback(a, "won", jst(2026, 6, 20), amount=2_000_000)
        activity(a, "email_send", jst(2026, 6, 2))
        activity(a, "email_open", jst(2026, 6, 2))
        rollups.refresh(full=True)
    return tenant


def url(tenant, name, query=""):
    return f"/t/{tenant.slug}/kpis/{name}" + (f"?{query}" if query else "")


def planner_post(**overrides):
    values = {
        "period": "year",
        "date": "2026-04-01",
        "title": "Web売上",
        "goal_type": "revenue",
        "revenue_target": "",
        "company_revenue": "50億",
        "web_share_percent": "1",
        "won_deals_target": "",
        "avg_deal_size": "125万",
        "win_rate": "10",
        "sql_to_opportunity_rate": "50",
        "mql_to_sql_rate": "20",
        "lead_to_mql_rate": "20",
    }
    values.update(overrides)
    return values


class TestPages:
    @pytest.mark.parametrize("role", ["admin", "marketing", "sales", "viewer"])
    @pytest.mark.parametrize(
        "page", ["dashboard/", "dashboard/review/", "planner/", "tree/", "targets/", "spend/", "rules/"]
    )
    def test_every_member_can_read(self, data, users, client_for, role, page):
        response = client_for(users[role]).get(url(data, page))
        assert response.status_code == 200

    def test_dashboard_shows_the_shared_kpis_and_charts(self, data, users, client_for):
        html = client_for(users["viewer"]).get(url(data, "dashboard/", "period=month&date=2026-06-15")).content.decode()
        assert "問い合わせ・MQL" in html and "SQL化率" in html and "受注金額" in html
        assert 'data-chart="funnel"' in html and 'type="application/json"' in html
        assert "200万円" in html  # revenue won in 万
        assert "見込 花子" in html  # hot lead awaiting follow-up
        assert "style=" not in html.split("<body", 1)[1]  # CSP: no inline styles in the page body
        assert "<script>" not in html

    def test_dashboard_htmx_returns_only_the_panels(self, data, users, client_for):
        response = client_for(users["viewer"]).get(
            url(data, "dashboard/", "period=week&channel=seo"), HTTP_HX_REQUEST="true"
        )
        html = response.content.decode()
        assert response.status_code == 200
        assert html.lstrip().startswith('<div id="dashboard-panels"') and "<html" not in html

    @pytest.mark.parametrize(
        "query", ["period=decade", "date=2026-13-45", "owner=999999", "owner=abc", "channel=" + "x" * 41]
    )
    def test_bad_filters_answer_400_with_a_message(self, data, users, client_for, query):
        response = client_for(users["viewer"]).get(url(data, "dashboard/", query))
        assert response.status_code == 400
        assert "代わりに今月の数値を条件なしで表示しています" in response.content.decode()

    def test_owner_filter_accepts_members_only(self, data, users, client_for):
        ok = client_for(users["viewer"]).get(url(data, "dashboard/", f"owner={users['sales'].pk}"))
        assert ok.status_code == 200


class TestPlanner:
    def test_live_calculation_returns_the_tree(self, data, users, client_for):
        response = client_for(users["marketing"]).post(
            url(data, "planner/calculate/"), planner_post(), HTTP_HX_REQUEST="true"
        )
        html = response.content.decode()
        assert response.status_code == 200
        assert html.lstrip().startswith('<section id="plan-result"')
        assert "5,000万円" in html  # ¥50億 × 1 %
        assert "1,250万円" in html  # a quarter
        assert "40<" in html  # won deals: ¥5,000万 ÷ ¥125万
        assert 'hx-swap-oob="true"' in html  # the field error slots are refreshed too

    def test_zero_rate_is_a_400_with_the_message_next_to_the_field(self, data, users, client_for):
        response = client_for(users["marketing"]).post(
            url(data, "planner/calculate/"), planner_post(win_rate="0"), HTTP_HX_REQUEST="true"
        )
        html = response.content.decode()
        assert response.status_code == 400
        assert 'id="err-win_rate"' in html and "受注率は0%より大きくしてください" in html

    def test_english_messages(self, data, users, client_for):
        users["marketing"].language = "en"
        users["marketing"].save()
        response = client_for(users["marketing"]).post(
            url(data, "planner/calculate/"), planner_post(avg_deal_size="abc"), HTTP_HX_REQUEST="true"
        )
        assert response.status_code == 400
        assert "Enter a number, e.g. 5000万 or 12,500,000." in response.content.decode()

    def test_save_sets_the_targets(self, data, users, client_for):
        response = client_for(users["marketing"]).post(url(data, "planner/save/"), planner_post())
        assert response.status_code == 302 and "/kpis/tree/" in response["Location"]
        with tenant_scope(data.id):
            assert Kgi.objects.get().target_value == D("50000000")
            quarter = KpiTarget.objects.get(
                kpi="revenue", channel="", period_type="quarter", period_start=dt.date(2026, 4, 1)
            )
            assert quarter.target_value == D("12500000")

    def test_bad_plan_is_not_saved(self, data, users, client_for):
        response = client_for(users["marketing"]).post(url(data, "planner/save/"), planner_post(mql_to_sql_rate=""))
        assert response.status_code == 400
        html = response.content.decode()
        assert "計画は保存されませんでした" in html and "MQL→SQL転換率を入力してください" in html
        with tenant_scope(data.id):
            assert not Kgi.objects.exists() and not KpiTarget.objects.exists()

    @pytest.mark.parametrize("role", ["sales", "viewer"])
    def test_only_planners_may_calculate_or_save(self, data, users, client_for, role):
        client = client_for(users[role])
        assert client.post(url(data, "planner/calculate/"), planner_post()).status_code == 403
        assert client.post(url(data, "planner/save/"), planner_post()).status_code == 403

    def test_planner_shows_the_saved_plan(self, data, users, client_for):
        client_for(users["admin"]).post(url(data, "planner/save/"), planner_post())
        html = client_for(users["viewer"]).get(url(data, "planner/", "period=year&date=2026-04-01")).content.decode()
        assert 'value="50億"' in html and "保存済みの計画" in html


class TestTreeTargetsSpendRules:
    def test_ksf_lifecycle(self, data, users, client_for):
        client = client_for(users["marketing"])
        client.post(url(data, "planner/save/"), planner_post())
        period = {"period": "year", "date": "2026-04-01"}
        response = client.post(
            url(data, "tree/ksf/"),
            {**period, "new-title": "商談の質を高める", "new-kpis": ["mql_to_sql_rate", "opportunities"]},
        )
        assert response.status_code == 302
        with tenant_scope(data.id):
            ksf = Ksf.objects.get()
        html = client.get(url(data, "tree/", "period=year&date=2026-04-01")).content.decode()
        assert "商談の質を高める" in html and "SQL化率(MQL→SQL)" in html
        client.post(url(data, f"tree/ksf/{ksf.pk}/delete/"))
        with tenant_scope(data.id):
            assert not Ksf.objects.exists()

    def test_manual_target_and_bad_value(self, data, users, client_for):
        client = client_for(users["admin"])
        q = "period=month&date=2026-06-01"
        assert client.post(url(data, "targets/", q), {"kpi": "email_open_rate", "value": "20"}).status_code == 302
        bad = client.post(url(data, "targets/", q), {"kpi": "email_open_rate", "value": "120"})
        assert bad.status_code == 400 and "率の目標は100%以下です" in bad.content.decode()
        with tenant_scope(data.id):
            assert KpiTarget.objects.get().target_value == 20

    def test_spend_grid(self, data, users, client_for):
        client = client_for(users["marketing"])
        q = "period=year&date=2026-04-01"
        name = "spend__seo__2026-06"
        assert client.post(url(data, "spend/", q), {name: "12万"}).status_code == 302
        bad = client.post(url(data, "spend/", q), {name: "たくさん"})
        assert bad.status_code == 400 and "数値を入力してください" in bad.content.decode()
        with tenant_scope(data.id):
            assert ChannelSpend.objects.get().amount == D(120000)
        assert client_for(users["sales"]).post(url(data, "spend/", q), {name: "1"}).status_code == 403

    def test_rules_and_settings(self, data, users, client_for):
        client = client_for(users["admin"])
        client.get(url(data, "rules/"))
        with tenant_scope(data.id):
            rule = ReviewRule.objects.get(kind="missed")
        prefix = f"rule{rule.pk}"
        response = client.post(
            url(data, "rules/"),
            {
                "rule": rule.pk,
                f"{prefix}-is_active": "on",
                f"{prefix}-period_type": "month",
                f"{prefix}-consecutive_periods": "3",
                f"{prefix}-change_percent": "20",
                f"{prefix}-notify_roles": ["admin"],
            },
        )
        assert response.status_code == 302
        bad = client.post(
            url(data, "rules/"),
            {
                "rule": rule.pk,
                f"{prefix}-period_type": "month",
                f"{prefix}-consecutive_periods": "99",
                f"{prefix}-change_percent": "20",
            },
        )
        assert bad.status_code == 400
        with tenant_scope(data.id):
            assert ReviewRule.objects.get(pk=rule.pk).consecutive_periods == 3
        assert (
            client.post(
                url(data, "rules/"), {"form": "settings", "fiscal_year_start_month": "1", "follow_up_hours": "24"}
            ).status_code
            == 302
        )
        assert client_for(users["viewer"]).post(url(data, "rules/"), {"form": "settings"}).status_code == 403


class TestReviewMeeting:
    def test_record_a_decision_and_close_it(self, data, users, client_for):
        client = client_for(users["sales"])
        q = "period=month&date=2026-06-01"
        response = client.post(
            url(data, "dashboard/review/", q),
            {
                "kpi": "mqls",
                "finding": "MQLが減った",
                "action": "展示会リードのフォローを増やす",
                "owner": users["sales"].pk,
                "due_on": "2026-07-10",
            },
        )
        assert response.status_code == 302
        with tenant_scope(data.id):
            entry = ReviewLogEntry.objects.get()
        assert entry.period_start == dt.date(2026, 6, 1) and entry.owner == users["sales"]
        html = client.get(url(data, "dashboard/review/", q)).content.decode()
        assert "展示会リードのフォローを増やす" in html
        client.post(url(data, f"review-log/{entry.pk}/status/"), {"status": "done"})
        with tenant_scope(data.id):
            assert ReviewLogEntry.objects.get().status == "done"

    def test_decision_without_an_action_is_refused(self, data, users, client_for):
        response = client_for(users["sales"]).post(
            url(data, "dashboard/review/", "period=month&date=2026-06-01"), {"finding": "x", "action": ""}
        )
        assert response.status_code == 400
        with tenant_scope(data.id):
            assert not ReviewLogEntry.objects.exists()

    def test_viewers_cannot_record(self, data, users, client_for):
        response = client_for(users["viewer"]).post(url(data, "dashboard/review/"), {"action": "x"})
        assert response.status_code == 403

    def test_default_is_the_last_closed_month(self, data, users, client_for):
        html = client_for(users["viewer"]).get(url(data, "dashboard/review/")).content.decode()
        with tenant_scope(data.id):
            from kpis import selectors

            last = selectors.current_period("month").previous()
        assert f"{last.label}の振り返り" in html


class TestCsv:
    def rows(self, response):
        body = response.content.decode("utf-8")
        assert body.startswith("\ufeff")  # BOM: Excel reads it as UTF-8
        return list(csv.reader(io.StringIO(body[1:])))

    def test_channels_csv(self, data, users, client_for):
        response = client_for(users["sales"]).get(url(data, "export/channels.csv", "period=month&date=2026-06-01"))
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        assert "attachment" in response["Content-Disposition"]
        rows = self.rows(response)
        assert rows[0][:3] == ["期間", "流入経路", "問い合わせ"] or rows[0][:3] == ["期間", "チャネル", "問い合わせ"]
        webinar = next(r for r in rows if r[1] == "ウェビナー")  # the channel's label, not its key
        assert webinar[2] == "1" and webinar[7] == "2000000"

    def test_formula_cells_are_escaped_but_numbers_are_not(self, data, users, client_for):
        rows = self.rows(
            client_for(users["admin"]).get(url(data, "export/campaigns.csv", "period=month&date=2026-06-01"))
        )
        campaigns = {r[1] for r in rows[1:]}
        assert '\'=HYPERLINK("http://evil")' in campaigns and "'-seo-blog" in campaigns
        with tenant_scope(data.id):
            services.target_set(kpi="mqls", period=Period("month", dt.date(2026, 5, 1)), value=D(10), actor=None)
        kpis = self.rows(client_for(users["admin"]).get(url(data, "export/kpis.csv", "period=month&date=2026-06-01")))
        leads = next(r for r in kpis if r[2] == "leads")
        assert leads[3] == "2"

    @pytest.mark.parametrize(
        "table",
        [
            "kpis",
            "funnel",
            "trend",
            "channels",
            "campaigns",
            "nurturing",
            "hot_leads",
            "review_log",
            "targets",
            "spend",
        ],
    )
    def test_every_table_exports(self, data, users, client_for, table):
        response = client_for(users["marketing"]).get(url(data, f"export/{table}.csv"))
        assert response.status_code == 200 and len(self.rows(response)) >= 1

    def test_viewers_cannot_export_and_unknown_tables_are_404(self, data, users, client_for):
        assert client_for(users["viewer"]).get(url(data, "export/channels.csv")).status_code == 403
        assert client_for(users["admin"]).get(url(data, "export/secrets.csv")).status_code == 404
        assert client_for(users["admin"]).get(url(data, "export/kpis.csv", "period=eon")).status_code == 400
