"""Every evidence function against a hand-built fixture, and the contradiction flags it drives."""

import dataclasses
from datetime import timedelta

import pytest
from django.utils import timezone, translation

from diagnostics import evidence, selectors
from diagnostics.evidence import EVIDENCE, MEASURED, NO_DATA, UNAVAILABLE
from diagnostics.models import Assessment
from leads.models import Activity, Lead, LeadFeedback
from tenants.context import tenant_scope
from tests.diagnostics.helpers import scoring_model
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english():
    """Texts in these tests are read in English (the Japanese catalog is tested separately)."""
    with translation.override("en"):
        yield


NOW = timezone.now()


def measure(key):
    with translation.override("en"):
        return evidence.compute(key, now=NOW)


def leads(count, **fields):
    return [LeadFactory(**fields) for _ in range(count)]


def test_the_registry_covers_every_evidence_key_of_the_checklists():
    from diagnostics.catalog import EVIDENCE_KEYS

    assert set(EVIDENCE) == EVIDENCE_KEYS


class TestAttributeCompleteness:
    def test_no_leads_is_no_data_not_a_number(self, scoped):
        ev = measure("attribute_completeness")
        assert ev.state == NO_DATA and ev.suggested is None and ev.points is None
        assert "No leads yet" in ev.headline

    def test_missing_industry_on_most_leads_suggests_no(self, scoped):
        full = {
            "title": "部長",
            "employee_count": 120,
            "authority": "decision_maker",
            "need": "CRM",
            "budget": "secured",
            "timing": "within_3m",
        }
        leads(9, industry="", **full)
        leads(16, industry="製造業", **full)
        ev = measure("attribute_completeness")
        assert ev.state == MEASURED
        assert ev.source == "leads.quality.attribute_completeness"  # the data-quality page's own figures
        assert ev.metrics["filled_pct"]["industry"] == 64.0
        assert ev.metrics["weakest_core"] == "industry"
        # 64 % filled is above the 50 % bar for "partly" but below 80 % for "yes".
        assert ev.suggested == "partly"
        assert ev.headline == "36.0 % of leads have no industry."

    def test_thresholds(self, scoped):
        leads(2, industry="IT", title="課長", size_band="100-299", need="効率化", budget="planned")
        leads(8, industry="", title="", size_band="")
        ev = measure("attribute_completeness")
        assert ev.metrics["filled_pct"] == {
            "industry": 20.0,
            "title": 20.0,
            "company_size": 20.0,
            "authority": 0.0,
            "need": 20.0,
            "budget": 20.0,
            "timing": 0.0,
        }
        assert ev.suggested == "no"

    def test_complete_core_and_half_the_qualifying_fields_suggests_yes(self, scoped):
        leads(10, industry="IT", title="部長", employee_count=500, authority="decision_maker", budget="secured")
        ev = measure("attribute_completeness")
        assert ev.metrics["core_min_pct"] == 100.0 and ev.metrics["bant_avg_pct"] == 50.0
        assert ev.suggested == "yes"
        assert ev.headline.startswith("100.0 % of leads have industry, job title and company size")

    def test_complete_core_but_no_qualifying_fields_is_partly(self, scoped):
        leads(10, industry="IT", title="部長", employee_count=500)
        ev = measure("attribute_completeness")
        assert ev.suggested == "partly"
        assert "Qualifying fields" in ev.headline and "100.0 %" in ev.headline


class TestDuplicateRate:
    def _pair(self, company, name):
        for i in range(2):
            LeadFactory(
                email=f"{name}{i}@{company}.example",
                company=company,
                company_normalized=company,
                name=name,
                **({"name_normalized": name} if hasattr(Lead, "name_normalized") else {}),
            )

    def test_leads_with_the_same_company_and_name_are_counted(self, scoped):
        self._pair("acme", "yamada")
        leads(96, company_normalized="other", name="")  # no name: never a duplicate candidate
        ev = measure("duplicate_rate")
        assert ev.source == "leads.quality.duplicate_summary"
        assert ev.metrics["leads"] == 98
        assert ev.metrics["duplicate_leads"] == 2 and ev.metrics["groups"] == 1
        assert ev.metrics["duplicate_pct"] == 2.0
        assert ev.suggested == "yes"  # ≤ 2 %

    def test_grades(self, scoped):
        self._pair("acme", "yamada")
        self._pair("acme", "sato")
        leads(46, company_normalized="", name="")
        ev = measure("duplicate_rate")
        assert ev.metrics["duplicate_pct"] == 8.0 and ev.suggested == "no"
        assert ev.headline == "8.0 % of leads (4) look like duplicates: same company and name."

    def test_no_leads(self, scoped):
        assert measure("duplicate_rate").state == NO_DATA


