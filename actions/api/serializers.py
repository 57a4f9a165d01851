"""Input and output serializers of the actions management API (no side effects)."""

from __future__ import annotations

from rest_framework import serializers

from actions.models import (
    Action,
    ActionProperty,
    AudienceWebhook,
    CappingRule,
    Hook,
    Reaction,
    ReactionKind,
    TestUser,
    WebhookDelivery,
)
from actions.selectors import DELIVERY_LOG_FIELDS, RESOLUTIONS
from actions.services import ACTION_FIELDS, CHILD_FIELDS
from people.models import Person


class PropertySerializer(serializers.ModelSerializer):
    class Meta:
        model = ActionProperty
        fields = ["channel", "name", "kind", "value", "attribute", "value_type", "fallback"]
        extra_kwargs = {"name": {"validators": []}}


class CappingRuleSerializer(serializers.ModelSerializer):
    channels = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, max_length=50
    )

    class Meta:
        model = CappingRule
        fields = ["channels", "reaction", "group", "count", "within_days"]


class HookSerializer(serializers.ModelSerializer):
    extra = serializers.DictField(required=False)

    class Meta:
        model = Hook
        fields = ["reaction", "channel", "kind", "event_name", "url", "extra", "synchronous"]


class TestUserSerializer(serializers.ModelSerializer):
    person = serializers.PrimaryKeyRelatedField(queryset=Person.objects.all())

    class Meta:
        model = TestUser
        fields = ["person", "channel", "skip_targeting"]
        validators: list = []


class ActionSerializer(serializers.ModelSerializer):
    properties = PropertySerializer(many=True, read_only=True)
    capping_rules = CappingRuleSerializer(many=True, read_only=True)
    hooks = HookSerializer(many=True, read_only=True)
    test_users = TestUserSerializer(many=True, read_only=True)
    tags = serializers.ListField(child=serializers.CharField())
    channels = serializers.ListField(child=serializers.CharField())
    audience_ids = serializers.ListField(child=serializers.IntegerField())
    trait_conditions = serializers.JSONField(allow_null=True)
    context_conditions = serializers.JSONField()

    class Meta:
        model = Action
        fields = ["id", *ACTION_FIELDS, *CHILD_FIELDS, "created_at", "updated_at"]
        read_only_fields = fields


class ActionWriteSerializer(serializers.Serializer):
    """Fields of an action; child lists, when given, replace the existing rows."""

    name = serializers.CharField(max_length=200)
    type = serializers.CharField(max_length=64)
    tags = serializers.ListField(child=serializers.CharField(max_length=64), required=False, max_length=50)
    state = serializers.ChoiceField(choices=Action.State.choices, required=False)
    channels = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, max_length=50
    )
    start_date = serializers.DateField(required=False, allow_null=True)
    start_time = serializers.TimeField(required=False, allow_null=True)
    end_date = serializers.DateField(required=False, allow_null=True)
    end_time = serializers.TimeField(required=False, allow_null=True)
    trait_conditions = serializers.JSONField(required=False, allow_null=True)
    context_conditions = serializers.JSONField(required=False)
    audience_ids = serializers.ListField(child=serializers.IntegerField(), required=False, max_length=100)
    slot = serializers.CharField(max_length=64, required=False, allow_blank=True)
    allocation = serializers.BooleanField(required=False)
    properties = PropertySerializer(many=True, required=False)
    capping_rules = CappingRuleSerializer(many=True, required=False)
    hooks = HookSerializer(many=True, required=False)
    test_users = TestUserSerializer(many=True, required=False)


class StateSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=Action.State.choices)


class ActionDuplicateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)


class AnalysisQuerySerializer(serializers.Serializer):
    start = serializers.DateField(help_text="First day (organization timezone).")
    end = serializers.DateField(help_text="Last day, inclusive.")
    resolution = serializers.ChoiceField(choices=RESOLUTIONS, default="day")

    def validate(self, attrs):
        if attrs["end"] < attrs["start"]:
            raise serializers.ValidationError({"end": "The end date is before the start date."})
        return attrs


class AnalysisSerializer(serializers.Serializer):
    action = serializers.IntegerField()
    start = serializers.DateField()
    end = serializers.DateField()
    resolution = serializers.CharField()
    timezone = serializers.CharField()
    counts = serializers.DictField(child=serializers.IntegerField())
    unique_people = serializers.DictField(child=serializers.IntegerField())
    rates = serializers.ListField(child=serializers.DictField())
    reach = serializers.DictField(child=serializers.DictField(child=serializers.IntegerField()))
    series = serializers.ListField(child=serializers.DictField())
    allocation = serializers.ListField(child=serializers.DictField())


class SimulateInputSerializer(serializers.Serializer):
    person = serializers.PrimaryKeyRelatedField(queryset=Person.objects.all())
    channel = serializers.CharField(max_length=64)
    type = serializers.CharField(max_length=64, required=False, allow_blank=True)
    tags = serializers.ListField(child=serializers.CharField(max_length=64), required=False, max_length=50)
    context = serializers.DictField(required=False)
    at = serializers.DateTimeField(required=False, help_text="Simulate at this instant (default now).")


class StepSerializer(serializers.Serializer):
    step = serializers.CharField()
    label = serializers.CharField()
    state = serializers.ChoiceField(choices=["passed", "failed", "skipped"])
    reason = serializers.CharField()


class SimulationSerializer(serializers.Serializer):
    gets_action = serializers.BooleanField()
    steps = StepSerializer(many=True)
    properties = serializers.DictField(allow_null=True)


class ReactionSerializer(serializers.ModelSerializer):
    person_uid = serializers.UUIDField(source="person.uid", read_only=True)
    kind = serializers.ChoiceField(choices=ReactionKind.choices)

    class Meta:
        model = Reaction
        fields = [
            "id",
            "action",
            "person",
            "person_uid",
            "channel",
            "kind",
            "created_at",
            "context",
            "properties",
        ]
        read_only_fields = fields


class DeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = ["id", "action", "hook", "audience_webhook", "event", "url", "body", *DELIVERY_LOG_FIELDS]
        read_only_fields = fields


class AudienceWebhookSerializer(serializers.ModelSerializer):
    extra = serializers.DictField(required=False)

    class Meta:
        model = AudienceWebhook
        fields = [
            "id",
            "name",
            "audience",
            "on_entered",
            "on_exited",
            "url",
            "extra",
            "enabled",
            "created_at",
        ]
        read_only_fields = ["id", "created_at"]
