"""Data quality of the active tenant's leads, as module functions (the data-quality page and the
diagnostics both call these). Each is one or two aggregate queries (ORM).

- attribute_completeness(): % of leads missing each key attribute (industry, title, company size, BANT, ...)
- duplicate_summary(): leads sharing normalised company + name, and the review queue
- stale_leads(days=90): leads with no activity in the last N days
- invalid_emails(): addresses that are not valid email syntax, and free-mail addresses
- activity_volume(weeks=12): activities per type per week
- quality_report(): all of the above
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncWeek
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import Activity, DuplicateCandidate, DuplicateStatus, Lead
from .validation import EMAIL_SQL_REGEX

# Key attributes and what "missing" means for each. Diagnostics read the first seven by these names.
ATTRIBUTES: dict[str, tuple[Any, Q]] = {
    "industry": (_("Industry"), Q(industry="")),
    "title": (_("Job title"), Q(title="")),
    "company_size": (_("Company size"), Q(employee_count__isnull=True) & Q(size_band="")),
    "authority": (_("Decision authority"), Q(authority="")),
    "need": (_("Need / challenge"), Q(need="")),
    "budget": (_("Budget"), Q(budget="")),
    "timing": (_("Timing"), Q(timing="")),
    "company": (_("Company"), Q(company="")),
    "phone": (_("Phone"), Q(phone="")),
    "channel": (_("Source channel"), Q(channel="")),
    "owner": (_("Owner"), Q(owner__isnull=True)),
}

FREE_MAIL_DOMAINS = [
    "gmail.com",
    "yahoo.co.jp",
    "ymail.ne.jp",
    "hotmail.com",
    "hotmail.co.jp",
    "outlook.com",
    "outlook.jp",
    "live.jp",
    "icloud.com",
    "me.com",
    "docomo.ne.jp",
    "ezweb.ne.jp",
    "au.com",
    "softbank.ne.jp",
    "i.softbank.jp",
    "nifty.com",
    "biglobe.ne.jp",
    "ocn.ne.jp",
    "so-net.ne.jp",
]


def _pct(part: int, total: int) -> float:
    return round(100.0 * part / total, 1) if total else 0.0


def attribute_completeness() -> dict[str, Any]:
    """{'total': n, 'missing': {field: count}, 'missing_pct': {field: %}, 'labels': {field: label}}."""
    aggregates = {name: Count("id", filter=condition) for name, (_label, condition) in ATTRIBUTES.items()}
    counts = Lead.objects.aggregate(total=Count("id"), **aggregates)
    total = counts.pop("total") or 0
    return {
        "total": total,
        "missing": counts,
        "missing_pct": {name: _pct(counts[name], total) for name in ATTRIBUTES},
        "labels": {name: label for name, (label, _condition) in ATTRIBUTES.items()},
    }


def duplicate_summary(*, sample: int = 10) -> dict[str, Any]:
    """Leads that share normalised company + name with another lead, and the open review queue."""
    total = Lead.objects.count()
    groups = (
        Lead.objects.exclude(company_normalized="")
        .exclude(name_normalized="")
        .values("company_normalized", "name_normalized")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    agg = groups.aggregate(groups=Count("company_normalized"), leads=Sum("n"))
    duplicate_leads = int(agg["leads"] or 0)
    open_pairs = DuplicateCandidate.objects.filter(status=DuplicateStatus.OPEN)
    return {
        "total": total,
        "groups": int(agg["groups"] or 0),
        "duplicate_leads": duplicate_leads,
        "duplicate_pct": _pct(duplicate_leads, total),
        "open_candidates": open_pairs.count(),
        "sample": list(open_pairs.select_related("lead_a", "lead_b").order_by("-id")[:sample]),
    }


def stale_leads(*, days: int = 90, now: dt.datetime | None = None) -> dict[str, Any]:
    """Leads with no activity in the last `days` days (never active ones included)."""
    cutoff = (now or timezone.now()) - dt.timedelta(days=days)
    counts = Lead.objects.aggregate(
        total=Count("id"),
        stale=Count("id", filter=Q(last_activity_at__lt=cutoff) | Q(last_activity_at__isnull=True)),
        never=Count("id", filter=Q(last_activity_at__isnull=True)),
    )
    total = counts["total"] or 0
    return {
        "days": days,
        "total": total,
        "stale": counts["stale"],
        "never": counts["never"],
        "stale_pct": _pct(counts["stale"], total),
    }


def invalid_emails(*, sample: int = 10) -> dict[str, Any]:
    """Addresses that are not valid email syntax; and free-mail (personal) addresses, a B2B warning sign."""
    invalid = Lead.objects.exclude(email__regex=EMAIL_SQL_REGEX)
    free = Q()
    for domain in FREE_MAIL_DOMAINS:
        free |= Q(email__endswith=f"@{domain}")
    counts = Lead.objects.aggregate(total=Count("id"), free=Count("id", filter=free))
    invalid_count = invalid.count()
    total = counts["total"] or 0
    return {
        "total": total,
        "invalid": invalid_count,
        "invalid_pct": _pct(invalid_count, total),
        "free_mail": counts["free"],
        "free_mail_pct": _pct(counts["free"], total),
        "sample": list(invalid.values("id", "email", "name")[:sample]),
    }


def activity_volume(*, weeks: int = 12, now: dt.datetime | None = None) -> dict[str, Any]:
    """Activities per type per week for the last `weeks` weeks (weeks start on Monday, tenant time)."""
    now = now or timezone.now()
    local_today = timezone.localtime(now).date()
    first_monday = local_today - dt.timedelta(days=local_today.weekday() + 7 * (weeks - 1))
    start = timezone.make_aware(dt.datetime.combine(first_monday, dt.time.min))
    rows = (
        Activity.objects.filter(occurred_at__gte=start, occurred_at__lte=now)
        .annotate(week=TruncWeek("occurred_at"))
        .values("week", "type")
        .annotate(n=Count("id"))
    )
    week_starts = [first_monday + dt.timedelta(days=7 * i) for i in range(weeks)]
    table: dict[str, dict[dt.date, int]] = {}
    for row in rows:
        week = row["week"]
        week = timezone.localtime(week).date() if isinstance(week, dt.datetime) else week
        table.setdefault(row["type"], {})[week] = table.get(row["type"], {}).get(week, 0) + row["n"]
    types = sorted(table, key=lambda t: -sum(table[t].values()))
    return {
        "weeks": week_starts,
        "types": types,
        "counts": {t: [table[t].get(w, 0) for w in week_starts] for t in types},
        "totals": [sum(table[t].get(w, 0) for t in types) for w in week_starts],
    }


def quality_report() -> dict[str, Any]:
    return {
        "completeness": attribute_completeness(),
        "duplicates": duplicate_summary(),
        "stale": stale_leads(),
        "emails": invalid_emails(),
        "activity": activity_volume(),
    }
