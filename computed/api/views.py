"""``/api/computed-attributes/``: CRUD, activate, disable, duplicate, test on a profile, where used."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from computed import selectors, services
from computed.api.serializers import (
    ActivationSerializer,
    ComputedAttributeCreateSerializer,
    ComputedAttributeSerializer,
    ComputedAttributeUpdateSerializer,
    DuplicateSerializer,
    ProfileTestInputSerializer,
    ProfileTestOutputSerializer,
    PurchaseStatisticsInputSerializer,
    WhereUsedSerializer,
)
from computed.models import ComputedAttribute
from people.api.definitions import LifecycleViewSet
from people.models import Person


class ComputedAttributeViewSet(LifecycleViewSet):
    queryset = (
        ComputedAttribute.objects.select_related("created_by", "activated_by", "job")
        .prefetch_related("dependencies")
        .order_by("-pk")
    )
    serializer_class = ComputedAttributeSerializer
    filterset_fields = ["state", "kind", "group", "key"]
    create_serializer_class = ComputedAttributeCreateSerializer
    update_serializer_class = ComputedAttributeUpdateSerializer
    duplicate_serializer_class = DuplicateSerializer
    writes = services.WRITES
    route_descriptions = {
        "disable": "Stop updating; values stay on the profiles.",
        "duplicate": "An editable draft copy (the way to change an active attribute).",
    }

    @extend_schema(request=None, responses={202: ActivationSerializer})
    @action(detail=True, methods=["post"])
    def activate(self, request: Request, pk=None) -> Response:
        """Start processing every profile (a job with progress); the attribute becomes active after."""
        attribute = self.get_object()
        job = services.computed_attribute_activate(attribute=attribute, user=request.user)
        attribute = self.get_queryset().get(pk=attribute.pk)
        return Response(
            {"job": job.pk, "attributes": ComputedAttributeSerializer([attribute], many=True).data},
            status=status.HTTP_202_ACCEPTED,
        )

    @extend_schema(request=ProfileTestInputSerializer, responses=ProfileTestOutputSerializer)
    @action(detail=True, methods=["post"], url_path="test")
    def test_profile(self, request: Request, pk=None) -> Response:
        """The value for one profile and how it was reached (works on drafts and unsaved definitions)."""
        attribute = self.get_object()
        data = ProfileTestInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        person = get_object_or_404(Person, pk=data.validated_data["person"])
        definition = data.validated_data.get("definition", attribute.definition)
        result = selectors.run_profile_test(kind=attribute.kind, definition=definition, person=person)
        return Response(ProfileTestOutputSerializer(result).data)

    @extend_schema(responses=WhereUsedSerializer)
    @action(detail=True, methods=["get"], url_path="where-used")
    def where_used(self, request: Request, pk=None) -> Response:
        """What uses this attribute (deleting it is refused while anything does)."""
        return Response({"used_by": selectors.where_used(self.get_object())})

    @extend_schema(request=PurchaseStatisticsInputSerializer, responses={201: ActivationSerializer})
    @action(detail=False, methods=["post"], url_path="purchase-statistics")
    def purchase_statistics(self, request: Request) -> Response:
        """Create (and by default activate) the purchase-statistics set from a purchase event."""
        data = PurchaseStatisticsInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        params = dict(data.validated_data)
        activate = params.pop("activate")
        created = services.purchase_statistics_create(**params, created_by=request.user)
        job_id = 0
        if activate:
            job_id = services.computed_attributes_activate(attributes=created, user=request.user).pk
        attributes = self.get_queryset().filter(pk__in=[a.pk for a in created]).order_by("pk")
        return Response(
            {"job": job_id, "attributes": ComputedAttributeSerializer(attributes, many=True).data},
            status=status.HTTP_201_CREATED,
        )
