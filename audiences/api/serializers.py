"""Input and output serializers of the audiences API (no side effects)."""

from __future__ import annotations

from rest_framework import serializers

from audiences.models import Audience, AudienceMembership, MembershipHistory
from people.api.definitions import LifecycleCreateSerializer, LifecycleSerializer

DEFINITION_HELP = (
    'Rules: {"condition": <condition>} (docs/conditions.md; another audience as '
    '{"attribute": "audience:<key>", "op": "equals", "value": true}); funnel: {"steps": [{"event", '
    '"filters", "window" (first step), "within": {"value", "unit"}, "did_not"}]}. See docs/audiences.md.'
)


class AudienceSerializer(LifecycleSerializer):
    duplicated_from = serializers.SlugRelatedField(slug_field="key", read_only=True)
    uses = serializers.SlugRelatedField(slug_field="key", many=True, read_only=True)
    type = serializers.CharField(read_only=True, help_text="rules | funnel")

    class Meta:
        model = Audience
        fields = [
            "id",
            "key",
            "name",
            "description",
            "type",
            "include_anonymous",
            "definition",
            "state",
            "progress",
            "job",
            "uses",
            "duplicated_from",
            "sliding",
            *Audience.STATUS_FIELDS,
            "created_at",
            "created_by",
            "activated_at",
            "activated_by",
        ]
        read_only_fields = fields


class AudienceCreateSerializer(LifecycleCreateSerializer):
    type = serializers.RegexField(
        r"^(rules|funnel)$", default="rules", help_text="rules | funnel", source="audience_type"
    )
    include_anonymous = serializers.BooleanField(default=False)
    definition = serializers.JSONField(help_text=DEFINITION_HELP)


class AudienceUpdateSerializer(serializers.Serializer):
    key = serializers.CharField(max_length=64, required=False, help_text="Fixed: refused when different.")
    type = serializers.CharField(required=False, help_text="Fixed: refused when different.")
    include_anonymous = serializers.BooleanField(required=False, help_text="Fixed: refused when different.")
    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    definition = serializers.JSONField(required=False, help_text=DEFINITION_HELP)


class AudienceDuplicateSerializer(serializers.Serializer):
    key = serializers.CharField(max_length=64, required=False)
    name = serializers.CharField(max_length=200, required=False)


class JobSerializer(serializers.Serializer):
    job = serializers.IntegerField()
    audience = AudienceSerializer()


class PreviewInputSerializer(serializers.Serializer):
    type = serializers.RegexField(r"^(rules|funnel)$", default="rules", help_text="rules | funnel")
    include_anonymous = serializers.BooleanField(default=False)
    definition = serializers.JSONField(help_text=DEFINITION_HELP)


class PersonSampleSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    uid = serializers.CharField()
    name = serializers.CharField()
    email = serializers.CharField()


class PreviewSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    sample = PersonSampleSerializer(many=True)


class ImpactSideSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    sample = PersonSampleSerializer(many=True)


class ImpactSerializer(serializers.Serializer):
    against = serializers.DictField()
    added = ImpactSideSerializer()
    removed = ImpactSideSerializer()


class MemberSerializer(serializers.ModelSerializer):
    person = serializers.IntegerField(source="person_id")
    uid = serializers.UUIDField(source="person.uid")
    email = serializers.CharField(source="person.email")

    class Meta:
        model = AudienceMembership
        fields = ["person", "uid", "email", "entered_at"]


class HistorySerializer(serializers.ModelSerializer):
    person = serializers.IntegerField(source="person_id")
    uid = serializers.UUIDField(source="person.uid")

    class Meta:
        model = MembershipHistory
        fields = ["id", "person", "uid", "kind", "at", "version"]


class ExplainInputSerializer(serializers.Serializer):
    person = serializers.IntegerField()


class ExplainSerializer(serializers.Serializer):
    member = serializers.BooleanField(help_text="In the current (stored) membership.")
    matched = serializers.BooleanField(help_text="Whether the definition matches now.")
    eligible = serializers.BooleanField()
    conditions_matched = serializers.BooleanField()
    eligibility = serializers.ListField(child=serializers.DictField())
    steps = serializers.ListField(child=serializers.DictField(), help_text="Per condition: matched, events")


class AudienceWhereUsedSerializer(serializers.Serializer):
    used_by = serializers.ListField(child=serializers.CharField())
