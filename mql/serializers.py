"""API representations of the MQL app."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from leads.models import FeedbackOutcome, LeadFeedback

from .models import FeedbackReason, Handover, MqlDefinition


class DefinitionSerializer(serializers.ModelSerializer):
    class Meta:
        model = MqlDefinition
        fields = ["version", "status", "title", *MqlDefinition.CONDITION_FIELDS, "created_at", "activated_at"]
        read_only_fields = fields


class ReasonSerializer(serializers.ModelSerializer):
    label = serializers.CharField(read_only=True)

    class Meta:
        model = FeedbackReason
        fields = ["key", "label", "label_ja", "label_en", "kind", "default_stage", "requires_note", "is_active"]
        read_only_fields = fields


class HandoverSerializer(serializers.ModelSerializer):
    lead_id = serializers.IntegerField(read_only=True)
    email = serializers.CharField(source="lead.email", read_only=True)
    name = serializers.CharField(source="lead.name", read_only=True)
    company = serializers.CharField(source="lead.company", read_only=True)
    score_total = serializers.IntegerField(source="lead.score_total", read_only=True)
    segment = serializers.CharField(source="lead.segment", read_only=True)
    owner = serializers.EmailField(source="owner.email", read_only=True, allow_null=True, default=None)

    class Meta:
        model = Handover
        fields = [
            "id",
            "lead_id",
            "email",
            "name",
            "company",
            "score_total",
            "segment",
            "definition_version",
            "handed_over_at",
            "deadline_at",
            "first_contact_at",
            "owner",
        ]
        read_only_fields = fields


class FeedbackSerializer(serializers.ModelSerializer):
    lead_id = serializers.IntegerField(read_only=True)
    email = serializers.CharField(source="lead.email", read_only=True)
    stage = serializers.CharField(source="lead.stage", read_only=True)

    class Meta:
        model = LeadFeedback
        fields = [
            "id",
            "lead_id",
            "email",
            "outcome",
            "reason",
            "note",
            "amount",
            "expected_close_on",
            "occurred_at",
            "mql_definition_version",
            "stage",
            "created_at",
        ]
        read_only_fields = fields


class FeedbackInputSerializer(serializers.Serializer):
    """An outcome pushed by a CRM/SFA: identify the lead by id or email."""

    lead_id = serializers.IntegerField(required=False, min_value=1)
    email = serializers.CharField(required=False, max_length=254)
    outcome = serializers.ChoiceField(
        choices=FeedbackOutcome.choices,
        error_messages={
            "invalid_choice": _("Unknown outcome “{input}”. Use accepted, rejected, opportunity, won or lost.")
        },
    )
    reason = serializers.CharField(required=False, allow_blank=True, max_length=60, default="")
    note = serializers.CharField(required=False, allow_blank=True, max_length=4000, default="")
    amount = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=30, default=None)
    expected_close_on = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=30, default=None
    )
    occurred_at = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=40, default=None)
    stage = serializers.CharField(required=False, allow_blank=True, max_length=20, default="")

    def validate(self, attrs):
        if not attrs.get("lead_id") and not (attrs.get("email") or "").strip():
            raise serializers.ValidationError({"lead_id": _("Identify the lead by lead_id or email.")})
        return attrs
