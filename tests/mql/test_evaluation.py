"""Definition evaluation: score threshold, segments, required information, high-intent override, exclusions."""

import pytest

from mql.evaluation import explain, qualifying_leads

from .factories import activity, definition, lead

pytestmark = pytest.mark.django_db


def emails(defn):
    return set(qualifying_leads(defn).values_list("email", flat=True))


def test_minimum_score_is_inclusive(scoped):
    lead(email="79@a.jp", score_total=79)
    lead(email="80@a.jp", score_total=80)
    lead(email="95@a.jp", score_total=95)
    assert emails(definition(min_score=80)) == {"80@a.jp", "95@a.jp"}


def test_segment_alone_or_combined_with_the_score(scoped):
    lead(email="hot-low@a.jp", segment="hot", score_total=60)
    lead(email="warm-high@a.jp", segment="warm", score_total=90)
    lead(email="hot-high@a.jp", segment="hot", score_total=90)
    assert emails(definition(min_score=None, segments=["hot"])) == {"hot-low@a.jp", "hot-high@a.jp"}
    assert emails(definition(min_score=80, segments=["hot"], score_mode="any")) == {
        "hot-low@a.jp",
        "warm-high@a.jp",
        "hot-high@a.jp",
    }
    assert emails(definition(min_score=80, segments=["hot"], score_mode="all")) == {"hot-high@a.jp"}


def test_required_information_must_all_be_known(scoped):
    lead(email="both@a.jp", score_total=90, budget="secured", timing="within_3m")
    lead(email="budget-only@a.jp", score_total=90, budget="secured")
    lead(email="none@a.jp", score_total=90)
    assert emails(definition(min_score=80, required_info=["budget", "timing"])) == {"both@a.jp"}


def test_company_size_is_known_from_employees_or_size_band(scoped):
    lead(email="count@a.jp", score_total=90, employee_count=120)
    lead(email="band@a.jp", score_total=90, size_band="100-499")
    lead(email="unknown@a.jp", score_total=90)
    assert emails(definition(min_score=80, required_info=["company_size"])) == {"count@a.jp", "band@a.jp"}


def test_information_alone_can_define_an_mql(scoped):
    lead(email="bant@a.jp", authority="decision_maker", need="在庫管理の改善", budget="planned", timing="within_6m")
    lead(email="partial@a.jp", authority="decision_maker", need="在庫管理の改善")
    assert emails(definition(min_score=None, required_info=["authority", "need", "budget", "timing"])) == {"bant@a.jp"}


def test_high_intent_action_qualifies_whatever_the_score(scoped):
    demo = lead(email="demo@a.jp", score_total=5)
    form = lead(email="form@a.jp", score_total=0)
    old = lead(email="old-demo@a.jp", score_total=0)
    browsing = lead(email="browse@a.jp", score_total=10)
    activity(demo, "demo_request")
    activity(form, "form_submit", properties={"form_key": "factory_visit"})
    activity(old, "demo_request", days_ago=120)
    activity(browsing, "page_view")
    defn = definition(
        min_score=80,
        required_info=["budget"],
        high_intent_activity_types=["demo_request"],
        high_intent_form_keys=["factory_visit"],
        high_intent_days=90,
    )
    assert emails(defn) == {"demo@a.jp", "form@a.jp"}


def test_exclusions_win_over_everything(scoped):
    keep = lead(email="buyer@customer-to-be.co.jp", score_total=90)
    rival = lead(email="spy@rival.co.jp", score_total=90)
    free = lead(email="someone@Gmail.com", score_total=90)
    student = lead(email="s@univ.ac.jp", score_total=90, title="大学院生")
    student2 = lead(email="s2@example.jp", score_total=90, custom_fields={"occupation": "Student"})
    unsub = lead(email="u@example.jp", score_total=90, unsubscribed=True)
    customer = lead(email="c@kokyaku.co.jp", score_total=90, company="顧客株式会社", stage="customer")
    colleague = lead(email="c2@kokyaku.co.jp", score_total=90, company="顧客株式会社")
    from leads.models import Lead

    Lead.objects.filter(company="顧客株式会社").update(company_normalized="顧客")
    for demo_lead in (rival, free, student, student2, unsub, customer, colleague, keep):
        activity(demo_lead, "demo_request")
    defn = definition(
        min_score=80,
        high_intent_activity_types=["demo_request"],
        competitor_domains=["rival.co.jp"],
        exclude_free_mail=True,
        free_mail_domains=["gmail.com"],
        exclude_students=True,
        exclude_customers=True,
        exclude_unsubscribed=True,
    )
    assert emails(defn) == {keep.email}
    off = definition(min_score=80, competitor_domains=[], exclude_free_mail=False)
    assert {rival.email, free.email, student.email, unsub.email}.issubset(emails(off))


def test_a_definition_without_conditions_qualifies_nobody(scoped):
    lead(score_total=100)
    assert emails(definition(min_score=None, segments=[], required_info=[])) == set()


def test_explain_says_why(scoped):
    subject = lead(score_total=85, budget="secured")
    why = explain(definition(min_score=80, required_info=["budget", "timing"]), subject)
    assert why == {
        "qualifies": False,
        "score_ok": True,
        "high_intent": False,
        "excluded": False,
        "missing_info": ["timing"],
    }


def test_a_null_custom_field_does_not_hide_a_lead(scoped):
    lead(email="null-occupation@a.jp", score_total=90, custom_fields={"occupation": None})
    assert emails(definition(min_score=80, exclude_students=True)) == {"null-occupation@a.jp"}
