"""``/api/privacy/v3/``: the OpenDSR v3 requests API (staff token), discovery and export results."""

from __future__ import annotations

from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from identity.models import IdentifierType
from people import signing
from privacy import services
from privacy.api.serializers import (
    API_VERSION,
    DiscoverySerializer,
    RequestCreatedSerializer,
    RequestCreateSerializer,
    RequestStatusSerializer,
    controller_id,
    status_document,
)
from privacy.export import csv_bundle
from privacy.models import PrivacyRequest, RequestKind, RequestStatus

PERMS = {
    "GET": "privacy.view_privacyrequest",
    "HEAD": "privacy.view_privacyrequest",
    "POST": "privacy.add_privacyrequest",
    "DELETE": "privacy.change_privacyrequest",
}


class PrivacyPermission(BasePermission):
    """Staff with the privacy request permissions; erasure also needs ``privacy.run_erasure``
    (checked by the service, which knows the request type)."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_staff):
            return False
        needed = PERMS.get(request.method)
        return needed is None or user.has_perm(needed)


def results_url(request: Request, privacy_request: PrivacyRequest) -> str | None:
    if not privacy_request.is_export or privacy_request.status != RequestStatus.COMPLETED:
        return None
    return request.build_absolute_uri(
        reverse("privacy-request-results", args=[privacy_request.subject_request_id])
    )


class RequestListView(APIView):
    permission_classes = [PrivacyPermission]

    @extend_schema(
        operation_id="privacy_requests_create",
        request=RequestCreateSerializer,
        responses={201: RequestCreatedSerializer},
        description="Create a data subject request (OpenDSR v3). Types: access, portability, erasure, "
        "and the extensions suppression and unsuppression. Erasure needs the 'Can run erasure requests' "
        "permission.",
    )
    def post(self, request: Request) -> Response:
        data = RequestCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        created = services.request_create(
            kind=data.validated_data["subject_request_type"],
            identities=data.identities(),
            requested_by=request.user,
            regulation=data.validated_data["regulation"],
            subject_request_id=data.validated_data["subject_request_id"],
            submitted_time=data.validated_data["submitted_time"],
            status_callback_urls=data.validated_data.get("status_callback_urls", []),
            via="api",
        )
        return Response(
            {
                "expected_completion_time": services.expected_completion_time(created).isoformat(),
                "received_time": created.received_at.isoformat(),
                "subject_request_id": str(created.subject_request_id),
                "controller_id": controller_id(),
            },
            status=status.HTTP_201_CREATED,
        )


class RequestDetailView(APIView):
    permission_classes = [PrivacyPermission]

    @extend_schema(operation_id="privacy_requests_retrieve", responses=RequestStatusSerializer)
    def get(self, request: Request, subject_request_id) -> Response:
        privacy_request = get_object_or_404(PrivacyRequest, subject_request_id=subject_request_id)
        return Response(status_document(privacy_request, results_url=results_url(request, privacy_request)))

    @extend_schema(
        operation_id="privacy_requests_cancel",
        responses={200: RequestStatusSerializer, 409: OpenApiResponse(description="Not pending")},
        description="Cancel a pending request. Any other status answers 409 with the reason.",
    )
    def delete(self, request: Request, subject_request_id) -> Response:
        from django.core.exceptions import ValidationError

        privacy_request = get_object_or_404(PrivacyRequest, subject_request_id=subject_request_id)
        try:
            privacy_request = services.request_cancel(request=privacy_request, actor=request.user)
        except ValidationError as exc:
            return Response(
                {"detail": exc.messages[0], "code": "not_pending"}, status=status.HTTP_409_CONFLICT
            )
        return Response(status_document(privacy_request, results_url=None))


class RequestResultsView(APIView):
    permission_classes = [PrivacyPermission]

    @extend_schema(
        operation_id="privacy_requests_results",
        parameters=[
            OpenApiParameter(
                "as", str, enum=["json", "csv"], required=False, description="csv: a zip of CSV files"
            )
        ],
        responses={
            (200, "application/json"): OpenApiTypes.OBJECT,
            (200, "application/zip"): OpenApiTypes.BINARY,
            404: OpenApiResponse(description="No such export"),
            409: OpenApiResponse(description="Not completed yet"),
            410: OpenApiResponse(description="Expired (results are kept 7 days)"),
        },
    )
    def get(self, request: Request, subject_request_id):
        privacy_request = get_object_or_404(PrivacyRequest, subject_request_id=subject_request_id)
        return export_response(privacy_request, request.query_params.get("as", "json"))


def export_response(privacy_request: PrivacyRequest, fmt: str):
    """The export download (API and admin): 404 / 409 / 410 with a reason when not available."""

    def error(code: int, kind: str, message: str):
        return JsonResponse({"detail": message, "code": kind}, status=code)

    if not privacy_request.is_export:
        return error(404, "not_an_export", "Only access and portability requests have results.")
    if privacy_request.status != RequestStatus.COMPLETED:
        return error(409, "not_completed", f"The request is {privacy_request.get_status_display().lower()}.")
    expired = privacy_request.results_expire_at and privacy_request.results_expire_at <= timezone.now()
    if expired or privacy_request.result is None:
        return error(410, "expired", "The results were kept 7 days and have been deleted.")
    if fmt not in ("json", "csv"):
        return error(400, "bad_format", "as must be json or csv.")
    name = f"attune-export-{privacy_request.subject_request_id}"
    if fmt == "csv":
        response = HttpResponse(csv_bundle(privacy_request.result), content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="{name}.zip"'
        return response
    response = JsonResponse(privacy_request.result, json_dumps_params={"ensure_ascii": False})
    response["Content-Disposition"] = f'attachment; filename="{name}.json"'
    return response


class DiscoveryView(APIView):
    permission_classes = [PrivacyPermission]

    @extend_schema(operation_id="privacy_discovery", responses=DiscoverySerializer)
    def get(self, request: Request) -> Response:
        return Response(
            {
                "api_version": API_VERSION,
                "supported_identities": [
                    {"identity_type": key, "identity_format": "raw"}
                    for key in IdentifierType.objects.order_by("priority", "key").values_list(
                        "key", flat=True
                    )
                ],
                "supported_subject_request_types": list(RequestKind.values),
                "supported_regulations": list(PrivacyRequest.Regulation.values),
                "processor_signature_header": signing.HEADER,
            }
        )
