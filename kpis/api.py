"""KPI API: the summary of a period (actuals, targets, attainment, changes), targets, channel spend and
the review log. Tenant scope and queryset ownership come from TenantScopedAPIMixin."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, mixins, serializers, viewsets
from rest_framework.response import Response

from tenants.api import TenantScopedAPIMixin
from tenants.models import User

from . import selectors, services
from .forms import DashboardForm
from .models import ChannelSpend, KpiTarget, ReviewLogEntry
from .periods import Period
from .serializers import (
    ChannelSpendSerializer,
    KpiSummarySerializer,
    KpiTargetSerializer,
    KpiValueSerializer,
    ReviewLogEntrySerializer,
)


def _actor(request) -> User | None:
    """The member acting (None for an API key)."""
    return request.user if isinstance(request.user, User) else None


def _period_and_filters(request):
    members = {m.pk for m in selectors.members()}
    form = DashboardForm(
        request.query_params or None,
        today=selectors.current_period("month").start,
        fiscal_start_month=selectors.kpi_settings().fiscal_year_start_month,
        member_ids=members,
    )
    if request.query_params and not form.is_valid():
        raise serializers.ValidationError(form.errors)
    if not request.query_params:
        return selectors.current_period("month"), selectors.NO_FILTERS
    data = form.cleaned_data
    return form.period_value(), selectors.Filters(
        channel=data.get("channel") or "", campaign=data.get("campaign") or "", owner_id=data.get("owner")
    )


class KpiSummaryView(TenantScopedAPIMixin, generics.GenericAPIView):
    """Every KPI of a period with its target, attainment and change against the period before."""

    read_permission = "view"
    serializer_class = KpiSummarySerializer
    model = KpiTarget  # no rows are listed; lets schema generation describe the view without a queryset
    # One object, not a list: no pagination, and the query parameters below are validated by DashboardForm.
    pagination_class = None
    filter_backends = []

    def scoped_queryset(self):
        return KpiTarget.objects.none()

    @extend_schema(
        parameters=[
            OpenApiParameter("period", str, enum=["week", "month", "quarter", "year"]),
            OpenApiParameter("date", OpenApiTypes.DATE, description="Any date in the period, 2000-01-01 to 2100-12-31"),
            OpenApiParameter("channel", {"type": "string", "maxLength": 40}),
            OpenApiParameter("campaign", {"type": "string", "maxLength": 200}),
            OpenApiParameter(
                "owner",
                {"type": "string", "pattern": "^[0-9]{1,20}$"},
                description="User id of a member, 0 = unassigned",
            ),
        ],
        responses=KpiSummarySerializer,
    )
    def get(self, request):
        with selectors.request_cache():
            period, filters = _period_and_filters(request)
            data = selectors.dashboard(period, filters, trend_count=1)
        rows = [line.__dict__ for line in data.lines.values()]
        return Response(
            {
                "period": {"kind": period.kind, "start": period.start, "end": period.end, "label": period.label},
                "kpis": KpiValueSerializer(rows, many=True).data,
            }
        )


class KpiTargetViewSet(TenantScopedAPIMixin, viewsets.ReadOnlyModelViewSet):
    read_permission = "view"
    serializer_class = KpiTargetSerializer
    model = KpiTarget
    filterset_fields = ["kpi", "channel", "period_type", "period_start"]
    ordering = "-id"


class ChannelSpendViewSet(
    TenantScopedAPIMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Spend per channel and month; POST sets (creates or replaces) one month of one channel."""

    read_permission = "view"
    write_permission = "plan_kpis"
    serializer_class = ChannelSpendSerializer
    model = ChannelSpend
    filterset_fields = ["channel", "month"]

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        services.spend_save(
            entries=[(data["channel"], data["month"], data["amount"])],
            actor=_actor(request),
        )
        row = ChannelSpend.objects.get(channel=data["channel"].strip(), month=data["month"])
        if data.get("note") is not None and row.note != data.get("note"):
            row.note = data["note"]
            row.save(update_fields=["note"])
        return Response(ChannelSpendSerializer(row).data, status=201)


class ReviewLogViewSet(
    TenantScopedAPIMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    read_permission = "view"
    write_permission = "review_kpis"
    serializer_class = ReviewLogEntrySerializer
    model = ReviewLogEntry
    filterset_fields = ["period_type", "period_start", "kpi", "status"]

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        period = Period.containing(
            data["period_type"], data["period_start"], selectors.kpi_settings().fiscal_year_start_month
        )
        actor = _actor(request)
        try:
            entry = services.review_entry_create(
                period=period,
                kpi=data.get("kpi", ""),
                finding=data.get("finding", ""),
                action=data.get("action", ""),
                owner=data.get("owner"),
                due_on=data.get("due_on"),
                actor=actor,
            )
        except ValidationError as error:
            raise serializers.ValidationError(
                error.message_dict if hasattr(error, "error_dict") else {"detail": error.messages}
            )
        return Response(ReviewLogEntrySerializer(entry).data, status=201)
