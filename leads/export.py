"""CSV export of the (filtered) lead list: UTF-8 with BOM (Excel opens Japanese correctly), streamed,
and every cell that a spreadsheet would run as a formula escaped (tenants.csvutil)."""

from __future__ import annotations

from collections.abc import Iterator

from django.utils import timezone
from django.utils.translation import gettext as _

from tenants.csvutil import csv_lines
from tenants.streaming import stream_in_tenant

from .models import Authority, Budget, SizeBand, Stage, Timing


def _columns(channel_labels: dict[str, str], custom_definitions: list) -> list[tuple[str, object]]:
    stages, sizes = dict(Stage.choices), dict(SizeBand.choices)
    authority, budget, timing = dict(Authority.choices), dict(Budget.choices), dict(Timing.choices)
    local = timezone.get_current_timezone()

    def when(value):
        return value.astimezone(local).strftime("%Y/%m/%d %H:%M") if value else ""

    columns: list[tuple[str, object]] = [
        (_("Email"), lambda lead: lead.email),
        (_("Name"), lambda lead: lead.name),
        (_("Company"), lambda lead: lead.company),
        (_("Job title"), lambda lead: lead.title),
        (_("Department"), lambda lead: lead.department),
        (_("Employees"), lambda lead: lead.employee_count if lead.employee_count is not None else ""),
        (_("Company size band"), lambda lead: sizes.get(lead.size_band, lead.size_band) if lead.size_band else ""),
        (_("Industry"), lambda lead: lead.industry),
        (_("Phone"), lambda lead: lead.phone),
        (_("Source channel"), lambda lead: channel_labels.get(lead.channel, lead.channel)),
        (_("Campaign"), lambda lead: lead.campaign),
        (_("Owner"), lambda lead: lead.owner.email if lead.owner_id else ""),
        (_("Stage"), lambda lead: stages.get(lead.stage, lead.stage)),
        (_("Decision authority"), lambda lead: authority.get(lead.authority, "") if lead.authority else ""),
        (_("Need / challenge"), lambda lead: lead.need),
        (_("Budget"), lambda lead: budget.get(lead.budget, "") if lead.budget else ""),
        (_("Timing"), lambda lead: timing.get(lead.timing, "") if lead.timing else ""),
        (_("Score"), lambda lead: lead.score_total),
        (_("Segment"), lambda lead: lead.segment),
        (_("First seen"), lambda lead: when(lead.first_seen_at)),
        (_("Last activity"), lambda lead: when(lead.last_activity_at)),
        (_("Unsubscribed"), lambda lead: _("Yes") if lead.unsubscribed else _("No")),
    ]
    for definition in custom_definitions:
        columns.append((definition.label, lambda lead, key=definition.key: (lead.custom_fields or {}).get(key, "")))
    return columns


def stream_csv(
    *, tenant_id: int, queryset, channel_labels: dict[str, str], custom_definitions: list, language: str
) -> Iterator[bytes]:
    """Rows of the export, produced lazily (after the view returned: it re-enters the tenant scope)."""

    def rows():
        columns = _columns(channel_labels, custom_definitions)
        yield [title for title, _getter in columns]
        # The queryset was built (and scoped) in the view; it is evaluated here, inside the scope again.
        for lead in queryset.select_related("owner").order_by("-id").iterator(chunk_size=2000):
            yield [getter(lead) for _title, getter in columns]

    return stream_in_tenant(tenant_id, csv_lines(rows()), language=language)