class TestSegmentation:
    def test_share_of_segmented_leads_with_an_active_model(self, scoped):
        scoring_model("hot", "warm", "cold")
        leads(5, segment="hot")
        leads(4, segment="cold")
        leads(1, segment="")
        ev = measure("segmentation_active")
        assert ev.metrics["segmented_pct"] == 90.0
        assert ev.metrics["segments"] == {"hot": 5, "cold": 4}
        assert ev.metrics["active_model"] is True
        assert ev.suggested == "yes"

    def test_the_headline_names_the_models_segments_top_first(self, scoped):
        scoring_model("burning", "hot", "cold", labels={"burning": "Burning", "hot": "Hot", "cold": "Cold"})
        leads(3, segment="burning")
        leads(1, segment="cold")
        ev = measure("segmentation_active")
        assert ev.headline == "100.0 % of leads are segmented (Burning 3, Hot 0, Cold 1)."
        with translation.override("ja"):
            assert ev.headline == "リードの100.0%がセグメント分けされています(Burning3件、Hot0件、Cold1件)。"

    def test_unsegmented_leads_suggest_no(self, scoped):
        scoring_model("hot", "warm", "cold")
        leads(3, segment="")
        assert measure("segmentation_active").suggested == "no"

    def test_old_segments_without_an_active_model_suggest_no(self, scoped):
        scoring_model("hot", "warm", "cold", status="archived")
        leads(3, segment="warm")
        ev = measure("segmentation_active")
        assert ev.metrics["active_model"] is False and ev.suggested == "no"
        assert ev.headline.startswith("No scoring model is active")


class TestHotAlerts:
    def _hot(self, *, notified=True, followed_up_after_hours=None, days_ago=3, segment="hot"):
        from scoring.models import HotLeadAlert, SegmentTransition

        lead = LeadFactory(segment=segment)
        at = NOW - timedelta(days=days_ago)
        transition = SegmentTransition.objects.create(
            lead=lead, from_segment="warm", to_segment=segment, occurred_at=at
        )
        if notified is not None:
            HotLeadAlert.objects.create(
                transition=transition,
                lead=lead,
                created_at=at,
                due_at=at + timedelta(hours=48),
                notified_at=at if notified else None,
                followed_up_at=at + timedelta(hours=followed_up_after_hours) if followed_up_after_hours else None,
            )

    def test_share_of_hot_transitions_alerted_and_followed_up(self, scoped):
        scoring_model("hot", "warm", "cold")
        for _ in range(9):
            self._hot(followed_up_after_hours=10)
        self._hot(notified=None)  # no alert at all
        self._hot(days_ago=100)  # outside the window
        ev = measure("hot_alerts_enabled")
        assert ev.metrics["hot_transitions"] == 10 and ev.metrics["alerted"] == 9
        assert ev.metrics["alerted_pct"] == 90.0 and ev.metrics["followed_up_on_time_pct"] == 90.0
        assert ev.suggested == "yes"
        assert ev.headline.startswith("90.0 % of 10 transitions into hot")

    def test_undelivered_alerts_are_partly(self, scoped):
        scoring_model("hot", "warm", "cold")
        self._hot(notified=True)
        self._hot(notified=False)
        assert measure("hot_alerts_enabled").suggested == "partly"

    def test_the_top_segment_counts_whatever_the_tenant_calls_it(self, scoped):
        scoring_model("burning", "warm", "cold")
        for _ in range(2):
            self._hot(segment="burning", followed_up_after_hours=5)
        self._hot(segment="hot")  # not this tenant's top segment
        ev = measure("hot_alerts_enabled")
        assert ev.metrics["enabled"] is True and ev.metrics["top_segment"] == "burning"
        assert ev.metrics["hot_transitions"] == 2 and ev.metrics["alerted_pct"] == 100.0
        assert ev.suggested == "yes"

    def test_no_hot_transitions_yet_is_no_data(self, scoped):
        scoring_model("hot", "warm", "cold")
        assert measure("hot_alerts_enabled").state == NO_DATA


