"""``/api/audiences/``: CRUD, activate, duplicate, disable, refresh, preview, impact, members,
history, explain, where used, export (CSV)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response

from audiences import export, selectors, services
from audiences.api.serializers import (
    AudienceCreateSerializer,
    AudienceDuplicateSerializer,
    AudienceSerializer,
    AudienceUpdateSerializer,
    AudienceWhereUsedSerializer,
    ExplainInputSerializer,
    ExplainSerializer,
    HistorySerializer,
    ImpactSerializer,
    JobSerializer,
    MemberSerializer,
    PreviewInputSerializer,
    PreviewSerializer,
)
from audiences.definition import DefinitionError
from audiences.models import Audience
from people.api.definitions import LifecycleViewSet
from people.models import Person


class MemberPagination(CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 1000
    ordering = "person_id"


class HistoryPagination(CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 1000
    ordering = "-id"


class AudienceViewSet(LifecycleViewSet):
    queryset = (
        Audience.objects.select_related("created_by", "activated_by", "job", "duplicated_from")
        .prefetch_related("uses")
        .order_by("-pk")
    )
    serializer_class = AudienceSerializer
    filterset_fields = ["state", "type", "key"]
    create_serializer_class = AudienceCreateSerializer
    update_serializer_class = AudienceUpdateSerializer
    duplicate_serializer_class = AudienceDuplicateSerializer
    writes = services.WRITES
    route_descriptions = {
        "duplicate": "An editable draft copy (the way to change an active audience); its impact is shown.",
    }

    def _started(self, request: Request, start) -> Response:
        """202 with the job ``start(audience=, user=)`` created and the audience as it is now."""
        job = start(audience=self.get_object(), user=request.user)
        audience = self.get_queryset().get(pk=self.kwargs["pk"])
        return Response({"job": job.pk, "audience": AudienceSerializer(audience).data}, status=202)

    @extend_schema(responses={204: None, 409: AudienceWhereUsedSerializer})
    def destroy(self, request: Request, pk=None) -> Response:
        """Delete (refused with where it is used); its key is never given to another audience."""
        audience = self.get_object()
        used = services.where_used(audience)
        if used:
            return Response(
                {"detail": f"Cannot delete: used by {', '.join(used)}.", "code": "in_use", "used_by": used},
                status=status.HTTP_409_CONFLICT,
            )
        services.audience_delete(audience=audience)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={202: JobSerializer})
    @action(detail=True, methods=["post"])
    def activate(self, request: Request, pk=None) -> Response:
        """Compute the membership over every profile (a job with progress); active afterwards."""
        return self._started(request, services.audience_activate)

    @extend_schema(request=None, responses={202: JobSerializer})
    @action(detail=True, methods=["post"])
    def refresh(self, request: Request, pk=None) -> Response:
        """Recompute the whole membership now (a job); a failure keeps the previous membership."""
        return self._started(request, services.audience_refresh)

    @extend_schema(request=PreviewInputSerializer, responses=PreviewSerializer)
    @action(detail=False, methods=["post"])
    def preview(self, request: Request) -> Response:
        """Count and a sample of ten of the people an (unsaved) definition matches now."""
        data = PreviewInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        compiled = services.validate(
            audience_type=data.validated_data["type"],
            definition=data.validated_data["definition"],
            include_anonymous=data.validated_data["include_anonymous"],
        )
        return Response(PreviewSerializer(selectors.preview(compiled)).data)

    @extend_schema(responses={200: ImpactSerializer, 404: None})
    @action(detail=True, methods=["get"])
    def impact(self, request: Request, pk=None) -> Response:
        """+N / −M against the current members of the audience this one was duplicated from."""
        audience = self.get_object()
        try:
            result = selectors.impact(audience)
        except (DefinitionError, LookupError) as exc:
            return Response({"definition": [f"the stored definition no longer checks: {exc}"]}, status=409)
        if result is None:
            return Response({"detail": "This audience was not duplicated from another one."}, status=404)
        return Response(ImpactSerializer(result).data)

    @extend_schema(responses=MemberSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=MemberPagination)
    def members(self, request: Request, pk=None) -> Response:
        """Current members with their entry time (cursor pagination by person id)."""
        audience = self.get_object()
        qs = selectors.current_members(audience).order_by("person_id")
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(MemberSerializer(page, many=True).data)

    @extend_schema(
        parameters=[
            OpenApiParameter("person", OpenApiTypes.INT, description="Only this person's entries and exits.")
        ],
        responses=HistorySerializer(many=True),
    )
    @action(detail=True, methods=["get"], pagination_class=HistoryPagination)
    def history(self, request: Request, pk=None) -> Response:
        """Entries and exits, newest first (cursor pagination)."""
        rows = selectors.audience_history(self.get_object())
        person = request.query_params.get("person", "")
        if person:
            if not person.isdigit():
                return Response({"person": ["expected a person id"]}, status=400)
            rows = rows.filter(person_id=int(person))
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(HistorySerializer(page, many=True).data)

    @extend_schema(request=ExplainInputSerializer, responses=ExplainSerializer)
    @action(detail=True, methods=["post"])
    def explain(self, request: Request, pk=None) -> Response:
        """Why a person is in or out: each condition true/false with the events that matched."""
        data = ExplainInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        person = get_object_or_404(Person, pk=data.validated_data["person"])
        try:
            result = selectors.explain(self.get_object(), person)
        except (DefinitionError, LookupError) as exc:
            return Response({"definition": [f"the stored definition no longer checks: {exc}"]}, status=409)
        return Response(ExplainSerializer(result).data)

    @extend_schema(responses=AudienceWhereUsedSerializer)
    @action(detail=True, methods=["get"], url_path="where-used")
    def where_used(self, request: Request, pk=None) -> Response:
        return Response({"used_by": services.where_used(self.get_object())})

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "columns",
                OpenApiTypes.STR,
                description="Comma-separated: uid, person_id, entered_at, email_sha256, identifier:<type>, "
                "or attribute keys (standard, custom, computed). Default: uid,email_sha256.",
            )
        ],
        responses={(200, "text/csv"): OpenApiTypes.STR},
    )
    @action(detail=True, methods=["get"])
    def export(self, request: Request, pk=None):
        """The current members as CSV (streamed)."""
        audience = self.get_object()
        raw = request.query_params.get("columns", "uid,email_sha256")
        columns = [c.strip() for c in raw.split(",") if c.strip()]
        try:
            export.check_columns(columns)
        except ValidationError as exc:
            return Response(exc.message_dict, status=400)
        response = StreamingHttpResponse(export.stream_csv(audience, columns), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="{audience.key}.csv"'
        return response
