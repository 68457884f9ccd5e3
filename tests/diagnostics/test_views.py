"""The diagnostics pages: start, answer as you go (htmx), complete, result, report, CSV, history, health card."""

import csv
import io

import pytest
from django.utils import timezone

from diagnostics import services
from diagnostics.models import Answer, Assessment
from tenants.context import tenant_scope
from tests.diagnostics.helpers import diagnostics_rows
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def url(assessment, suffix=""):
    return f"/t/{assessment.tenant.slug}/diagnostics/{assessment.pk}/{suffix}"


def english(user):
    user.language = "en"
    user.save(update_fields=["language"])
    return user


class TestIndexAndStart:
    def test_overview_lists_the_checklists_and_assessments(self, tenant, users, client_for, assessment):
        page = client_for(users["viewer"]).get(f"/t/{tenant.slug}/diagnostics/")
        assert page.status_code == 200
        body = page.content.decode()
        assert "リードナーチャリング診断(30項目)" in body
        assert url(assessment) in body
        assert 'id="dx-health-card"' in body
        assert f"/t/{tenant.slug}/diagnostics/start/" not in body  # viewers cannot start one

    def test_starting_an_assessment_opens_the_answer_page(self, tenant, users, client_for, nurturing):
        response = client_for(users["sales"]).post(
            f"/t/{tenant.slug}/diagnostics/start/", {"template": "lead_nurturing_30", "title": "営業側の見立て"}
        )
        with tenant_scope(tenant.id):
            created = Assessment.objects.get()
        assert response.status_code == 302 and response["Location"] == url(created, "answer/")
        assert created.title == "営業側の見立て" and created.started_by == users["sales"]

    @pytest.mark.parametrize(
        ("language", "message"), [("ja", "チェックリストを選んでください。"), ("en", "Choose one of the checklists.")]
    )
    def test_an_unknown_checklist_is_refused_in_the_users_language(
        self, tenant, users, client_for, nurturing, language, message
    ):
        user = users["marketing"]
        user.language = language
        user.save(update_fields=["language"])
        response = client_for(user).post(f"/t/{tenant.slug}/diagnostics/start/", {"template": "horoscope"})
        assert response.status_code == 400
        assert message in response.content.decode()
        with tenant_scope(tenant.id):
            assert not Assessment.objects.exists()


