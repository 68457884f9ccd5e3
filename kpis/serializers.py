"""API representations of KPI targets, channel spend and the review log."""

from __future__ import annotations

from rest_framework import serializers

from .catalog import KPIS
from .models import ChannelSpend, KpiTarget, ReviewLogEntry


class KpiTargetSerializer(serializers.ModelSerializer):
    class Meta:
        model = KpiTarget
        fields = ["id", "kpi", "channel", "period_type", "period_start", "target_value", "source", "updated_at"]
        read_only_fields = fields


class ChannelSpendSerializer(serializers.ModelSerializer):
    class Meta:
        model = ChannelSpend
        fields = ["id", "channel", "month", "amount", "note", "updated_at"]
        read_only_fields = ["id", "updated_at"]

    def validate_month(self, value):
        return value.replace(day=1)


class ReviewLogEntrySerializer(serializers.ModelSerializer):
    owner_email = serializers.EmailField(source="owner.email", read_only=True, default=None)

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


KPI_CODES = list(KPIS)
