"""Scoring API: versions (read, CSV), draft rules (write, validated like the UI), publish,
rollback, recompute runs, score explanations, hot-lead alerts. Every view goes through
TenantScopedAPIMixin (tenant scope + capability checks); bad input answers 400, nothing changed."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.parsers import BaseParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from leads.models import Lead
from tenants.api import TenantScopedAPIMixin
from tenants.errors import api_error_detail

from . import selectors, services, sheet
from .models import BehaviourRule, FitRule, HotLeadAlert, ModelStatus, ScoreRun, ScoringModel
from .serializers import (
    AlertSerializer,
    BehaviourRuleSerializer,
    ExplanationSerializer,
    FitRuleSerializer,
    ScoreRunSerializer,
    ScoringModelSerializer,
)


def _drf_error(error: ValidationError) -> DRFValidationError:
    return DRFValidationError(api_error_detail(error))


class ModelList(TenantScopedAPIMixin, generics.ListAPIView):
    serializer_class = ScoringModelSerializer
    read_permission = "view"
    pagination_class = None

    def scoped_queryset(self):
        return ScoringModel.objects.prefetch_related("behaviour_rules", "fit_rules", "segments").order_by("-version")


class ModelDetail(TenantScopedAPIMixin, generics.RetrieveAPIView):
    serializer_class = ScoringModelSerializer
    read_permission = "view"
    lookup_field = "version"

    def scoped_queryset(self):
        return ScoringModel.objects.prefetch_related("behaviour_rules", "fit_rules", "segments")


class ModelSheet(TenantScopedAPIMixin, APIView):
    """The version as the design-sheet CSV (スコア種別,項目,条件,配点,備考)."""

    read_permission = "view"
    model = ScoringModel

    @extend_schema(responses={(200, "text/csv"): str})
    def get(self, request, version):
        model = get_object_or_404(self.get_queryset(), version=version)
        return HttpResponse(services.sheet_export(model=model), content_type="text/csv; charset=utf-8")


class DraftCreate(TenantScopedAPIMixin, APIView):
    """Get (or create from the active version) the draft."""

    write_permission = "edit_scoring"
    model = ScoringModel

    @extend_schema(request=None, responses={201: ScoringModelSerializer})
    def post(self, request):
        draft = services.draft_get_or_create(actor=request.user)
        return Response(ScoringModelSerializer(draft).data, status=status.HTTP_201_CREATED)


class CSVParser(BaseParser):
    media_type = "text/csv"

    def parse(self, stream, media_type=None, parser_context=None):
        return stream.read()


class DraftSheetImport(TenantScopedAPIMixin, APIView):
    """Replace the draft's rules with a CSV sheet (body `text/csv`, or multipart `file`)."""

    write_permission = "edit_scoring"
    model = ScoringModel
    parser_classes = [CSVParser, MultiPartParser]

    @extend_schema(
        request={"text/csv": str},
        responses={201: ScoringModelSerializer},
        description='400 lists the bad rows: `{"rows": [{"row": n, "message": ...}]}`.',
    )
    def post(self, request):
        if isinstance(request.data, bytes):
            data = request.data
        else:
            upload = request.data.get("file")
            data = upload.read() if upload else b""
        try:
            draft = services.sheet_import(data=data, actor=request.user)
        except sheet.SheetError as error:
            raise DRFValidationError({"rows": [{"row": e.row, "message": e.message} for e in error.errors]})
        return Response(ScoringModelSerializer(draft).data, status=status.HTTP_201_CREATED)


class _DraftRuleMixin(TenantScopedAPIMixin):
    read_permission = "view"
    write_permission = "edit_scoring"
    kind = "behaviour"

    def draft(self) -> ScoringModel:
        draft = selectors.draft_model()
        if draft is None:
            raise Http404
        return draft

    def save(self, data: dict, rule=None):
        save = services.behaviour_rule_save if self.kind == "behaviour" else services.fit_rule_save
        try:
            return save(model=self.draft(), data=data, rule=rule, actor=self.request.user)
        except ValidationError as error:
            raise _drf_error(error)


class BehaviourRuleListCreate(_DraftRuleMixin, generics.ListCreateAPIView):
    serializer_class = BehaviourRuleSerializer
    pagination_class = None

    def scoped_queryset(self):
        return BehaviourRule.objects.filter(model__status=ModelStatus.DRAFT)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        rule = self.save(dict(serializer.validated_data))
        return Response(self.get_serializer(rule).data, status=status.HTTP_201_CREATED)


