"""API shapes. Serializers check types and document the schema; the services validate and write."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .ingest import MAX_ACTIVITIES_PER_REQUEST
from .models import Activity, Authority, Budget, Lead, LeadMerge, LeadStageChange, SizeBand, Stage, Timing
from .validation import EMAIL_SQL_REGEX, PHONE_RE

MAX_LEADS_PER_REQUEST = 1000


@extend_schema_field(OpenApiTypes.EMAIL)
class OwnerField(serializers.Field):
    """The owner as the email address of a member of the tenant (null: nobody)."""

    def to_representation(self, value):
        return value.email if value else None

    def to_internal_value(self, data):
        if data in (None, ""):
            return None
        if not isinstance(data, str):
            raise serializers.ValidationError(_("Send the owner's email address."))
        return data.strip()


class InputPatternCharField(serializers.CharField):
    """A text attribute that leads/validation.py checks against a pattern (in the services, with their
    messages). The pattern is documented for requests only: stored values may predate the check
    (the data-quality page counts them), so responses are not promised to match it."""

    def __init__(self, *, input_pattern: str, **kwargs):
        self.input_pattern = input_pattern
        super().__init__(**kwargs)


class InputPatternCharFieldExtension(OpenApiSerializerFieldExtension):
    target_class = InputPatternCharField

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        if direction == "request":
            schema["pattern"] = self.target.input_pattern
        return schema


class LeadSerializer(serializers.ModelSerializer):
    """A lead. Write `owner` as a member's email; `channel` as a key of the tenant's channel list;
    `custom_fields` as {key: value} of the tenant's custom field definitions."""

    owner = OwnerField(required=False, allow_null=True)
    stage = serializers.ChoiceField(choices=Stage.choices, required=False)
    size_band = serializers.ChoiceField(choices=SizeBand.choices, required=False, allow_blank=True)
    authority = serializers.ChoiceField(choices=Authority.choices, required=False, allow_blank=True)
    budget = serializers.ChoiceField(choices=Budget.choices, required=False, allow_blank=True)
    timing = serializers.ChoiceField(choices=Timing.choices, required=False, allow_blank=True)
    custom_fields = serializers.DictField(required=False, child=serializers.JSONField())
    email = InputPatternCharField(max_length=254, input_pattern=EMAIL_SQL_REGEX)
    phone = InputPatternCharField(max_length=40, required=False, allow_blank=True, input_pattern=PHONE_RE.pattern)

    class Meta:
        model = Lead
        fields = [
            "id",
            "email",
            "name",
            "company",
            "company_normalized",
            "title",
            "department",
            "employee_count",
            "size_band",
            "industry",
            "phone",
            "channel",
            "campaign",
            "owner",
            "stage",
            "stage_changed_at",
            "authority",
            "need",
            "budget",
            "timing",
            "custom_fields",
            "email_consent",
            "unsubscribed",
            "first_seen_at",
            "last_activity_at",
            "score_behaviour",
            "score_fit",
            "score_total",
            "segment",
            "scored_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "company_normalized",
            "stage_changed_at",
            "first_seen_at",
            "last_activity_at",
            "score_behaviour",
            "score_fit",
            "score_total",
            "segment",
            "scored_at",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {"employee_count": {"max_value": 10_000_000}}

    def writable_data(self) -> dict:
        """The validated input as the services expect it (only the keys that were sent)."""
        return dict(self.validated_data)


class LeadUpsertSerializer(LeadSerializer):
    """Like a lead, but only `email` is required: the other attributes sent are set, the rest kept."""


class LeadBulkUpsertSerializer(serializers.Serializer):
    items = serializers.ListField(
        child=serializers.DictField(),
        min_length=1,
        max_length=MAX_LEADS_PER_REQUEST,
        help_text=_("Up to 1,000 leads, each shaped like a lead (email required)."),
    )


class LeadBulkResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["created", "updated", "unchanged", "rejected"])
    id = serializers.IntegerField(required=False)
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False)


class LeadBulkResponseSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    rejected = serializers.IntegerField()
    results = LeadBulkResultSerializer(many=True)


class StageChangeSerializer(serializers.Serializer):
    stage = serializers.ChoiceField(choices=Stage.choices)
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class StageChangeRecordSerializer(serializers.ModelSerializer):
    changed_by = serializers.SlugRelatedField(slug_field="email", read_only=True, allow_null=True)

    class Meta:
        model = LeadStageChange
        fields = ["id", "from_stage", "to_stage", "changed_at", "changed_by", "reason", "mql_definition_version"]


class MergeSerializer(serializers.Serializer):
    other_id = serializers.IntegerField(min_value=1, help_text=_("The lead merged into this one (then deleted)."))


class MergeRecordSerializer(serializers.ModelSerializer):
    survivor = LeadSerializer(read_only=True)

    class Meta:
        model = LeadMerge
        fields = ["id", "survivor", "merged_lead_id", "merged_email", "moved", "merged_at"]


class ActivitySerializer(serializers.ModelSerializer):
    class Meta:
        model = Activity
        fields = [
            "id",
            "lead",
            "type",
            "occurred_at",
            "url",
            "campaign",
            "properties",
            "source",
            "external_id",
            "anonymous_id",
            "user_id",
            "received_at",
        ]
        read_only_fields = fields


class ActivityIngestItemSerializer(serializers.Serializer):
    """One activity. Identify the lead by `lead_id` or `email` (an unknown email creates the lead)."""

    lead_id = serializers.IntegerField(required=False, min_value=1)
    email = serializers.EmailField(required=False)
    type = serializers.CharField(max_length=60, help_text=_("A built-in or tenant-defined activity type."))
    occurred_at = serializers.DateTimeField()
    url = serializers.CharField(max_length=1000, required=False, allow_blank=True)
    campaign = serializers.CharField(max_length=200, required=False, allow_blank=True)
    properties = serializers.DictField(required=False)
    source = serializers.CharField(max_length=40, required=False, allow_blank=True)
    external_id = serializers.CharField(
        max_length=200,
        required=False,
        allow_null=True,
        help_text=_("Idempotency key, unique per tenant: a retried delivery with the same key is a duplicate."),
    )


class ActivityIngestSerializer(serializers.Serializer):
    items = ActivityIngestItemSerializer(
        many=True, max_length=MAX_ACTIVITIES_PER_REQUEST, help_text=_("Up to 1,000 activities.")
    )


class ActivityResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["accepted", "duplicate", "rejected"])
    id = serializers.IntegerField(required=False)
    lead_id = serializers.IntegerField(required=False)
    external_id = serializers.CharField(required=False)
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False)


class ActivityIngestResponseSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    duplicate = serializers.IntegerField()
    rejected = serializers.IntegerField()
    results = ActivityResultSerializer(many=True)