class TestAnsweringAsYouGo:
    def test_the_answer_page_lists_all_30_items_by_category(self, users, client_for, assessment):
        page = client_for(users["marketing"]).get(url(assessment, "answer/"))
        assert page.status_code == 200
        body = page.content.decode()
        assert body.count('<form class="dx-item') == 30
        assert "育成プロセスの設計" in body and "データ品質とターゲティング" in body

    def test_each_answer_is_saved_at_once_and_the_progress_re_rendered(self, users, client_for, assessment, items):
        item = items["nurturing_goal_defined"]
        response = client_for(users["marketing"]).post(
            url(assessment, f"answer/{item.pk}/"), {"value": "partly", "note": "年次目標のみ"}, **HTMX
        )
        assert response.status_code == 200
        body = response.content.decode()
        assert f'id="dx-item-{item.pk}"' in body
        assert f'id="dx-{item.pk}-partly" checked' in body
        assert 'id="dx-progress" hx-swap-oob="true"' in body
        assert "1 / 30" in body
        with tenant_scope(assessment.tenant_id):
            saved = Answer.objects.get()
        assert (saved.value, saved.note, saved.respondent.side) == ("partly", "年次目標のみ", "marketing")

    def test_changing_an_answer_updates_it(self, users, client_for, assessment, items):
        client = client_for(users["sales"])
        item = items["nurturing_goal_defined"]
        client.post(url(assessment, f"answer/{item.pk}/"), {"value": "yes"}, **HTMX)
        client.post(url(assessment, f"answer/{item.pk}/"), {"value": "no"}, **HTMX)
        with tenant_scope(assessment.tenant_id):
            assert list(Answer.objects.values_list("value", "respondent__side")) == [("no", "sales")]
            assert Assessment.objects.get(pk=assessment.pk).summary["overall"] == 0.0

    def test_a_contradiction_shows_right_after_answering(self, tenant, users, client_for, assessment, items):
        with tenant_scope(tenant.id):
            for _ in range(3):
                LeadFactory(industry="")
        item = items["lead_attributes_collected"]
        body = (
            client_for(english(users["marketing"]))
            .post(url(assessment, f"answer/{item.pk}/"), {"value": "yes"}, **HTMX)
            .content.decode()
        )
        assert "Check this answer:" in body and "100.0 % of leads have no industry." in body

    @pytest.mark.parametrize(
        ("language", "post", "message"),
        [
            ("ja", {"value": "maybe"}, "「はい」「一部」「いいえ」「該当なし」から選んでください。"),
            ("en", {"value": "maybe"}, "Choose yes, partly, no or not applicable."),
            ("en", {"note": "no answer chosen"}, "Choose yes, partly, no or not applicable."),
            ("en", {"value": "yes", "note": "x" * 2001}, "Keep the note under 2000 characters."),
            ("ja", {"value": "yes", "note": "x" * 2001}, "メモは2000文字以内"),
        ],
    )
    def test_bad_input_is_refused_with_400_and_nothing_saved(
        self, users, client_for, assessment, items, language, post, message
    ):
        user = users["marketing"]
        user.language = language
        user.save(update_fields=["language"])
        item = items["nurturing_goal_defined"]
        before = diagnostics_rows(assessment.tenant_id)
        response = client_for(user).post(url(assessment, f"answer/{item.pk}/"), post, **HTMX)
        assert response.status_code == 400
        assert message in response.content.decode()
        assert diagnostics_rows(assessment.tenant_id) == before

    def test_an_item_of_another_checklist_is_refused(self, users, client_for, assessment):
        from diagnostics.models import ChecklistItem

        foreign_item = ChecklistItem.objects.filter(template__key="kpi_five_checks").first()
        before = diagnostics_rows(assessment.tenant_id)
        response = client_for(users["marketing"]).post(
            url(assessment, f"answer/{foreign_item.pk}/"), {"value": "yes"}, **HTMX
        )
        assert response.status_code == 400
        assert diagnostics_rows(assessment.tenant_id) == before

    def test_without_htmx_the_form_posts_and_comes_back(self, users, client_for, assessment, items):
        item = items["nurturing_goal_defined"]
        response = client_for(users["marketing"]).post(url(assessment, f"answer/{item.pk}/"), {"value": "yes"})
        assert response.status_code == 302 and response["Location"] == url(assessment, "answer/")

    def test_an_admin_chooses_the_side(self, users, client_for, assessment, items):
        client = client_for(users["admin"])
        assert client.post(url(assessment, "answer/side/"), {"side": "sales"}).status_code == 302
        client.post(url(assessment, f"answer/{items['nurturing_goal_defined'].pk}/"), {"value": "no"}, **HTMX)
        with tenant_scope(assessment.tenant_id):
            assert Answer.objects.get().respondent.side == "sales"
        before = diagnostics_rows(assessment.tenant_id)
        bad = client.post(url(assessment, "answer/side/"), {"side": "finance"})
        assert bad.status_code == 400
        assert diagnostics_rows(assessment.tenant_id) == before

    def test_a_sales_member_cannot_answer_for_marketing(self, users, client_for, assessment):
        before = diagnostics_rows(assessment.tenant_id)
        response = client_for(english(users["sales"])).post(url(assessment, "answer/side/"), {"side": "marketing"})
        assert response.status_code == 400
        assert "You can answer for: Sales." in response.content.decode()
        assert diagnostics_rows(assessment.tenant_id) == before


