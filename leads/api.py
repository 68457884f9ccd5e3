"""REST API of the leads app under /api/v1/ (tenant from the API key or the session)."""

from __future__ import annotations

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.http import Http404
from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.response import Response

from tenants.api import TenantScopedAPIMixin
from tenants.jsonio import LenientJSONParser

from . import selectors, services
from .filters import LeadFilterSet, UTCIsoDateTimeFilter
from .ingest import MAX_ACTIVITIES_PER_REQUEST, ingest_activities, parse_activity_items, upsert_leads
from .models import Activity, Lead
from .serializers import (
    MAX_LEADS_PER_REQUEST,
    ActivityIngestResponseSerializer,
    ActivityIngestSerializer,
    ActivitySerializer,
    LeadBulkResponseSerializer,
    LeadBulkUpsertSerializer,
    LeadSerializer,
    LeadUpsertSerializer,
    MergeRecordSerializer,
    MergeSerializer,
    StageChangeRecordSerializer,
    StageChangeSerializer,
)
from .validation import LeadFieldContext, clean_lead_fields

EDIT_ACTIONS = {"update", "partial_update", "stage"}


class TenantFilterBackend(DjangoFilterBackend):
    """django-filter for tenant-scoped views (see leads/schema.py for its OpenAPI description)."""


class ActivityFilterSet(django_filters.FilterSet):
    """Activities by lead, type and time. Every filter is declared: no model lookups at import time."""

    lead = django_filters.ModelChoiceFilter(queryset=lambda request: Lead.objects.all())
    type = django_filters.CharFilter()
    occurred_at__gte = UTCIsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    occurred_at__lt = UTCIsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt")

    class Meta:
        model = Activity
        fields = []


def _lead_or_404(pk) -> Lead:
    try:
        return selectors.lead_get(pk)
    except (Lead.DoesNotExist, ValueError, TypeError):
        raise Http404


