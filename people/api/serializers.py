"""Input and output serializers of the people management API (no side effects here)."""

from __future__ import annotations

from rest_framework import serializers

from people.attributes import STANDARD_ATTRIBUTES, SYSTEM_ATTRIBUTES
from people.models import (
    AttributeDefinition,
    Channel,
    ContextDefinition,
    Event,
    EventDefinition,
    EventPropertyDefinition,
    Job,
    Person,
)


class PersonOutput(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uid", read_only=True)
    age = serializers.IntegerField(read_only=True, allow_null=True)
    age_group = serializers.CharField(read_only=True)
    attributes_meta = serializers.JSONField(source="attribute_meta", read_only=True)

    class Meta:
        model = Person
        fields = [
            "id",
            "kind",
            *STANDARD_ATTRIBUTES.keys(),
            "age",
            "age_group",
            "custom",
            "attributes_meta",
            *SYSTEM_ATTRIBUTES,
        ]
        read_only_fields = fields


class AttributeUpdateInput(serializers.Serializer):
    """Attribute writes for one person: ``set`` and ``set_once`` maps, ``unset`` keys."""

    set = serializers.DictField(child=serializers.JSONField(), required=False, default=dict)
    set_once = serializers.DictField(child=serializers.JSONField(), required=False, default=dict)
    unset = serializers.ListField(child=serializers.CharField(), required=False, default=list)
    at = serializers.DateTimeField(
        required=False, help_text="Event time of the writes (default: now). Older writes never win."
    )


class ContactInput(serializers.Serializer):
    channel = serializers.SlugRelatedField(
        slug_field="key", queryset=Channel.objects.all(), required=False, allow_null=True
    )
    at = serializers.DateTimeField(help_text="When the person was contacted.")


class AttributeUpdateOutput(serializers.Serializer):
    changed = serializers.ListField(child=serializers.CharField())
    ignored = serializers.DictField(child=serializers.CharField())
    person = PersonOutput()


class AttributeDefinitionSerializer(serializers.ModelSerializer):
    class Meta:
        model = AttributeDefinition
        fields = ["id", "key", "label", "description", "type", "item_schema", "created_at"]
        read_only_fields = ["id", "created_at"]


class ChannelSerializer(serializers.ModelSerializer):
    class Meta:
        model = Channel
        fields = ["id", "key", "name", "schema_enforcement", "created_at"]
        read_only_fields = ["id", "created_at"]

    def validate_key(self, value: str) -> str:
        if self.instance is not None and value != self.instance.key:
            raise serializers.ValidationError("The key of a channel cannot change once created.")
        return value


class PropertySpecSerializer(serializers.Serializer):
    key = serializers.CharField(max_length=128)
    type = serializers.ChoiceField(
        choices=[c for c in EventPropertyDefinition._meta.get_field("type").choices]
    )
    regex = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    required = serializers.BooleanField(required=False, default=False)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")

    def validate_regex(self, value: str) -> str:
        import re

        if value:
            try:
                re.compile(value)
            except re.error as exc:
                raise serializers.ValidationError(f"Invalid regular expression: {exc}") from exc
        return value


def _check_unique_keys(properties: list[dict]) -> list[dict]:
    keys = [p["key"] for p in properties]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise serializers.ValidationError(f"Property keys must be unique; repeated: {', '.join(duplicates)}.")
    return properties


class _WithProperties(serializers.ModelSerializer):
    """Nested property schema, replaced as a whole on write (by the services the views call)."""

    properties = PropertySpecSerializer(many=True, required=False)

    def validate_properties(self, value):
        return _check_unique_keys(value)

    def create(self, validated_data):
        raise NotImplementedError("The view writes through people.services.")

    def update(self, instance, validated_data):
        raise NotImplementedError("The view writes through people.services.")


class EventDefinitionSerializer(_WithProperties):
    class Meta:
        model = EventDefinition
        fields = ["id", "name", "description", "is_contact", "properties", "created_at"]
        read_only_fields = ["id", "created_at"]


class ContextDefinitionSerializer(_WithProperties):
    class Meta:
        model = ContextDefinition
        fields = ["id", "channel", "description", "properties"]
        read_only_fields = ["id"]


class EventOutput(serializers.ModelSerializer):
    person = serializers.UUIDField(source="person.uid", read_only=True)
    channel = serializers.SlugRelatedField(slug_field="key", read_only=True)

    class Meta:
        model = Event
        fields = [
            "id",
            "person",
            "type",
            "name",
            "channel",
            "source",
            "timestamp",
            "original_timestamp",
            "sent_at",
            "received_at",
            "properties",
            "context",
            "message_id",
        ]
        read_only_fields = fields


class JobOutput(serializers.ModelSerializer):
    progress_percent = serializers.IntegerField(read_only=True)
    created_by = serializers.StringRelatedField()
    params = serializers.SerializerMethodField()

    def get_params(self, job: Job) -> dict:
        """Parameters, with long id lists summarized (lists leave them out entirely)."""
        if "params" in job.get_deferred_fields():
            return {}
        params = dict(job.params)
        if isinstance(params.get("person_ids"), list):
            params["person_ids"] = f"{len(params['person_ids'])} people"
        return params

    class Meta:
        model = Job
        fields = [
            "id",
            "kind",
            "params",
            "status",
            "progress_done",
            "progress_total",
            "progress_percent",
            *Job.OUTCOME_FIELDS,
        ]
        read_only_fields = fields
