"""Periods (week / month / quarter / year) as dates in the tenant's calendar.

Weeks start on Monday. Quarters and years follow the tenant's fiscal year (April by default,
as at most Japanese companies). A period is `[start, end)` in local days; `bounds()` turns it
into aware datetimes in the tenant's timezone, so "June" in Asia/Tokyo starts at
2026-05-31 15:00 UTC.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _

from tenants.params import EARLIEST_DATE, LATEST_DATE, date_in_range  # noqa: F401  (re-exported)

KINDS = ("week", "month", "quarter", "year")
# The dates a period may be chosen from (forms and API alike) are tenants.params' range: clear of the
# calendar's edges, where the quarter/year containing a date would start before year 1.


def add_months(day: dt.date, months: int) -> dt.date:
    """First day of the month `months` after day's month."""
    index = day.year * 12 + (day.month - 1) + months
    return dt.date(index // 12, index % 12 + 1, 1)


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


@dataclass(frozen=True, order=True)
class Period:
    kind: str
    start: dt.date
    fiscal_start_month: int = 4

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Unknown period kind {self.kind!r}")

    # ------------------------------------------------------------------ construction
    @classmethod
    def containing(cls, kind: str, day: dt.date, fiscal_start_month: int = 4) -> Period:
        """The period of `kind` that contains local date `day`."""
        if kind == "week":
            return cls(kind, week_start(day), fiscal_start_month)
        if kind == "month":
            return cls(kind, month_start(day), fiscal_start_month)
        months = 3 if kind == "quarter" else 12
        offset = (day.month - fiscal_start_month) % months
        return cls(kind, add_months(month_start(day), -offset), fiscal_start_month)

    # ------------------------------------------------------------------ arithmetic
    @property
    def end(self) -> dt.date:
        """First day after the period."""
        if self.kind == "week":
            return self.start + dt.timedelta(days=7)
        return add_months(self.start, {"month": 1, "quarter": 3, "year": 12}[self.kind])

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    def shift(self, count: int) -> Period:
        if self.kind == "week":
            return Period(self.kind, self.start + dt.timedelta(days=7 * count), self.fiscal_start_month)
        step = {"month": 1, "quarter": 3, "year": 12}[self.kind]
        return Period(self.kind, add_months(self.start, step * count), self.fiscal_start_month)

    def previous(self) -> Period:
        return self.shift(-1)

    def next(self) -> Period:
        return self.shift(1)

    def contains(self, day: dt.date) -> bool:
        return self.start <= day < self.end

    def months(self) -> list[dt.date]:
        """First days of the calendar months this period covers (weeks: months they touch)."""
        if self.kind == "week":
            first, last = month_start(self.start), month_start(self.end - dt.timedelta(days=1))
            return [first] if first == last else [first, last]
        count = {"month": 1, "quarter": 3, "year": 12}[self.kind]
        return [add_months(self.start, i) for i in range(count)]

    def sub_periods(self, kind: str) -> list[Period]:
        """Periods of `kind` that overlap this one (weeks may stick out at the edges)."""
        out: list[Period] = []
        current = Period.containing(kind, self.start, self.fiscal_start_month)
        while current.start < self.end:
            out.append(current)
            current = current.next()
        return out

    def bounds(self, tz: ZoneInfo | str) -> tuple[dt.datetime, dt.datetime]:
        """[start, end) as aware datetimes at local midnight."""
        zone = ZoneInfo(tz) if isinstance(tz, str) else tz
        return (
            dt.datetime.combine(self.start, dt.time(), tzinfo=zone),
            dt.datetime.combine(self.end, dt.time(), tzinfo=zone),
        )

    # ------------------------------------------------------------------ labels
    @property
    def fiscal_year(self) -> int:
        """The fiscal year (named after the calendar year it starts in)."""
        return self.start.year if self.start.month >= self.fiscal_start_month else self.start.year - 1

    @property
    def label(self) -> str:
        if self.kind == "week":
            return _("Week of %(date)s") % {"date": self.start.strftime("%Y/%m/%d")}
        if self.kind == "month":
            return _("%(year)s/%(month)s") % {"year": self.start.year, "month": self.start.month}
        if self.kind == "quarter":
            fy_start = dt.date(self.fiscal_year, self.fiscal_start_month, 1)
            number = ((self.start.year - fy_start.year) * 12 + self.start.month - fy_start.month) // 3 + 1
            last = add_months(self.start, 2)
            return _("FY%(year)s Q%(number)s (%(first)s–%(last)s)") % {
                "year": self.fiscal_year,
                "number": number,
                "first": self.start.strftime("%Y/%m"),
                "last": last.strftime("%Y/%m"),
            }
        if self.fiscal_start_month == 1:
            return _("%(year)s") % {"year": self.start.year}
        return _("FY%(year)s (%(first)s–%(last)s)") % {
            "year": self.fiscal_year,
            "first": self.start.strftime("%Y/%m"),
            "last": add_months(self.start, 11).strftime("%Y/%m"),
        }

    @property
    def short_label(self) -> str:
        """Compact label for table headers."""
        if self.kind == "week":
            return self.start.strftime("%m/%d")
        if self.kind == "month":
            return self.start.strftime("%Y/%m")
        if self.kind == "quarter":
            return self.label.split(" ")[0]
        return _("FY%(year)s") % {"year": self.fiscal_year} if self.fiscal_start_month != 1 else str(self.start.year)

    @property
    def axis_label(self) -> str:
        """Shortest label for chart axes: 12月 / Dec (January shows the year), 11/16 for weeks."""
        from django.utils.translation import get_language

        if self.kind == "week":
            return f"{self.start.month}/{self.start.day}"
        if self.kind != "month":
            return self.short_label
        ja = (get_language() or "ja").startswith("ja")
        text = f"{self.start.month}月" if ja else self.start.strftime("%b")
        return f"{self.start.year % 100:02d}/{text}" if self.start.month == 1 else text

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.start.isoformat()}"

    def __str__(self) -> str:
        return self.label


def local_today(tz: ZoneInfo | str) -> dt.date:
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    return dt.datetime.now(tz=zone).date()


def local_date(moment: dt.datetime, tz: ZoneInfo | str) -> dt.date:
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    return moment.astimezone(zone).date()


def last_closed(kind: str, today: dt.date, fiscal_start_month: int = 4) -> Period:
    """The most recent period of `kind` that has fully ended before `today`."""
    return Period.containing(kind, today, fiscal_start_month).previous()
