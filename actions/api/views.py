"""``/api/actions/``: CRUD, duplicate, state, analysis, simulation, reactions; ``/api/action-reactions/``,
``/api/webhook-deliveries/`` (with redeliver) and ``/api/audience-webhooks/``."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action as route
from rest_framework.request import Request
from rest_framework.response import Response

from actions import selectors, services
from actions.api.serializers import (
    ActionDuplicateSerializer,
    ActionSerializer,
    ActionWriteSerializer,
    AnalysisQuerySerializer,
    AnalysisSerializer,
    AudienceWebhookSerializer,
    DeliverySerializer,
    ReactionSerializer,
    SimulateInputSerializer,
    SimulationSerializer,
    StateSerializer,
)
from actions.models import Action, AudienceWebhook, Reaction, WebhookDelivery
from people.api.definitions import DefinitionViewSet, DefinitionWrites


class ActionViewSet(DefinitionViewSet):
    queryset = Action.objects.prefetch_related("properties", "capping_rules", "hooks", "test_users").order_by(
        "-pk"
    )
    serializer_class = ActionSerializer
    filterset_fields = ["state", "type", "slot"]
    ordering_fields = ["id", "name"]
    create_serializer_class = update_serializer_class = ActionWriteSerializer
    duplicate_serializer_class = ActionDuplicateSerializer
    writes = DefinitionWrites(
        definition="action",
        create=services.action_create,
        update=services.action_update,
        delete=services.action_delete,
        duplicate=services.action_duplicate,
    )
    route_descriptions = {
        "duplicate": "An inactive copy (properties, targeting, capping, hooks and test users included).",
    }

    @extend_schema(request=StateSerializer, responses=ActionSerializer)
    @route(detail=True, methods=["post"])
    def state(self, request: Request, pk=None) -> Response:
        """Switch between active, inactive and staging."""
        data = StateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self.respond(
            services.action_set_state(action=self.get_object(), state=data.validated_data["state"])
        )

    @extend_schema(parameters=[AnalysisQuerySerializer], responses=AnalysisSerializer)
    @route(detail=True, methods=["get"])
    def analysis(self, request: Request, pk=None) -> Response:
        """Counts per reaction, rates, reach per channel, unique people, a time series and the slot's
        allocation, for a date range (organization timezone, end inclusive)."""
        query = AnalysisQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        try:
            result = selectors.analysis(action=self.get_object(), **query.validated_data)
        except ValueError as exc:
            raise serializers.ValidationError({"non_field_errors": [str(exc)]}) from exc
        return Response(result)

    @extend_schema(request=SimulateInputSerializer, responses=SimulationSerializer)
    @route(detail=True, methods=["post"])
    def simulate(self, request: Request, pk=None) -> Response:
        """Would this person get the action, and why not (nothing is recorded)."""
        data = SimulateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        at: datetime | None = v.get("at")
        result = selectors.simulate(
            action=self.get_object(),
            person=v["person"],
            channel=v["channel"],
            type=v.get("type") or None,
            tags=tuple(v.get("tags", ())),
            context=v.get("context", {}),
            now=at,
        )
        return Response(result)

    @extend_schema(responses=ReactionSerializer(many=True))
    @route(detail=True, methods=["get"])
    def reactions(self, request: Request, pk=None) -> Response:
        """The action's reactions, newest first (cursor pagination)."""
        page = self.paginate_queryset(selectors.reactions(action=self.get_object()))
        return self.get_paginated_response(ReactionSerializer(page, many=True).data)

    @extend_schema(responses=DeliverySerializer(many=True))
    @route(detail=True, methods=["get"])
    def deliveries(self, request: Request, pk=None) -> Response:
        """The action's webhook deliveries, newest first."""
        page = self.paginate_queryset(selectors.deliveries(action=self.get_object()))
        return self.get_paginated_response(DeliverySerializer(page, many=True).data)


class ReactionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Reaction.objects.select_related("person").order_by("-pk")
    serializer_class = ReactionSerializer
    filterset_fields = ["action", "person", "kind", "channel"]


class DeliveryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = WebhookDelivery.objects.order_by("-pk")
    serializer_class = DeliverySerializer
    filterset_fields = ["action", "status", "event"]

    @extend_schema(request=None, responses={202: DeliverySerializer})
    @route(detail=True, methods=["post"])
    def redeliver(self, request: Request, pk=None) -> Response:
        """Send the same body again (a new delivery, signed afresh)."""
        copy = services.delivery_redeliver(delivery=self.get_object())
        return Response(DeliverySerializer(copy).data, status=status.HTTP_202_ACCEPTED)


class AudienceWebhookViewSet(viewsets.ModelViewSet):
    queryset = AudienceWebhook.objects.order_by("pk")
    serializer_class = AudienceWebhookSerializer

    def perform_create(self, serializer):
        try:
            serializer.instance = services.audience_webhook_save(**serializer.validated_data)
        except ValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from exc

    def perform_update(self, serializer):
        try:
            serializer.instance = services.audience_webhook_save(
                webhook=serializer.instance, **serializer.validated_data
            )
        except ValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from exc
