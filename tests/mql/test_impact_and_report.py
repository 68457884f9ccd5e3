"""The editor's impact preview and the feedback report, against hand-computed fixtures."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone, translation

from leads.models import Lead, LeadFeedback
from mql import selectors
from mql.models import Handover

from .factories import definition, lead

pytestmark = pytest.mark.django_db
JST = ZoneInfo("Asia/Tokyo")
NOW = datetime(2026, 11, 18, 12, 0, tzinfo=JST)  # a Wednesday


def arrived(item, when):
    Lead.objects.filter(pk=item.pk).update(created_at=when)


def outcome(item, kind, *, reason="", when=NOW, version=None):
    return LeadFeedback.objects.create(
        lead=item, outcome=kind, reason=reason, occurred_at=when, mql_definition_version=version
    )


def test_impact_numbers_match_the_hand_computed_fixture(scoped):
    active = definition(status="active", min_score=80)
    draft = definition(min_score=60, required_info=["budget"])
    a = lead(email="a@x.jp", score_total=90, budget="secured")
    b = lead(email="b@x.jp", score_total=90)
    c = lead(email="c@x.jp", score_total=65, budget="planned")
    d = lead(email="d@x.jp", score_total=70, budget="secured")
    e = lead(email="e@x.jp", score_total=30, budget="secured")
    f = lead(email="f@x.jp", score_total=85, budget="secured", stage="sql")
    arrived(a, datetime(2026, 11, 17, 9, 0, tzinfo=JST))
    arrived(e, datetime(2026, 11, 16, 0, 30, tzinfo=JST))
    arrived(b, datetime(2026, 11, 10, 15, 0, tzinfo=JST))
    arrived(c, datetime(2026, 11, 15, 23, 59, tzinfo=JST))  # Sunday night: still the previous week
    arrived(f, datetime(2026, 10, 28, 10, 0, tzinfo=JST))
    arrived(d, datetime(2026, 8, 20, 10, 0, tzinfo=JST))  # before the 12-week window
    outcome(a, "accepted")
    outcome(a, "won")
    outcome(b, "rejected", reason="no_budget")
    outcome(c, "accepted")
    outcome(c, "lost", reason="no_budget")
    outcome(f, "accepted")

    impact = selectors.impact(draft, active, now=NOW)

    assert (impact.total_leads, impact.qualifying_now, impact.active_now) == (6, 4, 3)
    assert (impact.entering, impact.leaving, impact.new_mqls_on_activation) == (2, 1, 3)
    assert {x.email for x in impact.entering_sample} == {"c@x.jp", "d@x.jp"}
    assert [x.email for x in impact.leaving_sample] == ["b@x.jp"]
    weeks = {w["start"].date().isoformat(): (w["arrivals"], w["new"], w["old"]) for w in impact.weeks}
    assert len(impact.weeks) == 12 and impact.weeks[0]["start"].date().isoformat() == "2026-08-31"
    assert weeks["2026-11-16"] == (2, 1, 1)
    assert weeks["2026-11-09"] == (2, 1, 1)
    assert weeks["2026-10-26"] == (1, 1, 1)
    assert sum(w[0] for w in weeks.values()) == 5
    assert impact.history["qualify"] == {
        "decided": 3,
        "accepted": 3,
        "acceptance_rate": 1.0,
        "closed": 2,
        "won": 1,
        "win_rate": 0.5,
    }
    assert impact.history["other"] == {
        "decided": 1,
        "accepted": 0,
        "acceptance_rate": 0.0,
        "closed": 0,
        "won": 0,
        "win_rate": None,
    }


def test_impact_without_an_active_version(scoped):
    draft = definition(min_score=50)
    lead(score_total=55)
    impact = selectors.impact(draft, None, now=NOW)
    assert (impact.qualifying_now, impact.active_now, impact.entering, impact.leaving) == (1, None, 1, 0)


def test_diff_lists_only_what_changed(scoped):
    old = definition(status="superseded", min_score=80, required_info=["budget"], competitor_domains=["a.co.jp"])
    new = definition(
        min_score=70,
        required_info=["budget", "timing"],
        competitor_domains=["a.co.jp"],
        sql_criteria="決裁者と面談できること",
    )
    with translation.override("en"):
        rows = {row["field"]: row for row in selectors.definition_diff(old, new)}
    assert set(rows) == {"min_score", "required_info", "sql_criteria"}
    assert (rows["min_score"]["before"], rows["min_score"]["after"]) == ("80", "70")
    assert rows["required_info"]["added"] == ["Timing"] and rows["required_info"]["removed"] == []


def test_feedback_report_figures(scoped, users, sales2):
    t = timezone.now() - timedelta(days=10)
    l1 = lead(channel="seo", campaign="webinar-nov", score_total=85, segment="hot")
    l2 = lead(channel="seo", campaign="webinar-nov", score_total=45, segment="cold")
    l3 = lead(channel="ads", campaign="", score_total=120, segment="hot")
    outcome(l1, "accepted", when=t, version=1)
    outcome(l2, "rejected", reason="no_budget", when=t, version=1)
    outcome(l3, "accepted", when=t, version=2)
    deadline = t + timedelta(hours=48)
    Handover.objects.create(
        lead=l1,
        definition_version=1,
        handed_over_at=t,
        deadline_at=deadline,
        owner=users["sales"],
        first_contact_at=t + timedelta(hours=5),
        first_contact_by=users["sales"],
    )
    Handover.objects.create(
        lead=l2,
        definition_version=1,
        handed_over_at=t,
        deadline_at=deadline,
        owner=users["sales"],
        first_contact_at=t + timedelta(hours=60),
        first_contact_by=users["sales"],
    )
    Handover.objects.create(lead=l3, definition_version=2, handed_over_at=t, deadline_at=deadline, owner=sales2)
    period = selectors.ReportPeriod(start=timezone.now() - timedelta(days=30), end=timezone.now())

    report = selectors.report(period)

    def table(rows, by="label"):
        return {row[by]: (row["decided"], row["accepted"], row["rate"]) for row in rows}

    assert report["totals"] == {"decided": 3, "accepted": 2}
    assert table(report["by_channel"], "key") == {"seo": (2, 1, 0.5), "ads": (1, 1, 1.0)}
    assert table(report["by_segment"], "key") == {"hot": (2, 2, 1.0), "cold": (1, 0, 0.0)}
    assert table(report["by_score_band"]) == {"40–59": (1, 0, 0.0), "80–99": (1, 1, 1.0), "100+": (1, 1, 1.0)}
    assert table(report["by_campaign"], "key") == {"webinar-nov": (2, 1, 0.5), "": (1, 1, 1.0)}
    assert table(report["by_definition"]) == {"v1": (2, 1, 0.5), "v2": (1, 1, 1.0)}
    reasons = report["reasons"]
    assert [(r["key"], r["total"]) for r in reasons["rows"]] == [("no_budget", 1)]
    assert sum(reasons["totals"]) == 1
    members = {row["member_id"]: row for row in report["first_contact"]}
    sales = members[users["sales"].pk]
    assert (sales["handovers"], sales["contacted"], sales["on_time"], sales["median_hours"]) == (2, 2, 1, 32.5)
    other = members[sales2.pk]
    assert (other["handovers"], other["contacted"], other["overdue_open"]) == (1, 0, 1)
