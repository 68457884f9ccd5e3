"""Scoring of an assessment: per item, category, cause and overall; disagreements; recommendations."""

import pytest
from django.utils import translation

from diagnostics import selectors
from diagnostics.models import Assessment, Side
from diagnostics.scorecard import ACTION_URL_NAMES, MET, PARTLY, UNANSWERED, UNMET, action_url
from tenants.context import tenant_scope
from tests.factories import member

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english():
    """Texts in these tests are read in English (the Japanese catalog is tested separately)."""
    with translation.override("en"):
        yield


def scorecard(assessment, **kwargs):
    with tenant_scope(assessment.tenant_id):
        return selectors.assessment_scorecard(Assessment.objects.get(pk=assessment.pk), with_evidence=False, **kwargs)


def by_key(card):
    return {group.key: group for group in [*card.categories, *card.causes]}


class TestScores:
    def test_nothing_answered_has_no_score(self, assessment):
        card = scorecard(assessment)
        assert card.total == 30 and card.answered == 0
        assert card.overall.score is None
        assert all(group.score is None for group in card.categories)
        assert card.weakest_cause is None

    def test_yes_partly_no_score_1_half_0_per_category(self, assessment, users, items, answer):
        marketing = users["marketing"]
        answer(assessment, marketing, items["nurturing_goal_defined"], "yes")
        answer(assessment, marketing, items["buyer_journey_mapped"], "partly")
        answer(assessment, marketing, items["stage_content_planned"], "no")
        answer(assessment, marketing, items["nurture_workflows_configured"], "na")
        card = scorecard(assessment)
        process = by_key(card)["process_design"]
        assert process.answered == 4 and process.scored == 3  # "not applicable" is left out
        assert process.score == 50.0  # (1 + 0.5 + 0) / 3
        assert by_key(card)["data_targeting"].score is None
        assert card.overall.score == 50.0
        assert card.answered == 4

    def test_overall_weighs_every_item_the_same(self, assessment, users, items, answer, nurturing):
        marketing = users["marketing"]
        data_items = [i for i in items.values() if i.category.key == "data_targeting"]
        for item in data_items:
            answer(assessment, marketing, item, "yes")
        answer(assessment, marketing, items["nurturing_goal_defined"], "no")
        card = scorecard(assessment)
        assert by_key(card)["data_targeting"].score == 100.0
        assert by_key(card)["process_design"].score == 0.0
        assert card.overall.score == round(100 * 10 / 11, 1)

    def test_two_respondents_are_averaged_per_item(self, assessment, users, items, answer):
        item = items["nurturing_goal_defined"]
        answer(assessment, users["marketing"], item, "yes")
        answer(assessment, users["sales"], item, "partly")
        card = scorecard(assessment)
        result = next(r for r in card.items if r.item.pk == item.pk)
        assert result.points == 0.75 and result.status == PARTLY
        assert by_key(card)["process_design"].score == 75.0

    def test_the_weakest_cause_is_the_lowest_scoring_cause(self, assessment, users, items, answer):
        marketing = users["marketing"]
        for item in items.values():
            answer(assessment, marketing, item, "no" if item.cause == "timing" else "yes")
        card = scorecard(assessment)
        assert card.weakest_cause.key == "timing"
        assert card.weakest_cause.score == 0.0
        assert by_key(card)["process"].score == 100.0

    def test_the_summary_kept_on_the_assessment_matches_the_scorecard(self, assessment, users, items, answer):
        answer(assessment, users["marketing"], items["nurturing_goal_defined"], "yes")
        answer(assessment, users["marketing"], items["lead_attributes_collected"], "no")
        assessment.refresh_from_db()
        assert assessment.summary["overall"] == 50.0
        assert assessment.summary["categories"] == {
            "process_design": 100.0,
            "data_targeting": 0.0,
            "collaboration": None,
        }
        assert assessment.summary["answered"] == 2 and assessment.summary["respondents"] == 1


