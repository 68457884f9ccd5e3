"""API shapes of the scoring app."""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from .models import BehaviourRule, FitField, FitRule, HotLeadAlert, ScoreRun, ScoringModel, SegmentDefinition
from .services import BEHAVIOUR_FIELDS, FIT_FIELDS
from .validation import DAYS_LIMIT, POINTS_LIMIT

# The rules of scoring/validation.py (which the services apply) stated on the fields, so that the OpenAPI
# schema shows them (patterns, bounds); the messages are the services' own. DRF strips strings first.
NOT_BLANK = RegexValidator(r"\S", message=_("Give the rule a name."))
# "+" not "*": a blank value never reaches validators (allow_blank answers it), and the schema's blank branch
# must not overlap this one (oneOf).
NO_SHEET_SYNTAX = RegexValidator(r"^[^\[\];|]+$", message=_("Brackets, ; and | cannot be used here."))
ACTIVITY_TYPE = RegexValidator(
    r"^[a-z][a-z0-9_.:-]{0,59}$",
    message=_("Enter an activity type such as page_view or email_open (lower-case letters, digits and _)."),
)
FIT_FIELD = RegexValidator(
    r"^(" + "|".join(FitField.values) + r"|custom:[A-Za-z0-9_-]{1,60})$",
    message=_("Choose a lead field (or custom:<key> for a custom field)."),
)
POINTS = {"min_value": -POINTS_LIMIT, "max_value": POINTS_LIMIT}
COUNT = {"min_value": 1, "max_value": 10000}
DAYS = {"min_value": 1, "max_value": DAYS_LIMIT}


class BehaviourRuleSerializer(serializers.ModelSerializer):
    class Meta:
        model = BehaviourRule
        fields = ["id", "position", *BEHAVIOUR_FIELDS]
        read_only_fields = ["id", "position"]
        extra_kwargs = {
            "label": {"validators": [NOT_BLANK]},
            "activity_type": {"validators": [ACTIVITY_TYPE]},
            "url_value": {"validators": [NO_SHEET_SYNTAX]},
            "content_id": {"validators": [NO_SHEET_SYNTAX]},
            "campaign": {"validators": [NO_SHEET_SYNTAX]},
            "points": POINTS,
            "max_count": COUNT,
            "min_count": COUNT,
            "window_days": DAYS,
            "recency_days": DAYS,
            "half_life_days": DAYS,
        }


class FitRuleSerializer(serializers.ModelSerializer):
    values = serializers.ListField(
        child=serializers.CharField(max_length=200, validators=[NO_SHEET_SYNTAX]), required=False
    )

    class Meta:
        model = FitRule
        fields = ["id", "position", *FIT_FIELDS]
        read_only_fields = ["id", "position"]
        extra_kwargs = {"label": {"validators": [NOT_BLANK]}, "field": {"validators": [FIT_FIELD]}, "points": POINTS}


class SegmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = SegmentDefinition
        fields = ["key", "label", "description", "min_total", "colour", "priority", "follow_up"]


class ScoringModelSerializer(serializers.ModelSerializer):
    behaviour_rules = BehaviourRuleSerializer(many=True, read_only=True)
    fit_rules = FitRuleSerializer(many=True, read_only=True)
    segments = SegmentSerializer(many=True, read_only=True)

    class Meta:
        model = ScoringModel
        fields = [
            "version",
            "status",
            "name",
            "note",
            "behaviour_cap",
            "fit_cap",
            "based_on_version",
            "created_at",
            "published_at",
            "behaviour_rules",
            "fit_rules",
            "segments",
        ]
        read_only_fields = fields


class ScoreRunSerializer(serializers.ModelSerializer):
    percent = serializers.IntegerField(read_only=True)

    class Meta:
        model = ScoreRun
        fields = [
            "id",
            "kind",
            "status",
            "model_version",
            "as_of",
            "total_chunks",
            "done_chunks",
            "percent",
            "leads_total",
            "leads_changed",
            "transitions",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class AlertSerializer(serializers.ModelSerializer):
    lead_email = serializers.CharField(source="lead.email", read_only=True)
    lead_name = serializers.CharField(source="lead.name", read_only=True)
    score_total = serializers.IntegerField(source="lead.score_total", read_only=True)
    from_segment = serializers.CharField(source="transition.from_segment", read_only=True)

    class Meta:
        model = HotLeadAlert
        fields = [
            "id",
            "lead",
            "lead_email",
            "lead_name",
            "score_total",
            "from_segment",
            "created_at",
            "due_at",
            "notified_at",
            "followed_up_at",
            "breach_notified_at",
            "webhook_status",
            "webhook_attempts",
        ]
        read_only_fields = fields


class FiredRuleSerializer(serializers.Serializer):
    kind = serializers.CharField()
    rule_id = serializers.IntegerField(allow_null=True)
    label = serializers.CharField()
    points = serializers.IntegerField()
    count = serializers.IntegerField()
    detail = serializers.CharField()


class ExplanationSerializer(serializers.Serializer):
    lead_id = serializers.IntegerField()
    score_behaviour = serializers.IntegerField()
    score_fit = serializers.IntegerField()
    score_total = serializers.IntegerField()
    segment = serializers.CharField()
    model_version = serializers.IntegerField(allow_null=True)
    scored_at = serializers.DateTimeField(allow_null=True)
    rules = FiredRuleSerializer(many=True)