class BehaviourRuleDetail(_DraftRuleMixin, generics.RetrieveUpdateDestroyAPIView):
    serializer_class = BehaviourRuleSerializer

    def scoped_queryset(self):
        return BehaviourRule.objects.filter(model__status=ModelStatus.DRAFT)

    def update(self, request, *args, **kwargs):
        rule = self.get_object()
        serializer = self.get_serializer(rule, data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        current = BehaviourRuleSerializer(rule).data
        rule = self.save({**current, **serializer.validated_data}, rule=rule)
        return Response(self.get_serializer(rule).data)

    def perform_destroy(self, instance):
        services.rule_delete(rule=instance, actor=self.request.user)


class FitRuleListCreate(BehaviourRuleListCreate):
    serializer_class = FitRuleSerializer
    kind = "fit"

    def scoped_queryset(self):
        return FitRule.objects.filter(model__status=ModelStatus.DRAFT)


class FitRuleDetail(BehaviourRuleDetail):
    serializer_class = FitRuleSerializer
    kind = "fit"

    def scoped_queryset(self):
        return FitRule.objects.filter(model__status=ModelStatus.DRAFT)

    def update(self, request, *args, **kwargs):
        rule = self.get_object()
        serializer = self.get_serializer(rule, data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        current = FitRuleSerializer(rule).data
        rule = self.save({**current, **serializer.validated_data}, rule=rule)
        return Response(self.get_serializer(rule).data)


class DraftPublish(TenantScopedAPIMixin, APIView):
    write_permission = "edit_scoring"
    model = ScoringModel

    @extend_schema(
        request=None,
        responses={
            202: OpenApiResponse(
                {"anyOf": [{"$ref": "#/components/schemas/ScoreRun"}, {"type": "object", "maxProperties": 0}]},
                description="The recompute run started for the published version, or `{}` when there is none.",
            )
        },
    )
    def post(self, request):
        draft = selectors.draft_model()
        if draft is None:
            raise Http404
        try:
            run = services.model_publish(model=draft, actor=request.user)
        except ValidationError as error:
            raise _drf_error(error)
        return Response(ScoreRunSerializer(run).data if run else {}, status=status.HTTP_202_ACCEPTED)


class ModelRollback(TenantScopedAPIMixin, APIView):
    write_permission = "edit_scoring"
    model = ScoringModel

    @extend_schema(request=None, responses={201: ScoringModelSerializer})
    def post(self, request, version):
        model = get_object_or_404(self.get_queryset(), version=version)
        try:
            new = services.model_rollback(model=model, actor=request.user)
        except ValidationError as error:
            raise _drf_error(error)
        return Response(ScoringModelSerializer(new).data, status=status.HTTP_201_CREATED)


class RecomputeCreate(TenantScopedAPIMixin, APIView):
    write_permission = "edit_scoring"
    model = ScoreRun

    @extend_schema(request=None, responses={202: ScoreRunSerializer})
    def post(self, request):
        run = services.recompute_request(actor=request.user)
        if run is None:
            raise DRFValidationError({"detail": [str(_no_model_message())]})
        return Response(ScoreRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


def _no_model_message():
    from django.utils.translation import gettext_lazy as _

    return _("There is no active scoring model.")


class RunDetail(TenantScopedAPIMixin, generics.RetrieveAPIView):
    serializer_class = ScoreRunSerializer
    read_permission = "view"
    model = ScoreRun


class LeadExplanation(TenantScopedAPIMixin, APIView):
    """The lead's stored score and the rules that fired, with their points."""

    read_permission = "view"
    model = Lead

    @extend_schema(responses=ExplanationSerializer)
    def get(self, request, pk):
        lead = get_object_or_404(self.get_queryset(), pk=pk)
        return Response(ExplanationSerializer(selectors.explanation_dict(lead)).data)


class AlertList(TenantScopedAPIMixin, generics.ListAPIView):
    serializer_class = AlertSerializer
    read_permission = "view"

    def scoped_queryset(self):
        status_filter = self.request.query_params.get("status", "all")
        return selectors.alerts_list(status=status_filter).order_by("-id")


class AlertFollowUp(TenantScopedAPIMixin, APIView):
    write_permission = "edit_lead"
    model = HotLeadAlert

    @extend_schema(request=None, responses=AlertSerializer)
    def post(self, request, pk):
        alert = get_object_or_404(self.get_queryset(), pk=pk)
        alert = services.alert_follow_up(alert=alert, actor=request.user)
        return Response(AlertSerializer(alert).data)
