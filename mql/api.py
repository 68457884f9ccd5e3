"""API of the MQL app: definitions (read), reasons (read), the inbox (read), and sales outcomes
(read + push from a CRM/SFA). Every view goes through TenantScopedAPIMixin."""

from __future__ import annotations

from django.http import Http404
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.response import Response

from leads.filters import UTCIsoDateTimeFilter
from leads.models import FeedbackOutcome, Lead, LeadFeedback
from tenants.api import TenantScopedAPIMixin

from . import feedback, selectors, services
from .models import DefinitionStatus, FeedbackReason, MqlDefinition
from .serializers import (
    DefinitionSerializer,
    FeedbackInputSerializer,
    FeedbackSerializer,
    HandoverSerializer,
    ReasonSerializer,
)


class DefinitionList(TenantScopedAPIMixin, generics.ListAPIView):
    serializer_class = DefinitionSerializer
    read_permission = "view"

    def scoped_queryset(self):
        return MqlDefinition.objects.order_by("-version")


class ActiveDefinition(TenantScopedAPIMixin, generics.RetrieveAPIView):
    serializer_class = DefinitionSerializer
    read_permission = "view"

    def scoped_queryset(self):
        return MqlDefinition.objects.filter(status=DefinitionStatus.ACTIVE)

    def get_object(self):
        definition = self.get_queryset().first()
        if definition is None:
            raise Http404
        return definition


class ReasonList(TenantScopedAPIMixin, generics.ListAPIView):
    serializer_class = ReasonSerializer
    read_permission = "view"
    pagination_class = None

    def scoped_queryset(self):
        services.reasons_ensure_defaults()
        return FeedbackReason.objects.all()


class InboxList(TenantScopedAPIMixin, generics.ListAPIView):
    serializer_class = HandoverSerializer
    read_permission = "view"

    def scoped_queryset(self):
        return selectors.inbox_handovers()


class FeedbackFilter(filters.FilterSet):
    outcome = filters.ChoiceFilter(choices=FeedbackOutcome.choices)
    lead_id = filters.NumberFilter(field_name="lead_id")
    since = UTCIsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")

    class Meta:
        model = LeadFeedback
        fields = ["outcome", "lead_id", "since"]


@extend_schema_view(
    post=extend_schema(
        request=FeedbackInputSerializer,
        responses={201: FeedbackSerializer, 200: FeedbackSerializer},
        description="Record a sales outcome. 201 when recorded, 200 when the same outcome was already the latest "
        "(a retried push); 404 when no lead has this id or email. Rejections and losses need a `reason` key from "
        "/api/v1/mql/reasons/.",
    )
)
class FeedbackListCreate(TenantScopedAPIMixin, generics.ListCreateAPIView):
    """GET: recorded outcomes. POST: record an outcome (reject/lost need a reason from /reasons/)."""

    read_permission = "view"
    write_permission = "give_feedback"
    filterset_class = FeedbackFilter

    def get_serializer_class(self):
        return FeedbackInputSerializer if self.request.method == "POST" else FeedbackSerializer

    def scoped_queryset(self):
        return LeadFeedback.objects.select_related("lead")

    def create(self, request, *args, **kwargs):
        services.reasons_ensure_defaults()
        incoming = FeedbackInputSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        leads = Lead.objects.all()
        lead = (
            leads.filter(pk=data["lead_id"]).first()
            if data.get("lead_id")
            else leads.filter(email__iexact=data["email"].strip()).first()
        )
        if lead is None:
            raise Http404
        actor = request.user if getattr(request.user, "pk", None) else None
        result = feedback.feedback_record(
            lead=lead,
            outcome=data["outcome"],
            actor=actor,
            reason=data["reason"],
            note=data["note"],
            amount=data["amount"],
            expected_close_on=data["expected_close_on"],
            occurred_at=data["occurred_at"],
            stage=data["stage"],
        )
        body = FeedbackSerializer(result.feedback).data
        return Response(body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)