class TestCompleting:
    def test_completing_freezes_answers_and_evidence(self, tenant, users, client_for, assessment, items, answer):
        answer(assessment, users["marketing"], items["nurturing_goal_defined"], "yes")
        client = client_for(users["marketing"])
        response = client.post(url(assessment, "complete/"))
        assert response.status_code == 302 and response["Location"] == url(assessment)
        assessment.refresh_from_db()
        assert assessment.completed_at is not None
        assert set(assessment.evidence) >= {"attribute_completeness", "duplicate_rate", "kpis_reviewed"}
        # Answers can no longer change; the answer page sends people to the result.
        frozen = diagnostics_rows(tenant.id)
        late = client.post(url(assessment, f"answer/{items['buyer_journey_mapped'].pk}/"), {"value": "no"}, **HTMX)
        assert late.status_code == 400
        assert "完了" in late.content.decode()
        assert diagnostics_rows(tenant.id) == frozen
        assert client.get(url(assessment, "answer/"))["Location"] == url(assessment)

    def test_the_frozen_evidence_does_not_move_with_new_data(self, tenant, users, assessment, items, answer):
        answer(assessment, users["marketing"], items["lead_attributes_collected"], "yes")
        with tenant_scope(tenant.id):
            LeadFactory(industry="")
            services.assessment_complete(assessment=assessment, actor=users["marketing"])
            LeadFactory(industry="IT")
            from diagnostics import selectors

            frozen = selectors.assessment_evidence(Assessment.objects.get(pk=assessment.pk))
        assert frozen["attribute_completeness"].metrics["leads"] == 1

    def test_an_empty_assessment_cannot_be_completed(self, users, client_for, assessment):
        before = diagnostics_rows(assessment.tenant_id)
        response = client_for(users["marketing"]).post(url(assessment, "complete/"))
        assert response.status_code == 400
        assert diagnostics_rows(assessment.tenant_id) == before


class TestResult:
    def test_result_shows_scores_disagreements_evidence_and_linked_recommendations(
        self, tenant, users, client_for, assessment, items, answer
    ):
        answer(assessment, users["marketing"], items["sales_ready_definition_agreed"], "yes")
        answer(assessment, users["sales"], items["sales_ready_definition_agreed"], "no")
        answer(assessment, users["marketing"], items["regular_cross_team_meeting"], "no")
        body = client_for(english(users["viewer"])).get(url(assessment)).content.decode()
        assert "Where marketing and sales disagree" in body
        assert items["sales_ready_definition_agreed"].text_en in body
        assert "Step 3: collaboration and shared KPIs" in body
        assert f'href="/t/{tenant.slug}/kpis/dashboard/"' in body  # kpi_dashboard → the KPI dashboard
        assert "Weakest cause: Marketing–sales collaboration" in body
        assert 'data-chart="bar"' in body and 'id="dx-cause-chart"' in body

    def test_the_printable_report(self, users, client_for, assessment, items, answer):
        answer(assessment, users["marketing"], items["nurturing_goal_defined"], "no")
        page = client_for(users["viewer"]).get(url(assessment, "report/"))
        assert page.status_code == 200
        body = page.content.decode()
        assert "diagnostics/report.css" in body and "sidebar" not in body
        assert items["nurturing_goal_defined"].recommendation_ja in body

    def test_report_css_is_a4(self):
        from django.contrib.staticfiles import finders

        css = open(finders.find("diagnostics/report.css"), encoding="utf-8").read()
        assert "size: A4" in css and "@media print" in css


