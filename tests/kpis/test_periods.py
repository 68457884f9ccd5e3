"""Periods in the tenant's calendar: Monday weeks, fiscal quarters, local midnight bounds."""

import datetime as dt
from zoneinfo import ZoneInfo

from django.utils import translation

from kpis.periods import Period, last_closed


def test_periods_containing_a_day():
    day = dt.date(2026, 11, 22)  # a Sunday
    assert Period.containing("week", day).start == dt.date(2026, 11, 16)
    assert Period.containing("month", day).start == dt.date(2026, 11, 1)
    assert Period.containing("quarter", day).start == dt.date(2026, 10, 1)  # April fiscal year: Q3
    assert Period.containing("year", day).start == dt.date(2026, 4, 1)
    assert Period.containing("year", dt.date(2027, 2, 1)).start == dt.date(2026, 4, 1)
    assert Period.containing("quarter", day, fiscal_start_month=1).start == dt.date(2026, 10, 1)
    assert Period.containing("year", day, fiscal_start_month=1).start == dt.date(2026, 1, 1)


def test_arithmetic():
    march = Period("month", dt.date(2026, 3, 1))
    assert march.end == dt.date(2026, 4, 1) and march.days == 31
    assert march.next().start == dt.date(2026, 4, 1) and march.previous().start == dt.date(2026, 2, 1)
    assert Period("quarter", dt.date(2026, 1, 1)).shift(1).start == dt.date(2026, 4, 1)
    assert len(Period("year", dt.date(2026, 4, 1)).sub_periods("week")) == 53
    assert last_closed("month", dt.date(2026, 11, 22)).start == dt.date(2026, 10, 1)


def test_bounds_are_local_midnight_in_tokyo():
    start, end = Period("month", dt.date(2026, 6, 1)).bounds("Asia/Tokyo")
    assert start.astimezone(ZoneInfo("UTC")) == dt.datetime(2026, 5, 31, 15, 0, tzinfo=ZoneInfo("UTC"))
    assert end.astimezone(ZoneInfo("UTC")) == dt.datetime(2026, 6, 30, 15, 0, tzinfo=ZoneInfo("UTC"))


def test_labels_in_both_languages():
    quarter = Period("quarter", dt.date(2026, 10, 1))
    with translation.override("ja"):
        assert Period("month", dt.date(2026, 6, 1)).label == "2026年6月"
        assert quarter.label == "2026年度 第3四半期(2026/10〜2026/12)"
        assert Period("year", dt.date(2026, 4, 1)).label == "2026年度(2026/04〜2027/03)"
    with translation.override("en"):
        assert Period("month", dt.date(2026, 6, 1)).label == "2026/6"
        assert quarter.label == "FY2026 Q3 (2026/10–2026/12)"
