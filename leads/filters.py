"""One FilterSet for the lead list: the UI list, the CSV export and the REST API all use it."""

from __future__ import annotations

import datetime as dt

import django_filters
from django import forms
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_filters.fields import IsoDateTimeField

from tenants.context import current_tenant_id
from tenants.params import parse_id

from . import selectors
from .defaults import DEFAULT_CHANNELS
from .models import CustomFieldType, Lead, Segment, SizeBand, Stage
from .normalize import nfkc


class UTCIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 filter value, compared in UTC: PostgreSQL refuses offsets beyond ±15:59 that Python
    accepts (e.g. +16:04), which would otherwise fail the query instead of answering."""

    def to_python(self, value):
        moment = super().to_python(value)
        if moment is None or moment.tzinfo is None:
            return moment
        try:
            return moment.astimezone(dt.UTC)
        except OverflowError:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None


class UTCIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """The date-time filter of every filter set (lead list, activities, MQL history)."""

    field_class = UTCIsoDateTimeField


LAST_ACTIVITY_CHOICES = [
    ("7d", _("Within 7 days")),
    ("30d", _("Within 30 days")),
    ("90d", _("Within 90 days")),
    ("over_90d", _("No activity for 90+ days")),
    ("never", _("No activity yet")),
]

# Sort keys of the list (the "o" parameter) → model field; keyset pagination adds the id.
SORT_FIELDS = {
    "score": "score_total",
    "last_activity": "last_activity_at",
    "name": "name",
    "company": "company",
    "stage": "stage",
    "created": "id",
    "employees": "employee_count",
}
DEFAULT_SORT = "-created"


class LeadFilterSet(django_filters.FilterSet):
    """Search + filters of the lead list (Japanese text included)."""

    q = django_filters.CharFilter(
        method="filter_search", label=_("Search"), widget=forms.TextInput(attrs={"type": "search"})
    )
    stage = django_filters.MultipleChoiceFilter(choices=Stage.choices, label=_("Stage"))
    segment = django_filters.MultipleChoiceFilter(
        choices=[*Segment.choices, ("none", _("No segment yet"))],
        method="filter_segment",
        label=_("Segment"),
    )
    owner = django_filters.ChoiceFilter(method="filter_owner", label=_("Owner"), empty_label=_("Any owner"))
    channel = django_filters.MultipleChoiceFilter(label=_("Channel"))
    industry = django_filters.CharFilter(field_name="industry", lookup_expr="exact", label=_("Industry"))
    size_band = django_filters.MultipleChoiceFilter(choices=[c for c in SizeBand.choices if c[0]], label=_("Size"))
    score_min = django_filters.NumberFilter(field_name="score_total", lookup_expr="gte", label=_("Score from"))
    score_max = django_filters.NumberFilter(field_name="score_total", lookup_expr="lte", label=_("Score to"))
    last_activity = django_filters.ChoiceFilter(
        choices=LAST_ACTIVITY_CHOICES,
        method="filter_last_activity",
        label=_("Last activity"),
        empty_label=_("Any time"),
    )
    last_activity_after = UTCIsoDateTimeFilter(
        field_name="last_activity_at", lookup_expr="gte", label=_("Last activity from")
    )
    last_activity_before = UTCIsoDateTimeFilter(
        field_name="last_activity_at", lookup_expr="lt", label=_("Last activity before")
    )
    email = django_filters.CharFilter(method="filter_email", label=_("Email"))

    class Meta:
        model = Lead
        fields: list[str] = []

    def __init__(self, data=None, *args, **kwargs):
        if data is not None and hasattr(data, "lists"):
            # A GET form sends empty selects as "stage=": they mean "any", not an invalid choice.
            cleaned = data.copy()
            for key, values in data.lists():
                kept = [value for value in values if value != ""]
                if kept:
                    cleaned.setlist(key, kept)
                else:
                    cleaned.pop(key)
            data = cleaned
        super().__init__(data, *args, **kwargs)
        self._request_user = getattr(kwargs.get("request"), "user", None)
        self.custom_definitions = []
        if current_tenant_id() is None:
            # OpenAPI schema generation: describe the filters without reading any tenant's data.
            self.filters["channel"].extra["choices"] = [(key, label) for key, label in DEFAULT_CHANNELS]
            self.filters["owner"].extra["choices"] = [("me", _("Me")), ("none", _("No owner"))]
            return
        self.filters["channel"].extra["choices"] = [(c.key, c.label) for c in selectors.channels(include_inactive=True)]
        members = selectors.member_choices()
        self.filters["owner"].extra["choices"] = [("me", _("Me")), ("none", _("No owner"))] + [
            (str(user.pk), user.display_name) for user in members
        ]
        # Tenant-defined fields that are marked as filters: exact match on the stored JSON value.
        self.custom_definitions = [d for d in selectors.custom_field_definitions() if d.filterable]
        for definition in self.custom_definitions:
            name = f"cf_{definition.key}"
            if definition.field_type == CustomFieldType.CHOICE:
                self.filters[name] = django_filters.ChoiceFilter(
                    choices=[(c, c) for c in definition.choices],
                    method="filter_custom",
                    label=definition.label,
                    empty_label=_("Any"),
                )
            elif definition.field_type == CustomFieldType.BOOLEAN:
                self.filters[name] = django_filters.ChoiceFilter(
                    choices=[("true", _("Yes")), ("false", _("No"))],
                    method="filter_custom",
                    label=definition.label,
                    empty_label=_("Any"),
                )
            else:
                self.filters[name] = django_filters.CharFilter(method="filter_custom", label=definition.label)
            self.filters[name].model = Lead
            self.filters[name].parent = self

    def filter_search(self, queryset, name, value):
        terms = {value.strip(), nfkc(value).strip()} - {""}
        condition = Q()
        for term in terms:
            condition |= Q(name__icontains=term) | Q(email__icontains=term) | Q(company__icontains=term)
        return queryset.filter(condition) if terms else queryset

    def filter_email(self, queryset, name, value):
        from .normalize import normalize_email

        return queryset.filter(email=normalize_email(value))

    def filter_segment(self, queryset, name, values):
        condition = Q()
        for value in values:
            condition |= Q(segment="") if value == "none" else Q(segment=value)
        return queryset.filter(condition)

    def filter_owner(self, queryset, name, value):
        if value == "none":
            return queryset.filter(owner__isnull=True)
        if value == "me":
            user = self._request_user
            return queryset.filter(owner_id=getattr(user, "pk", None)) if getattr(user, "pk", None) else queryset.none()
        return queryset.filter(owner_id=parse_id(value))  # a choice of the list: a member's id

    def filter_last_activity(self, queryset, name, value):
        now = timezone.now()
        if value == "never":
            return queryset.filter(last_activity_at__isnull=True)
        if value == "over_90d":
            return queryset.filter(Q(last_activity_at__lt=now - dt.timedelta(days=90)))
        days = {"7d": 7, "30d": 30, "90d": 90}[value]
        return queryset.filter(last_activity_at__gte=now - dt.timedelta(days=days))

    def filter_custom(self, queryset, name, value):
        key = name.removeprefix("cf_")
        definition = next((d for d in self.custom_definitions if d.key == key), None)
        if definition is None or value in (None, ""):
            return queryset
        if definition.field_type == CustomFieldType.BOOLEAN:
            return queryset.filter(**{f"custom_fields__{key}": value == "true"})
        if definition.field_type == CustomFieldType.NUMBER:
            try:
                number = float(nfkc(value).replace(",", ""))
            except ValueError:
                return queryset.none()
            return queryset.filter(**{f"custom_fields__{key}": int(number) if number.is_integer() else number})
        return queryset.filter(**{f"custom_fields__{key}": value})

    @property
    def active_count(self) -> int:
        """How many filters are set (shown on the filter toggle)."""
        data = self.form.cleaned_data if self.form.is_bound and self.form.is_valid() else {}
        return sum(1 for key, value in data.items() if key != "q" and value not in (None, "", [], ()))