@extend_schema_view(
    list=extend_schema(
        summary="List leads",
        description="Filter with the same parameters as the lead list page; cursor pagination (follow `next`).",
    ),
    retrieve=extend_schema(summary="Get a lead"),
    create=extend_schema(summary="Create a lead", description="400 if a lead with this email exists (use upsert)."),
    update=extend_schema(summary="Replace a lead's attributes"),
    partial_update=extend_schema(summary="Change some attributes of a lead"),
    destroy=extend_schema(summary="Delete a lead and its activities"),
)
class LeadViewSet(TenantScopedAPIMixin, viewsets.ModelViewSet):
    """Leads of the tenant. Reads need `view`; create, delete, upsert and merge need `manage_leads`;
    attribute and stage changes need `edit_lead`."""

    model = Lead
    serializer_class = LeadSerializer
    filter_backends = [TenantFilterBackend, OrderingFilter]
    filterset_class = LeadFilterSet
    ordering_fields = ["id", "score_total", "last_activity_at", "created_at"]
    ordering = ["-id"]
    read_permission = "view"
    ingest_actions = ("upsert", "bulk_upsert")  # identify: a write key may create or update leads by email

    @property
    def write_permission(self) -> str:
        return "edit_lead" if self.action in EDIT_ACTIONS else "manage_leads"

    def scoped_queryset(self):
        return Lead.objects.select_related("owner")

    def perform_create(self, serializer):
        serializer.instance = services.lead_create(data=serializer.writable_data(), actor=self.request.user)

    def perform_update(self, serializer):
        serializer.instance = services.lead_update(
            lead=serializer.instance, data=serializer.writable_data(), actor=self.request.user
        )

    def perform_destroy(self, instance):
        services.lead_delete(lead=instance, actor=self.request.user)

    @extend_schema(
        summary="Create or update a lead by email",
        request=LeadUpsertSerializer,
        responses={200: LeadSerializer, 201: LeadSerializer},
    )
    @action(detail=False, methods=["post"])
    def upsert(self, request):
        serializer = LeadUpsertSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        lead, created = services.lead_upsert(data=serializer.writable_data(), actor=request.user)
        lead = Lead.objects.select_related("owner").get(pk=lead.pk)
        return Response(LeadSerializer(lead).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(
        summary="Create or update up to 1,000 leads by email",
        description="Per-item results: created / updated / unchanged / rejected (with the reasons). A rejected item "
        "never stops the others; unchanged leads are not written.",
        request=LeadBulkUpsertSerializer,
        responses={200: LeadBulkResponseSerializer},
    )
    @action(detail=False, methods=["post"], url_path="bulk", parser_classes=[LenientJSONParser])
    def bulk_upsert(self, request):
        items = request.data.get("items") if isinstance(request.data, dict) else None
        if not isinstance(items, list) or not items:
            raise ValidationError({"items": [_("Send a list of leads in “items”.")]})
        if len(items) > MAX_LEADS_PER_REQUEST:
            raise ValidationError(
                {"items": [_("Send at most %(max)d items per request.") % {"max": MAX_LEADS_PER_REQUEST}]}
            )
        context = LeadFieldContext.load()
        cleaned, results = [], []
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                results.append(
                    {"index": index, "status": "rejected", "errors": {"non_field_errors": [_("Send an object.")]}}
                )
                continue
            try:
                row = clean_lead_fields(item, context=context, partial=True)
                if "email" not in row:
                    raise DjangoValidationError({"email": [_("Enter an email address.")]})
            except DjangoValidationError as error:
                results.append({"index": index, "status": "rejected", "errors": error.message_dict})
                continue
            cleaned.append((index, row))
            results.append(None)
        with transaction.atomic():
            outcome = upsert_leads([row for _index, row in cleaned], actor=request.user, reason="api_bulk_upsert")
        created, updated = set(outcome.created), set(outcome.updated)
        for index, row in cleaned:
            pk = outcome.ids_by_email.get(row["email"])
            state = "created" if pk in created else "updated" if pk in updated else "unchanged"
            results[index] = {"index": index, "status": state, "id": pk}
        counts = {
            name: sum(1 for r in results if r["status"] == name)
            for name in ("created", "updated", "unchanged", "rejected")
        }
        return Response({**counts, "results": results})

    @extend_schema(summary="Change a lead's stage", request=StageChangeSerializer, responses={200: LeadSerializer})
    @action(detail=True, methods=["post"])
    def stage(self, request, pk=None):
        lead = self.get_object()
        serializer = StageChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.lead_change_stage(
            lead=lead,
            stage=serializer.validated_data["stage"],
            actor=request.user,
            reason=serializer.validated_data.get("reason", ""),
        )
        return Response(LeadSerializer(self.get_object()).data)

    @extend_schema(summary="Stage history of a lead", responses={200: StageChangeRecordSerializer(many=True)})
    @action(detail=True, methods=["get"], url_path="stage-history", pagination_class=None, filter_backends=[])
    def stage_history(self, request, pk=None):
        lead = self.get_object()
        return Response(StageChangeRecordSerializer(selectors.lead_stage_history(lead), many=True).data)

    @extend_schema(
        summary="Merge another lead into this one",
        description="The other lead's activities, stage history and feedback move to this lead; its email becomes "
        "an alias; it is deleted and the merge recorded.",
        request=MergeSerializer,
        responses={200: MergeRecordSerializer},
    )
    @action(detail=True, methods=["post"])
    def merge(self, request, pk=None):
        survivor = self.get_object()
        serializer = MergeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        other = _lead_or_404(serializer.validated_data["other_id"])
        record = services.lead_merge(survivor=survivor, other=other, actor=request.user)
        return Response(MergeRecordSerializer(record).data)


@extend_schema_view(
    list=extend_schema(summary="List activities", description="Newest first; filter by lead, type and time."),
    retrieve=extend_schema(summary="Get an activity"),
)
class ActivityViewSet(TenantScopedAPIMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Activities are append-only: ingested in bulk, never edited."""

    model = Activity
    serializer_class = ActivitySerializer
    filter_backends = [TenantFilterBackend]
    filterset_class = ActivityFilterSet
    read_permission = "view"
    write_permission = "manage_leads"
    ingest_actions = ("bulk",)

    def scoped_queryset(self):
        return Activity.objects.all()

    @extend_schema(
        summary="Ingest up to 1,000 activities",
        description="Per-item results: accepted / duplicate (same `external_id` seen before) / rejected (with the "
        "reasons). A bad item never drops the good ones. Re-scoring happens afterwards, asynchronously.",
        request=ActivityIngestSerializer,
        responses={200: ActivityIngestResponseSerializer, 400: OpenApiResponse(description="Not a list of items")},
    )
    @action(detail=False, methods=["post"], url_path="bulk", parser_classes=[LenientJSONParser])
    def bulk(self, request):
        items = request.data.get("items") if isinstance(request.data, dict) else None
        if not isinstance(items, list) or not items:
            raise ValidationError({"items": [_("Send a list of activities in “items”.")]})
        if len(items) > MAX_ACTIVITIES_PER_REQUEST:
            raise ValidationError(
                {"items": [_("Send at most %(max)d items per request.") % {"max": MAX_ACTIVITIES_PER_REQUEST}]}
            )
        known_types = selectors.known_activity_types()
        valid, rejected = parse_activity_items(items, known_types=known_types)
        results = {result.index: result for result in rejected}
        for result in ingest_activities(valid, reason="api_ingest"):
            results[result.index] = result
        ordered = [results[i].as_dict() for i in range(len(items))]
        counts = {
            name: sum(1 for r in ordered if r["status"] == name) for name in ("accepted", "duplicate", "rejected")
        }
        return Response({**counts, "results": ordered})
