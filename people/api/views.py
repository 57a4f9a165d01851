"""The people management API: thin views over selectors and services."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from people import services
from people.api import filters, serializers
from people.models import (
    AttributeDefinition,
    Channel,
    ContextDefinition,
    Event,
    EventDefinition,
    Job,
    Person,
)


class PersonViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """People (live profiles). Look one up by its unified id; change attributes with ``attributes``."""

    queryset = Person.objects.live()
    serializer_class = serializers.PersonOutput
    filterset_class = filters.PersonFilter
    lookup_field = "uid"
    ordering_fields: list[str] = []  # cursor pages by primary key: stable and index-backed

    def get_serializer_class(self):
        if self.action == "attributes":
            return serializers.AttributeUpdateInput
        if self.action == "contacts":
            return serializers.ContactInput
        return super().get_serializer_class()

    @extend_schema(
        request=serializers.AttributeUpdateInput,
        responses=serializers.AttributeUpdateOutput,
        summary="Set, set once or unset attributes of a person",
    )
    @action(detail=True, methods=["post"])
    def attributes(self, request: Request, uid=None) -> Response:
        person = self.get_object()
        data = serializers.AttributeUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        writes = [services.AttributeWrite(k, v, "set") for k, v in data.validated_data["set"].items()]
        writes += [
            services.AttributeWrite(k, v, "set_once") for k, v in data.validated_data["set_once"].items()
        ]
        writes += [services.AttributeWrite(k, None, "unset") for k in data.validated_data["unset"]]
        try:
            result = services.person_write_attributes(
                person=person, writes=writes, at=data.validated_data.get("at"), actor=request.user
            )
        except ValidationError as exc:
            key = getattr(exc, "key", None)
            op = next((w.op for w in writes if w.key == key), "set")
            detail = {op: {key: exc.messages}} if key else {"non_field_errors": exc.messages}
            raise ApiValidationError(detail) from exc
        return Response(
            serializers.AttributeUpdateOutput(
                {"changed": sorted(result.changed), "ignored": result.ignored, "person": person}
            ).data
        )

    @extend_schema(
        request=serializers.ContactInput,
        responses=serializers.PersonOutput,
        summary="Record that a person was contacted (overall and on a channel)",
    )
    @action(detail=True, methods=["post"])
    def contacts(self, request: Request, uid=None) -> Response:
        person = self.get_object()
        data = serializers.ContactInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.contact_record(
            person=person, channel=data.validated_data.get("channel"), at=data.validated_data["at"]
        )
        person.refresh_from_db()
        return Response(serializers.PersonOutput(person).data)

    def check_permissions(self, request):
        super().check_permissions(request)
        if self.action in {"attributes", "contacts"} and not request.user.has_perm("people.change_person"):
            self.permission_denied(request, message="You may not change people.")


class AttributeDefinitionViewSet(viewsets.ModelViewSet):
    queryset = AttributeDefinition.objects.all()
    serializer_class = serializers.AttributeDefinitionSerializer
    filterset_fields = ["type"]
    pagination_class = None

    def perform_create(self, serializer):
        serializer.instance = services.attribute_definition_create(
            created_by=self.request.user, **serializer.validated_data
        )

    def perform_update(self, serializer):
        serializer.instance = services.attribute_definition_update(
            definition=serializer.instance, **serializer.validated_data
        )


class _SchemaViewSet(viewsets.ModelViewSet):
    """Event definitions and context schemas: written with their properties by the schema services."""

    pagination_class = None

    def perform_create(self, serializer):
        serializer.instance = services.schema_create(model=self.queryset.model, **serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = services.schema_update(
            definition=serializer.instance, **serializer.validated_data
        )


class ChannelViewSet(viewsets.ModelViewSet):
    queryset = Channel.objects.all()
    serializer_class = serializers.ChannelSerializer
    pagination_class = None


class EventDefinitionViewSet(_SchemaViewSet):
    queryset = EventDefinition.objects.prefetch_related("properties")
    serializer_class = serializers.EventDefinitionSerializer
    filterset_fields = ["is_contact"]


class ContextDefinitionViewSet(_SchemaViewSet):
    queryset = ContextDefinition.objects.prefetch_related("properties")
    serializer_class = serializers.ContextDefinitionSerializer


class EventViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Event.objects.select_related("person", "channel")
    serializer_class = serializers.EventOutput
    filterset_class = filters.EventFilter
    ordering_fields = ["timestamp"]


class JobViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Job.objects.select_related("created_by")
    serializer_class = serializers.JobOutput

    def get_queryset(self):
        return super().get_queryset().defer("params") if self.action == "list" else super().get_queryset()

    filterset_class = filters.JobFilter