class TestMqlAgreement:
    def _definition(self, version=1, status="active"):
        from mql.models import MqlDefinition

        return MqlDefinition.objects.create(version=version, status=status, min_score=80)

    def _approve(self, definition, user, role, *, current=True):
        from mql.models import MqlApproval

        MqlApproval.objects.create(
            definition=definition,
            approver=user,
            role=role,
            conditions_hash=definition.conditions_hash() if current else "stale",
            approved_at=NOW,
        )

    def test_active_and_approved_by_both_sides(self, scoped, users):
        definition = self._definition()
        self._approve(definition, users["marketing"], "marketing")
        self._approve(definition, users["sales"], "sales")
        ev = measure("mql_definition_agreed")
        assert ev.suggested == "yes" and ev.metrics["active_version"] == 1
        assert ev.headline == "MQL definition v1 is active, approved by marketing and sales."

    def test_approved_by_marketing_only_or_with_a_stale_sales_approval_is_partly(self, scoped, users):
        definition = self._definition()
        self._approve(definition, users["marketing"], "marketing")
        self._approve(definition, users["sales"], "sales", current=False)
        ev = measure("mql_definition_agreed")
        assert ev.suggested == "partly" and ev.metrics["approved_by_sales"] is False

    def test_only_a_draft_is_no(self, scoped):
        self._definition(status="draft")
        ev = measure("mql_definition_agreed")
        assert ev.suggested == "no" and ev.headline == "No MQL definition is active yet."


class TestKpis:
    def _month_start(self):
        local = timezone.localtime(timezone.now())
        return local.date().replace(day=1)

    def _target(self, kpi, value=100):
        from kpis.models import KpiTarget

        KpiTarget.objects.create(kpi=kpi, period_type="month", period_start=self._month_start(), target_value=value)

    def test_targets_for_every_shared_kpi_of_the_current_period(self, scoped):
        for kpi in ("leads", "mqls", "mql_to_sql_rate", "opportunities", "revenue"):
            self._target(kpi)
        ev = evidence.compute("shared_kpis_set")
        assert ev.suggested == "yes" and ev.metrics["targets"] == 5

    def test_a_target_for_some_shared_kpis_is_partly(self, scoped):
        self._target("leads")
        ev = evidence.compute("shared_kpis_set")
        assert ev.suggested == "partly" and ev.metrics["targets"] == 1

    def test_reviews_logged_in_the_last_30_days(self, scoped):
        from kpis.models import ReviewLogEntry

        ReviewLogEntry.objects.create(period_type="week", period_start=NOW.date(), action="MQL基準を見直す")
        ev = evidence.compute("kpis_reviewed", now=timezone.now() + timedelta(seconds=1))
        assert ev.suggested == "partly" and ev.metrics["reviews"] == 1
        for weeks in (1, 2, 3):
            ReviewLogEntry.objects.create(
                period_type="week", period_start=NOW.date() - timedelta(weeks=weeks), action="継続"
            )
        ev = evidence.compute("kpis_reviewed", now=timezone.now() + timedelta(seconds=1))
        assert ev.suggested == "yes" and ev.metrics["reviews"] == 4

    def test_nurture_period_from_the_kpi_target(self, scoped):
        self._target("nurture_days", 90)
        ev = evidence.compute("nurture_period_designed")
        assert ev.suggested == "yes" and ev.headline == "A nurturing period of 90 days is designed."


class TestBehaviourData:
    def test_activities_of_the_last_30_days_by_type(self, scoped):
        active, _idle = LeadFactory(), leads(9)
        for kind in ("email_open", "download", "page_view", "page_view"):
            Activity.objects.create(lead=active, type=kind, occurred_at=NOW - timedelta(days=3))
        Activity.objects.create(lead=active, type="webinar_attend", occurred_at=NOW - timedelta(days=45))
        ev = measure("behaviour_data_collected")
        assert ev.metrics["by_type"] == {"page_view": 2, "email_open": 1, "download": 1}
        assert ev.metrics["activities"] == 4
        assert ev.metrics["active_leads"] == 1 and ev.metrics["active_pct"] == 10.0
        assert ev.suggested == "yes"

    def test_one_type_only_is_partly_and_nothing_recent_is_no(self, scoped):
        lead = LeadFactory()
        Activity.objects.create(lead=lead, type="page_view", occurred_at=NOW - timedelta(days=1))
        assert measure("behaviour_data_collected").suggested == "partly"
        Activity.objects.all().delete()
        Activity.objects.create(lead=lead, type="page_view", occurred_at=NOW - timedelta(days=31))
        ev = measure("behaviour_data_collected")
        assert ev.suggested == "no"
        assert ev.headline.startswith("No activity")