class TestCsvExport:
    def _rows(self, response):
        raw = response.content.decode("utf-8")
        assert raw.startswith("\ufeff")
        return list(csv.reader(io.StringIO(raw[1:])))

    def test_answers_evidence_and_recommendations_in_japanese(self, users, client_for, assessment, items, answer):
        answer(assessment, users["marketing"], items["nurturing_goal_defined"], "no", note='=HYPERLINK("http://x")')
        answer(assessment, users["sales"], items["nurturing_goal_defined"], "yes", note="+81 3 1234")
        response = client_for(users["sales"]).get(url(assessment, "export.csv"))
        assert response.status_code == 200
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        assert "attachment;" in response["Content-Disposition"]
        rows = self._rows(response)
        assert rows[0][0] == "チェックリスト" and rows[3] == ["総合スコア", "50.0"]
        header = next(r for r in rows if r and r[0] == "No.")
        assert header[2] == "項目" and "推奨アクション" in header
        line = next(r for r in rows if r and r[0] == "1")
        assert line[2] == items["nurturing_goal_defined"].text_ja
        # Notes are joined with the respondent's name, so no cell starts with the formula.
        assert line[header.index("メモ")].count("=HYPERLINK") == 1
        assert line[header.index("意見の相違")] == "はい"
        assert line[header.index("推奨アクション")] == items["nurturing_goal_defined"].recommendation_ja

    def test_formula_like_cells_are_escaped(self, users, client_for, assessment, items, answer):
        with tenant_scope(assessment.tenant_id):
            Assessment.objects.filter(pk=assessment.pk).update(title="=cmd|'/c calc'!A1")
        response = client_for(users["sales"]).get(url(assessment, "export.csv"))
        rows = self._rows(response)
        assert rows[1][1] == "'=cmd|'/c calc'!A1"

    def test_english_for_an_english_user(self, users, client_for, assessment, items, answer):
        answer(assessment, users["marketing"], items["nurturing_goal_defined"], "yes")
        rows = self._rows(client_for(english(users["marketing"])).get(url(assessment, "export.csv")))
        assert rows[0][0] == "Checklist" and rows[3] == ["Overall score", "100.0"]
        assert any(len(r) > 2 and r[2] == items["nurturing_goal_defined"].text_en for r in rows)


class TestHistoryAndCompare:
    def _two(self, tenant, users, answer, items):
        with tenant_scope(tenant.id):
            first = services.assessment_start(template_key="lead_nurturing_30", title="Q1", actor=users["admin"])
            second = services.assessment_start(template_key="lead_nurturing_30", title="Q2", actor=users["admin"])
            Assessment.objects.filter(pk=first.pk).update(created_at=timezone.now() - timezone.timedelta(days=90))
        answer(first, users["marketing"], items["nurturing_goal_defined"], "no")
        answer(second, users["marketing"], items["nurturing_goal_defined"], "yes")
        answer(second, users["marketing"], items["lead_attributes_collected"], "partly")
        return first, second

    def test_history_has_a_trend_series_per_category(self, tenant, users, client_for, answer, items):
        first, second = self._two(tenant, users, answer, items)
        with tenant_scope(tenant.id):
            services.assessment_complete(assessment=first, actor=users["admin"])
            services.assessment_complete(assessment=second, actor=users["admin"])
            services.assessment_start(template_key="lead_nurturing_30", title="still open", actor=users["admin"])
        page = client_for(english(users["viewer"])).get(f"/t/{tenant.slug}/diagnostics/history/lead_nurturing_30/")
        assert len(page.context["rows"]) == 3  # listed: the open one too
        assert len(page.context["chart"]["labels"]) == 2  # plotted: the completed ones
        assert page.status_code == 200
        chart = page.context["chart"]
        assert [s["label"] for s in chart["series"]] == [
            "Nurturing process design",
            "Data quality and targeting",
            "Marketing–sales collaboration and operating rules",
            "Overall",
        ]
        assert chart["series"][0]["data"] == [0.0, 100.0]
        assert chart["series"][1]["data"] == [None, 50.0]
        assert 'id="dx-trend-data"' in page.content.decode()

    def test_compare_any_two(self, tenant, users, client_for, answer, items):
        first, second = self._two(tenant, users, answer, items)
        client = client_for(english(users["viewer"]))
        # Given in either order, the earlier one is shown first.
        page = client.get(f"/t/{tenant.slug}/diagnostics/compare/", {"a": second.pk, "b": first.pk})
        assert page.status_code == 200
        groups = {g["label"]: g for g in page.context["groups"]}
        assert groups["Nurturing process design"]["delta"] == 100.0
        assert groups["Overall"]["a"] == 0.0 and groups["Overall"]["b"] == 75.0
        assert [c["a"].item.key for c in page.context["changed"]] == [
            "nurturing_goal_defined",
            "lead_attributes_collected",
        ]
        assert "+100.0pt" in page.content.decode()

    @pytest.mark.parametrize("params", [{}, {"a": "x", "b": "1"}, {"a": "999999", "b": "999998"}])
    def test_bad_compare_input_is_a_clear_400(self, tenant, users, client_for, params):
        response = client_for(users["viewer"]).get(f"/t/{tenant.slug}/diagnostics/compare/", params)
        assert response.status_code == 400
        assert "比較する2つの診断を選んでください。" in response.content.decode()

    def test_assessments_of_different_checklists_cannot_be_compared(self, tenant, users, client_for, assessment):
        with tenant_scope(tenant.id):
            other = services.assessment_start(template_key="kpi_five_checks", actor=users["admin"])
        response = client_for(users["viewer"]).get(
            f"/t/{tenant.slug}/diagnostics/compare/", {"a": assessment.pk, "b": other.pk}
        )
        assert response.status_code == 400
        assert "同じチェックリスト" in response.content.decode()

    def test_an_unknown_checklist_history_is_404(self, tenant, users, client_for):
        assert client_for(users["viewer"]).get(f"/t/{tenant.slug}/diagnostics/history/nope/").status_code == 404


