"""Every rule kind, with boundary values. Each score is computed by the set-based SQL and by the
Python reference, and both must agree (score_both asserts it)."""

from datetime import timedelta

import pytest

from scoring import engine
from scoring.evaluate import BehaviourSpec, FitSpec, ModelSpec, SegmentSpec

from .conftest import AS_OF, score_both

SEGMENTS = (
    SegmentSpec("hot", "ホットリード", 80),
    SegmentSpec("warm", "ウォームリード", 50),
    SegmentSpec("cold", "コールドリード", None),
)


def spec(behaviour=(), fit=(), **caps) -> ModelSpec:
    return ModelSpec(version=1, behaviour=tuple(behaviour), fit=tuple(fit), segments=SEGMENTS, **caps)


def fixed_points(points: int) -> FitSpec:
    """A fit rule every lead matches (email is always set): lets a test pin an exact total."""
    return FitSpec(None, "base", "email_domain", "is_set", points)


# --- the seed sheet's examples, scored exactly ---------------------------------------------------------


@pytest.mark.parametrize(
    ("activity", "points"),
    [
        ("email_open", 5),
        ("email_click", 10),
        ("download", 20),
        ("pricing_view", 25),
        ("form_start", 15),
        ("webinar_attend", 20),
    ],
)
def test_seed_behaviour_items(model, make_lead, act, activity, points):
    lead = make_lead()
    act(lead, activity)
    act(lead, activity, days_ago=3)  # counted once by default
    assert score_both(engine.spec_for(model), [lead.pk])[lead.pk] == (points, 0, points, "cold")


def test_seed_revisit_twice_a_week(model, make_lead, act):
    revisit, once, apart = make_lead(), make_lead(), make_lead()
    act(revisit, "page_view", days_ago=10)
    act(revisit, "page_view", days_ago=4)
    act(once, "page_view", days_ago=1)
    act(apart, "page_view", days_ago=20)
    act(apart, "page_view", days_ago=1)
    scores = score_both(engine.spec_for(model), [revisit.pk, once.pk, apart.pk])
    assert scores[revisit.pk][0] == 10
    assert scores[once.pk][0] == 0
    assert scores[apart.pk][0] == 0


@pytest.mark.parametrize(
    ("title", "points"),
    [
        ("代表取締役社長", 30),
        ("CEO", 30),
        ("ｃｅｏ", 30),
        ("Co-Founder / CTO", 30),
        ("執行役員", 30),
        ("営業部長", 20),
        ("マーケティングマネージャー", 20),
        ("ﾏﾈｰｼﾞｬｰ", 20),
        ("Sales Manager", 20),
        ("Director", 20),
        ("取締役部長", 30),
        ("担当", 10),
        ("営業スタッフ", 10),
        ("担当部長", 20),
        ("エンジニア", 0),
        ("", 0),
        ("Doctor", 0),
        ("Actor", 0),
    ],
)
def test_seed_title_rules(model, make_lead, title, points):
    lead = make_lead(title=title)
    assert score_both(engine.spec_for(model), [lead.pk])[lead.pk][1] == points


@pytest.mark.parametrize(
    ("employees", "points"),
    [(None, 0), (49, 0), (50, 15), (99, 15), (100, 20), (499, 20), (500, 25), (120000, 25)],
)
def test_seed_company_size_boundaries(model, make_lead, employees, points):
    lead = make_lead(employee_count=employees)
    assert score_both(engine.spec_for(model), [lead.pk])[lead.pk][1] == points


@pytest.mark.parametrize(
    ("industry", "points"),
    [
        ("IT・ソフトウェア", 20),
        ("ITサービス", 20),
        ("SaaS", 20),
        ("情報通信業", 20),
        ("ｓｏｆｔｗａｒｅ", 20),
        ("製造業", 10),
        ("Manufacturing", 10),
        ("小売", 0),
        ("Digital media", 0),
    ],
)
def test_seed_industry_rules(model, make_lead, industry, points):
    lead = make_lead(industry=industry)
    assert score_both(engine.spec_for(model), [lead.pk])[lead.pk][1] == points


def test_seed_sheet_worked_example_is_hot(model, make_lead, act):
    # 取締役 (30) at a 600-person IT company (25 + 20) who viewed pricing (25) and downloaded (20): 120.
    lead = make_lead(title="取締役", employee_count=600, industry="IT・ソフトウェア")
    act(lead, "pricing_view")
    act(lead, "download")
    assert score_both(engine.spec_for(model), [lead.pk])[lead.pk] == (45, 75, 120, "hot")