class TestSalesFeedback:
    def _handover(self, days_ago, outcome_after_hours=None, outcome="accepted", deadline_hours=48):
        from mql.models import Handover

        lead = LeadFactory()
        at = NOW - timedelta(days=days_ago)
        Handover.objects.create(lead=lead, handed_over_at=at, deadline_at=at + timedelta(hours=deadline_hours))
        if outcome_after_hours is not None:
            LeadFeedback.objects.create(
                lead=lead, outcome=outcome, occurred_at=at + timedelta(hours=outcome_after_hours)
            )
        return lead

    def test_share_with_an_outcome_and_median_time_against_the_deadline(self, scoped):
        self._handover(5, 10)
        self._handover(6, 20)
        self._handover(7, 60)
        self._handover(8)  # never answered
        self._handover(120, 1)  # outside the 90-day window
        ev = measure("sales_feedback_given")
        assert ev.source == "mql.models.Handover"
        assert ev.metrics["handed_over"] == 4 and ev.metrics["with_outcome"] == 3
        assert ev.metrics["with_outcome_pct"] == 75.0
        assert ev.metrics["on_time_pct"] == 50.0  # 10 h and 20 h within the 48 h deadline, 60 h late
        assert ev.metrics["median_hours"] == 20.0
        assert ev.metrics["deadline_hours"] == 48
        assert ev.suggested == "partly"
        assert "75.0 %" in ev.headline and "20.0 h" in ev.headline

    def test_all_answered_within_the_deadline_is_yes_late_answers_are_partly(self, scoped):
        for hours in (5, 10, 30):
            self._handover(3, hours)
        assert measure("sales_feedback_given").suggested == "yes"
        LeadFeedback.objects.all().delete()
        from mql.models import Handover

        for handover in Handover.objects.all():
            LeadFeedback.objects.create(
                lead=handover.lead,
                outcome="rejected",
                reason="no_budget",
                occurred_at=handover.handed_over_at + timedelta(hours=100),
            )
        assert measure("sales_feedback_given").suggested == "partly"

    def test_the_tenants_follow_up_deadline_is_used(self, scoped):
        from scoring.models import ScoringSettings

        ScoringSettings.objects.create(follow_up_hours=24)
        for hours in (30, 30, 30):
            self._handover(3, hours, deadline_hours=24)
        ev = measure("sales_feedback_given")
        assert ev.metrics["deadline_hours"] == 24 and ev.metrics["median_hours"] == 30.0
        assert ev.suggested == "partly"  # everyone answered, but later than the deadline

    def test_feedback_before_the_handover_does_not_count(self, scoped):
        lead = self._handover(3)
        LeadFeedback.objects.create(lead=lead, outcome="rejected", occurred_at=NOW - timedelta(days=10))
        ev = measure("sales_feedback_given")
        assert ev.metrics["with_outcome"] == 0 and ev.suggested == "no"

    def test_no_handovers(self, scoped):
        ev = measure("sales_feedback_given")
        assert ev.state == NO_DATA and "handed over" in ev.headline


class TestRejectionReasons:
    def test_share_of_rejected_and_lost_with_a_reason(self, scoped):
        lead = LeadFactory()
        for outcome, reason in [
            ("rejected", "no_budget"),
            ("rejected", "timing"),
            ("lost", "competitor"),
            ("lost", ""),
            ("accepted", ""),
        ]:
            LeadFeedback.objects.create(lead=lead, outcome=outcome, reason=reason, occurred_at=NOW - timedelta(days=2))
        LeadFeedback.objects.create(lead=lead, outcome="rejected", occurred_at=NOW - timedelta(days=200))
        ev = measure("rejection_reasons_recorded")
        assert ev.metrics == {"rejected": 4, "with_reason": 3, "with_reason_pct": 75.0, "window_days": 180}
        assert ev.suggested == "partly"

    def test_no_rejections(self, scoped):
        assert measure("rejection_reasons_recorded").state == NO_DATA


class TestNothingSetUpYet:
    """A tenant that has not set up scoring, an MQL definition or KPI targets yet: each check
    still measures, and says plainly that the thing is missing (never "not available")."""

    @pytest.mark.parametrize(
        ("key", "headline"),
        [
            ("hot_alerts_enabled", "No active scoring model has a hot segment, so no hot-lead alert can be sent."),
            ("mql_definition_agreed", "No MQL definition is active yet."),
            ("shared_kpis_set", "No KPI targets are set for the current period"),
            ("kpis_reviewed", "No KPI review was logged in the last 30 days."),
            ("nurture_period_designed", "No nurturing period is designed"),
        ],
    )
    def test_a_missing_setup_is_measured_as_no(self, scoped, key, headline):
        ev = measure(key)
        assert (ev.state, ev.suggested, ev.points) == (MEASURED, "no", 0.0)
        assert ev.headline.startswith(headline)


