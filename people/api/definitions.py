"""What the definition management APIs share: computed attributes, audiences and actions.

A definition view set is configuration: the output serializer every answer is rendered with, input
serializers that only parse, and the services that write (``people.definitions.DefinitionWrites``, which
the admin uses too). ``DefinitionViewSet`` turns them into the routes create (201), update (PUT and
PATCH), delete (204) and duplicate (201), and documents each route a view set inherits in the OpenAPI
schema with that view set's own serializers; ``LifecycleViewSet`` adds disable for the definitions
with the draft → processing → active, disabled lifecycle (``people.models.Definition``: computed
attributes, audiences), whose serializers build on ``LifecycleSerializer`` (what they show) and
``LifecycleCreateSerializer`` (what they are created with).

Routes a view set defines itself keep their own ``@extend_schema``. The classes here have comments, not
docstrings: drf-spectacular would show a base class's docstring as the description of every operation
and component that has none of its own.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from people.definitions import DefinitionWrites
from people.models import Definition

__all__ = [
    "DefinitionViewSet",
    "DefinitionWrites",
    "LifecycleCreateSerializer",
    "LifecycleSerializer",
    "LifecycleViewSet",
]


def _shared_route_schemas(view: type[DefinitionViewSet]) -> dict[str, Any]:
    """The schema of each shared route, with the view set's serializers and its description."""
    output = view.serializer_class
    schemas = {
        "create": {"request": view.create_serializer_class, "responses": {201: output}},
        "update": {"request": view.update_serializer_class, "responses": output},
        "partial_update": {"request": view.update_serializer_class, "responses": output},
        "destroy": {"responses": {204: None}},
        "duplicate": {"request": view.duplicate_serializer_class, "responses": {201: output}},
        "disable": {"request": None, "responses": output},
    }
    return {
        name: extend_schema(description=view.route_descriptions.get(name), **schema)
        for name, schema in schemas.items()
        if hasattr(view, name) and name not in view.__dict__
    }


# Create, read, update, delete and duplicate a definition. A subclass sets ``serializer_class`` (every
# answer), ``create_serializer_class``, ``update_serializer_class`` (PUT validates it whole, PATCH in
# part), ``duplicate_serializer_class``, ``writes`` and, for routes that need one, ``route_descriptions``.
class DefinitionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    create_serializer_class: type[serializers.Serializer]
    update_serializer_class: type[serializers.Serializer]
    duplicate_serializer_class: type[serializers.Serializer]
    writes: DefinitionWrites
    route_descriptions: dict[str, str] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if hasattr(cls, "writes"):  # a view set, not another base
            extend_schema_view(**_shared_route_schemas(cls))(cls)

    def respond(self, definition: models.Model, code: int = status.HTTP_200_OK) -> Response:
        # Read again through the list's queryset: the answer is what a GET of it shows.
        return Response(self.serializer_class(self.get_queryset().get(pk=definition.pk)).data, status=code)

    def parse(self, serializer_class: type[serializers.Serializer], *, partial: bool = False) -> dict:
        data = serializer_class(data=self.request.data, partial=partial)
        data.is_valid(raise_exception=True)
        return dict(data.validated_data)

    def create(self, request: Request) -> Response:
        data = self.parse(self.create_serializer_class)
        created = self.writes.create(**data, **self.writes.by(request.user))
        return self.respond(created, status.HTTP_201_CREATED)

    def update(self, request: Request, pk=None, *, partial: bool = False) -> Response:
        data = self.parse(self.update_serializer_class, partial=partial)
        return self.respond(self.writes.update(**self.writes.of(self.get_object()), **data))

    def partial_update(self, request: Request, pk=None) -> Response:
        return self.update(request, pk, partial=True)

    def destroy(self, request: Request, pk=None) -> Response:
        self.writes.delete(**self.writes.of(self.get_object()))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=True, methods=["post"])
    def duplicate(self, request: Request, pk=None) -> Response:
        data = self.parse(self.duplicate_serializer_class)
        copy = self.writes.duplicate(
            **self.writes.of(self.get_object()), **data, **self.writes.by(request.user)
        )
        return self.respond(copy, status.HTTP_201_CREATED)


# A definition with the lifecycle draft → processing → active, disabled: adds disable, and lists
# order by id or key (``people.models.Definition``).
class LifecycleViewSet(DefinitionViewSet):
    ordering_fields = ["id", "key"]

    @action(detail=True, methods=["post"])
    def disable(self, request: Request, pk=None) -> Response:
        return self.respond(self.writes.disable(**self.writes.of(self.get_object())))


# The fields every ``people.models.Definition`` shows: its state and activation progress, its job, its
# definition, who created and activated it.
class LifecycleSerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    activated_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    progress = serializers.SerializerMethodField(help_text="Activation progress in percent while processing.")
    job = serializers.PrimaryKeyRelatedField(read_only=True)
    definition = serializers.JSONField()
    state = serializers.CharField(read_only=True, help_text="draft | processing | active | disabled")

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_progress(self, obj: Definition) -> int | None:
        if obj.state == Definition.State.ACTIVE:
            return 100
        if obj.state == Definition.State.PROCESSING and obj.job is not None:
            return obj.job.progress_percent
        return None


# The fields every ``people.models.Definition`` is created with; each kind adds its own.
class LifecycleCreateSerializer(serializers.Serializer):
    key = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
