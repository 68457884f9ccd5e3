"""API representations of KPI targets, channel spend and the review log."""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .catalog import KPIS
from .models import ChannelSpend, KpiTarget, PeriodType, ReviewLogEntry
from .periods import date_in_range

# At least one non-space character. DRF already strips the value and rejects a blank one, so this
# never changes what is accepted: it puts the rule in the OpenAPI schema (as a pattern).
NOT_BLANK = RegexValidator(r"\S", message=serializers.CharField.default_error_messages["blank"])


@extend_schema_field({"type": "string", "format": "decimal", "pattern": r"^[0-9]{1,14}$"})
class SpendAmountField(serializers.DecimalField):
    """Yen spent: a whole number >= 0 of at most 14 digits (the model's field and validator)."""

    def __init__(self, **kwargs):
        super().__init__(max_digits=14, decimal_places=0, min_value=0, **kwargs)


class KpiTargetSerializer(serializers.ModelSerializer):
    class Meta:
        model = KpiTarget
        fields = ["id", "kpi", "channel", "period_type", "period_start", "target_value", "source", "updated_at"]
        read_only_fields = fields


class ChannelSpendSerializer(serializers.ModelSerializer):
    # Same checks as the model/service (a channel name, spend >= 0), stated so the schema shows them.
    channel = serializers.CharField(max_length=40, validators=[NOT_BLANK])
    amount = SpendAmountField()

    class Meta:
        model = ChannelSpend
        fields = ["id", "channel", "month", "amount", "note", "updated_at"]
        read_only_fields = ["id", "updated_at"]

    def validate_month(self, value):
        if not date_in_range(value):
            raise serializers.ValidationError(_("Choose a date between 2000 and 2100."))
        return value.replace(day=1)


class ReviewLogEntrySerializer(serializers.ModelSerializer):
    kpi = serializers.ChoiceField(
        choices=[("", "—"), *((code, code) for code in KPIS)],
        required=False,
        allow_blank=True,
        error_messages={"invalid_choice": _("Choose a KPI from the list.")},
    )
    owner_email = serializers.EmailField(source="owner.email", read_only=True, allow_null=True, default=None)

    class Meta:
        model = ReviewLogEntry
        fields = [
            "id",
            "period_type",
            "period_start",
            "kpi",
            "finding",
            "action",
            "owner",
            "owner_email",
            "due_on",
            "status",
            "created_at",
        ]
        read_only_fields = ["id", "owner_email", "status", "created_at"]
        extra_kwargs = {"action": {"validators": [NOT_BLANK]}}

    def validate_period_start(self, value):
        if not date_in_range(value):
            raise serializers.ValidationError(_("Choose a date between 2000 and 2100."))
        return value


class KpiValueSerializer(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.CharField()
    unit = serializers.CharField()
    actual = serializers.DecimalField(max_digits=24, decimal_places=4, allow_null=True)
    previous = serializers.DecimalField(max_digits=24, decimal_places=4, allow_null=True)
    change = serializers.DecimalField(max_digits=24, decimal_places=4, allow_null=True)
    change_unit = serializers.CharField()
    target = serializers.DecimalField(max_digits=24, decimal_places=4, allow_null=True)
    attainment = serializers.DecimalField(max_digits=24, decimal_places=4, allow_null=True)


class KpiPeriodSerializer(serializers.Serializer):
    """A period: `start` is its first day, `end` the day after its last day."""

    kind = serializers.ChoiceField(choices=PeriodType.choices)
    start = serializers.DateField()
    end = serializers.DateField()
    label = serializers.CharField()


class KpiSummarySerializer(serializers.Serializer):
    """The response of /kpis/summary/: the period and every KPI's line (not paginated)."""

    period = KpiPeriodSerializer()
    kpis = KpiValueSerializer(many=True)


KPI_CODES = list(KPIS)