class TestFailures:
    def test_an_old_snapshot_naming_a_missing_source_still_reads(self):
        old = evidence.from_snapshot(
            {"kpis_reviewed": {"key": "kpis_reviewed", "state": "unavailable", "metrics": {"needs": "kpi_reviews"}}}
        )["kpis_reviewed"]
        assert old.points is None
        assert old.headline == "Not available yet: this needs a part of Ondo that is not set up yet."

    def test_a_crashing_check_never_breaks_the_page(self, scoped, monkeypatch):
        def boom(now):
            raise RuntimeError("source broke")

        monkeypatch.setitem(EVIDENCE, "duplicate_rate", dataclasses.replace(EVIDENCE["duplicate_rate"], compute=boom))
        ev = measure("duplicate_rate")
        assert ev.state == UNAVAILABLE
        with translation.override("en"):
            assert "could not be read" in ev.headline

    def test_a_failing_query_does_not_poison_the_transaction(self, scoped, monkeypatch):
        from django.db import connection

        def bad_sql(now):
            with connection.cursor() as cursor:
                cursor.execute("SELECT no_such_column FROM leads_lead")

        monkeypatch.setitem(
            EVIDENCE, "duplicate_rate", dataclasses.replace(EVIDENCE["duplicate_rate"], compute=bad_sql)
        )
        assert measure("duplicate_rate").state == UNAVAILABLE
        assert Lead.objects.count() == 0  # the surrounding transaction still works

    def test_snapshot_round_trip(self, scoped):
        leads(2, industry="IT")
        measured = evidence.compute_many(["attribute_completeness", "duplicate_rate"], now=NOW)
        again = evidence.from_snapshot(evidence.snapshot(measured))
        assert again == measured


class TestContradictions:
    def _score(self, assessment):
        with tenant_scope(assessment.tenant_id), translation.override("en"):
            card = selectors.assessment_scorecard(Assessment.objects.get(pk=assessment.pk), slug="acme")
            return {r.item.key: r for r in card.items}, card

    def test_answered_yes_but_most_leads_have_no_industry(self, tenant, assessment, users, items, answer):
        with tenant_scope(tenant.id):
            leads(16, industry="", title="部長", employee_count=50)
            leads(9, industry="IT", title="部長", employee_count=50)
        answer(assessment, users["marketing"], items["lead_attributes_collected"], "yes")
        results, card = self._score(assessment)
        flagged = results["lead_attributes_collected"]
        assert flagged.contradiction is not None
        with translation.override("en"):
            assert flagged.contradiction.text == "Answered “Yes”, but 64.0 % of leads have no industry."
        assert card.contradictions == [flagged]

    def test_the_data_agreeing_with_the_answer_is_no_contradiction(self, tenant, assessment, users, items, answer):
        with tenant_scope(tenant.id):
            leads(16, industry="", title="部長", employee_count=50)
        answer(assessment, users["marketing"], items["lead_attributes_collected"], "no")
        results, _card = self._score(assessment)
        assert results["lead_attributes_collected"].contradiction is None

    def test_answered_no_but_the_data_looks_better(self, tenant, assessment, users, items, answer):
        with tenant_scope(tenant.id):
            scoring_model("hot", "warm", "cold")
            leads(5, segment="hot")
        answer(assessment, users["marketing"], items["leads_segmented"], "no")
        results, _card = self._score(assessment)
        with translation.override("en"):
            assert results["leads_segmented"].contradiction.text.startswith(
                "Answered “No”, but the data looks better: 100.0 % of leads are segmented"
            )

    def test_unmeasurable_evidence_never_flags(self, tenant, assessment, users, items, answer):
        answer(assessment, users["marketing"], items["lead_attributes_collected"], "yes")  # no leads: no data
        results, card = self._score(assessment)
        assert results["lead_attributes_collected"].evidence.state == NO_DATA
        assert card.contradictions == []

    def test_contradiction_in_japanese(self, tenant, assessment, users, items, answer):
        with tenant_scope(tenant.id):
            leads(4, industry="", title="部長", employee_count=50)
        answer(assessment, users["marketing"], items["lead_attributes_collected"], "yes")
        with tenant_scope(tenant.id), translation.override("ja"):
            card = selectors.assessment_scorecard(Assessment.objects.get(pk=assessment.pk))
            flagged = card.contradictions[0]
            assert "100.0" in flagged.contradiction.text and "業種" in flagged.contradiction.text
