"""Input and output serializers of the computed-attributes API (no side effects)."""

from __future__ import annotations

from rest_framework import serializers

from computed.models import ComputedAttribute
from people.api.definitions import LifecycleCreateSerializer, LifecycleSerializer


class ComputedAttributeSerializer(LifecycleSerializer):
    dependencies = serializers.SlugRelatedField(slug_field="key", many=True, read_only=True)
    kind = serializers.CharField(read_only=True, help_text="formula | aggregate | score")
    output_type = serializers.CharField(
        read_only=True, help_text="text | decimal | integer | boolean | date | datetime"
    )

    class Meta:
        model = ComputedAttribute
        fields = [
            "id",
            "key",
            "name",
            "description",
            "kind",
            "definition",
            "output_type",
            "group",
            "state",
            "progress",
            "job",
            "dependencies",
            *ComputedAttribute.HISTORY_FIELDS,
            "out_of_range_count",
            "out_of_range_reason",
            "out_of_range_at",
        ]
        read_only_fields = fields


class ComputedAttributeCreateSerializer(LifecycleCreateSerializer):
    kind = serializers.RegexField(r"^(formula|aggregate|score)$", help_text="formula | aggregate | score")
    definition = serializers.JSONField(
        help_text='Formula: {"formula": "..."}; aggregate: {"function", "event", "property", "filters", '
        '"exclude", "period"}; score: {"rules": [{"condition", "points", "label"}]}. See docs/computed.md.'
    )
    group = serializers.CharField(required=False, allow_blank=True, default="", max_length=64)


class ComputedAttributeUpdateSerializer(serializers.Serializer):
    key = serializers.CharField(max_length=64, required=False)
    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    definition = serializers.JSONField(required=False)


class DuplicateSerializer(serializers.Serializer):
    key = serializers.CharField(max_length=64, required=False)
    name = serializers.CharField(max_length=200, required=False)


class ProfileTestInputSerializer(serializers.Serializer):
    person = serializers.IntegerField(help_text="The id of the profile to test on.")
    definition = serializers.JSONField(
        required=False, help_text="Test this (unsaved) definition instead of the stored one."
    )


class ProfileTestOutputSerializer(serializers.Serializer):
    value = serializers.JSONField(allow_null=True)
    output_type = serializers.CharField()
    explanation = serializers.DictField(help_text="How the value was reached: inputs, matched events, rules.")


class WhereUsedSerializer(serializers.Serializer):
    used_by = serializers.ListField(child=serializers.CharField())


class ActivationSerializer(serializers.Serializer):
    job = serializers.IntegerField(help_text="The activation job; follow its progress in the admin.")
    attributes = ComputedAttributeSerializer(many=True)


class PurchaseStatisticsInputSerializer(serializers.Serializer):
    event = serializers.CharField(default="Order Completed")
    amount = serializers.CharField(default="amount")
    category = serializers.CharField(default="category")
    product = serializers.CharField(default="product")
    prefix = serializers.RegexField(r"^[a-z][a-z0-9_]*$", default="purchase_", max_length=30)
    activate = serializers.BooleanField(default=True)