class TestHealthCard:
    def test_empty_card_before_the_first_auto_diagnosis(self, tenant, users, client_for, nurturing):
        card = client_for(english(users["viewer"])).get(f"/t/{tenant.slug}/diagnostics/health-card/")
        assert card.status_code == 200
        body = card.content.decode()
        assert 'id="dx-health-card"' in body and "No auto-diagnosis yet" in body
        assert "<html" not in body  # a fragment for the dashboard's hx-get

    def test_card_shows_the_latest_auto_diagnosis(self, tenant, users, client_for, nurturing):
        with tenant_scope(tenant.id):
            LeadFactory(industry="", segment="hot")
            services.auto_diagnosis_run()
        body = client_for(english(users["viewer"])).get(f"/t/{tenant.slug}/diagnostics/health-card/").content.decode()
        assert "Auto-diagnosis score" in body and "checks measured from your data" in body
        assert "Weakest cause" in body

    def test_measure_now_runs_in_the_background_and_the_card_polls(
        self, tenant, users, client_for, nurturing, django_capture_on_commit_callbacks
    ):
        client = client_for(users["marketing"])
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(f"/t/{tenant.slug}/diagnostics/auto/refresh/", **HTMX)
        assert response.status_code == 200
        assert 'hx-trigger="every 2s"' in response.content.decode()
        with tenant_scope(tenant.id):
            assert Assessment.objects.filter(kind="auto").count() == 1
        since = response.context["waiting_since"]
        done = client.get(f"/t/{tenant.slug}/diagnostics/health-card/", {"since": since, "n": 1})
        assert 'hx-trigger="every 2s"' not in done.content.decode()

    def test_a_bad_refresh_marker_is_400(self, tenant, users, client_for, nurturing):
        client = client_for(users["viewer"])
        for marker in (
            {"since": "soon"},
            {"since": "2026-11-23T06:30:00"},
            {"since": "2026-11-23T06:30:00+09:00", "n": "x"},
        ):
            response = client.get(f"/t/{tenant.slug}/diagnostics/health-card/", marker)
            assert response.status_code == 400
            assert response.content.decode() == "更新の指定が正しくありません。"