class TestDisagreement:
    def test_marketing_yes_and_sales_no_disagree(self, assessment, users, items, answer):
        item = items["sales_ready_definition_agreed"]
        answer(assessment, users["marketing"], item, "yes")
        answer(assessment, users["sales"], item, "no")
        card = scorecard(assessment)
        assert [r.item.key for r in card.disagreements] == ["sales_ready_definition_agreed"]
        result = card.disagreements[0]
        assert result.side_points == {Side.MARKETING: 1.0, Side.SALES: 0.0}
        assert result.side_values == {Side.MARKETING: ["yes"], Side.SALES: ["no"]}

    def test_half_a_point_apart_is_a_disagreement_the_same_answer_is_not(self, assessment, users, items, answer):
        answer(assessment, users["marketing"], items["nurturing_goal_defined"], "yes")
        answer(assessment, users["sales"], items["nurturing_goal_defined"], "partly")
        answer(assessment, users["marketing"], items["buyer_journey_mapped"], "no")
        answer(assessment, users["sales"], items["buyer_journey_mapped"], "no")
        card = scorecard(assessment)
        assert [r.item.key for r in card.disagreements] == ["nurturing_goal_defined"]

    def test_not_applicable_against_an_answer_is_a_disagreement(self, assessment, users, items, answer):
        answer(assessment, users["marketing"], items["nurturing_goal_defined"], "na")
        answer(assessment, users["sales"], items["nurturing_goal_defined"], "no")
        assert [r.item.key for r in scorecard(assessment).disagreements] == ["nurturing_goal_defined"]

    def test_one_side_alone_never_disagrees_and_same_side_members_are_averaged(
        self, tenant, assessment, users, items, answer
    ):
        second_marketer = member(tenant, "marketing", email="m2@acme.example")
        answer(assessment, users["marketing"], items["nurturing_goal_defined"], "yes")
        answer(assessment, second_marketer, items["nurturing_goal_defined"], "no")
        card = scorecard(assessment)
        assert card.disagreements == []
        result = next(r for r in card.items if r.item.key == "nurturing_goal_defined")
        assert result.side_points[Side.MARKETING] == 0.5

    def test_an_admin_answering_for_sales_counts_on_the_sales_side(self, tenant, assessment, users, items, answer):
        from diagnostics import services

        with tenant_scope(tenant.id):
            services.respondent_set_side(assessment=assessment, user=users["admin"], side=Side.SALES)
        answer(assessment, users["admin"], items["nurturing_goal_defined"], "no")
        answer(assessment, users["marketing"], items["nurturing_goal_defined"], "yes")
        assert [r.item.key for r in scorecard(assessment).disagreements] == ["nurturing_goal_defined"]


class TestRecommendations:
    def test_every_item_not_fully_met_gets_one_in_roadmap_order(self, assessment, users, items, answer):
        marketing = users["marketing"]
        answer(assessment, marketing, items["shared_kpis_set"], "no")  # phase 3
        answer(assessment, marketing, items["interest_judged_by_behaviour"], "partly")  # phase 2
        answer(assessment, marketing, items["nurturing_goal_defined"], "no")  # phase 1
        answer(assessment, marketing, items["buyer_journey_mapped"], "yes")  # met: no recommendation
        answer(assessment, marketing, items["stage_content_planned"], "na")  # n/a: none either
        card = scorecard(assessment, slug="acme")
        recs = card.recommendations
        assert [r.item.item.key for r in recs] == [
            "nurturing_goal_defined",
            "interest_judged_by_behaviour",
            "shared_kpis_set",
        ]
        assert [r.phase for r in recs] == [1, 2, 3]
        assert [r.item.status for r in recs] == [UNMET, PARTLY, UNMET]
        assert all(r.item.item.recommendation for r in recs)
        assert [label for label, _recs in card.recommendations_by_phase] == [
            "Step 1: diagnose and build the data foundation",
            "Step 2: design scoring and segments",
            "Step 3: collaboration and shared KPIs",
        ]

    def test_within_a_step_the_weakest_item_comes_first(self, assessment, users, items, answer):
        answer(assessment, users["marketing"], items["nurturing_goal_defined"], "partly")
        answer(assessment, users["marketing"], items["buyer_journey_mapped"], "no")
        recs = scorecard(assessment).recommendations
        assert [r.item.item.key for r in recs] == ["buyer_journey_mapped", "nurturing_goal_defined"]

    def test_statuses(self, assessment, users, items, answer):
        answer(assessment, users["marketing"], items["nurturing_goal_defined"], "yes")
        answer(assessment, users["marketing"], items["buyer_journey_mapped"], "no")
        statuses = {r.item.key: r.status for r in scorecard(assessment).items}
        assert statuses["nurturing_goal_defined"] == MET
        assert statuses["buyer_journey_mapped"] == UNMET
        assert statuses["stage_content_planned"] == UNANSWERED


class TestRecommendationLinks:
    @pytest.mark.parametrize(
        ("action", "page"),
        [
            ("mql_editor", "/t/acme/scoring/mql/"),
            ("scoring_rules", "/t/acme/scoring/"),
            ("alert_settings", "/t/acme/scoring/settings/"),
            ("kpi_planner", "/t/acme/kpis/planner/"),
            ("kpi_dashboard", "/t/acme/kpis/dashboard/"),
            ("sales_inbox", "/t/acme/scoring/inbox/"),
            ("lead_import", "/t/acme/leads/import/"),
            ("data_quality", "/t/acme/leads/quality/"),
            ("feedback_report", "/t/acme/scoring/feedback/report/"),
            ("calibration", "/t/acme/scoring/calibration/"),
            ("members", "/t/acme/members/"),
        ],
    )
    def test_each_action_links_to_its_page_inside_the_tenant(self, action, page):
        assert action_url(action, "acme") == page

    def test_every_checklist_action_has_a_page(self):
        from diagnostics.catalog import ACTIONS

        assert set(ACTIONS) <= set(ACTION_URL_NAMES)

    def test_an_item_without_an_action_gives_no_link(self):
        assert action_url("", "acme") is None
        assert action_url("unknown_action", "acme") is None

    def test_recommendations_carry_the_link_of_their_action(self, assessment, users, items, answer):
        answer(assessment, users["marketing"], items["regular_cross_team_meeting"], "no")
        rec = scorecard(assessment, slug="acme").recommendations[0]
        assert rec.item.item.action == "kpi_dashboard"
        assert rec.item.action_url == "/t/acme/kpis/dashboard/"