# --- segments: 79/80 and 49/50 ----------------------------------------------------------------------------


@pytest.mark.parametrize(("total", "segment"), [(80, "hot"), (79, "warm"), (50, "warm"), (49, "cold"), (-5, "cold")])
def test_segment_boundaries(scoped, make_lead, total, segment):
    lead = make_lead()
    assert score_both(spec(fit=[fixed_points(total)]), [lead.pk])[lead.pk] == (0, total, total, segment)


# --- behaviour rule options --------------------------------------------------------------------------------


def test_counting_once_every_time_and_at_most(scoped, make_lead, act):
    lead = make_lead()
    for day in range(5):
        act(lead, "email_open", days_ago=day + 1)
    rules = [
        BehaviourSpec(1, "once", "email_open", 5, count_mode="once"),
        BehaviourSpec(2, "every", "email_open", 5, count_mode="every"),
        BehaviourSpec(3, "at most 3", "email_open", 5, count_mode="at_most", max_count=3),
    ]
    for rule, expected in zip(rules, (5, 25, 15), strict=True):
        assert score_both(spec([rule]), [lead.pk])[lead.pk][0] == expected


def test_negative_points(scoped, make_lead, act):
    lead = make_lead()
    act(lead, "unsubscribe")
    rule = BehaviourSpec(1, "unsubscribed", "unsubscribe", -30)
    assert score_both(spec([rule]), [lead.pk])[lead.pk] == (-30, 0, -30, "cold")


def test_url_content_and_campaign_conditions(scoped, make_lead, act):
    lead = make_lead()
    act(lead, "page_view", url="https://example.jp/pricing?plan=pro")
    act(lead, "download", properties={"content_id": "wp-42"}, campaign="spring")
    rules = [
        BehaviourSpec(1, "pricing", "page_view", 25, url_match="contains", url_value="/pricing"),
        BehaviourSpec(2, "pricing exact", "page_view", 7, url_match="equals", url_value="https://example.jp/pricing"),
        BehaviourSpec(3, "wp42", "download", 20, content_id="wp-42"),
        BehaviourSpec(4, "wp1", "download", 100, content_id="wp-1"),
        BehaviourSpec(5, "spring", "download", 3, campaign="spring"),
        BehaviourSpec(6, "autumn", "download", 300, campaign="autumn"),
    ]
    assert score_both(spec(rules), [lead.pk])[lead.pk][0] == 25 + 20 + 3


def test_frequency_window_edges(scoped, make_lead, act):
    inside, outside, three = make_lead(), make_lead(), make_lead()
    act(inside, "page_view", at=AS_OF - timedelta(days=9))
    act(inside, "page_view", at=AS_OF - timedelta(days=2))  # exactly 7 days later: counts
    act(outside, "page_view", at=AS_OF - timedelta(days=9))
    act(outside, "page_view", at=AS_OF - timedelta(days=2) + timedelta(seconds=1))  # 7 days + 1 s: does not
    for days in (30, 20, 14, 8):
        act(three, "page_view", days_ago=days)  # never 3 within 7 days (gaps of 10, 6, 6)
    rule2 = BehaviourSpec(1, "2 in 7 days", "page_view", 10, min_count=2, window_days=7)
    rule3 = BehaviourSpec(1, "3 in 7 days", "page_view", 10, min_count=3, window_days=7)
    scores = score_both(spec([rule2]), [inside.pk, outside.pk])
    assert scores[inside.pk][0] == 10
    assert scores[outside.pk][0] == 0
    assert score_both(spec([rule3]), [three.pk])[three.pk][0] == 0
    act(three, "page_view", days_ago=9)  # 14, 9, 8 → three within 6 days
    assert score_both(spec([rule3]), [three.pk])[three.pk][0] == 10


def test_recency_window_edges(scoped, make_lead, act):
    edge, older = make_lead(), make_lead()
    act(edge, "download", at=AS_OF - timedelta(days=30))
    act(older, "download", at=AS_OF - timedelta(days=30, seconds=1))
    rule = BehaviourSpec(1, "recent download", "download", 20, recency_days=30)
    scores = score_both(spec([rule]), [edge.pk, older.pk])
    assert scores[edge.pk][0] == 20
    assert scores[older.pk][0] == 0


def test_decay_halves_every_n_days(scoped, make_lead, act):
    now, week, fortnight = make_lead(), make_lead(), make_lead()
    act(now, "download", at=AS_OF)
    act(week, "download", at=AS_OF - timedelta(days=7))
    act(fortnight, "download", at=AS_OF - timedelta(days=14))
    rule = BehaviourSpec(1, "download", "download", 20, half_life_days=7)
    scores = score_both(spec([rule]), [now.pk, week.pk, fortnight.pk])
    assert [scores[i][0] for i in (now.pk, week.pk, fortnight.pk)] == [20, 10, 5]


def test_decay_every_time_and_at_most(scoped, make_lead, act):
    lead = make_lead()
    for days in (0, 7, 14, 21):
        act(lead, "email_click", at=AS_OF - timedelta(days=days))
    every = BehaviourSpec(1, "click", "email_click", 16, count_mode="every", half_life_days=7)
    two = BehaviourSpec(1, "click", "email_click", 16, count_mode="at_most", max_count=2, half_life_days=7)
    assert score_both(spec([every]), [lead.pk])[lead.pk][0] == 30  # 16 + 8 + 4 + 2
    assert score_both(spec([two]), [lead.pk])[lead.pk][0] == 24  # the two most recent


def test_decay_is_explained(scoped, make_lead, act):
    lead = make_lead()
    act(lead, "download", at=AS_OF - timedelta(days=7))
    rule = BehaviourSpec(1, "資料ダウンロード", "download", 20, half_life_days=7)
    fired = engine.score_python(spec([rule]), [lead.pk], AS_OF)[lead.pk].fired
    assert [(f.kind, f.points, f.count) for f in fired] == [("behaviour", 20, 1), ("decay", -10, 0)]


def test_caps_on_sub_totals(scoped, make_lead, act):
    lead = make_lead(title="CEO", employee_count=1000)
    for activity in ("download", "pricing_view", "webinar_attend"):
        act(lead, activity)
    behaviour = [BehaviourSpec(i, t, t, 30) for i, t in enumerate(("download", "pricing_view", "webinar_attend"))]
    fit = [
        FitSpec(1, "ceo", "title", "contains_any", 30, values=("CEO",)),
        FitSpec(2, "big", "employee_count", "range", 25, number_min=500),
    ]
    assert score_both(spec(behaviour, fit, behaviour_cap=60, fit_cap=40), [lead.pk])[lead.pk] == (60, 40, 100, "hot")


# --- fit rule operators ------------------------------------------------------------------------------------


def test_fit_operators_and_bant_fields(scoped, make_lead):
    lead = make_lead(
        budget="secured",
        timing="within_3m",
        authority="decision_maker",
        need="基幹システム刷新",
        industry="",
        custom_fields={"plan": "Enterprise", "seats": "120"},
    )
    rules = [
        FitSpec(1, "budget", "budget", "equals", 20, values=("secured",)),
        FitSpec(2, "timing", "timing", "in", 15, values=("within_3m", "within_6m")),
        FitSpec(3, "authority", "authority", "equals", 15, values=("decision_maker",)),
        FitSpec(4, "need known", "need", "is_set", 5),
        FitSpec(5, "industry unknown", "industry", "is_empty", -5),
        FitSpec(6, "plan", "custom:plan", "equals", 7, values=("ENTERPRISE",)),
        FitSpec(7, "seats", "custom:seats", "range", 3, number_min=100, number_max=200),
        FitSpec(8, "no budget", "budget", "equals", -50, values=("none",)),
    ]
    assert score_both(spec(fit=rules), [lead.pk])[lead.pk][1] == 20 + 15 + 15 + 5 - 5 + 7 + 3


def test_fit_group_counts_the_best_match_only(scoped, make_lead):
    lead = make_lead(title="取締役 兼 営業部長")
    rules = [
        FitSpec(1, "exec", "title", "contains_any", 30, values=("取締役",), group="役職"),
        FitSpec(2, "mgr", "title", "contains_any", 20, values=("部長",), group="役職"),
        FitSpec(3, "mgr again", "title", "contains_any", 5, values=("部長",)),
    ]
    assert score_both(spec(fit=rules), [lead.pk])[lead.pk][1] == 35
