"""The management API of people exports (``/api/exports/``): queue an export job with chosen columns,
a format and the people to export (a person-list query string and/or an audience), then download its
file. The job's status and progress are ``/api/jobs/<id>/``. Bad input is a 400 naming the field, and
no job is created."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import FileResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.response import Response

from identity.imports import exportjob, services
from people.models import Job


class CanExport(permissions.BasePermission):
    """Staff with ``people.view_person`` and ``people.change_person`` (as the admin's export page)."""

    def has_permission(self, request, view) -> bool:
        return exportjob.can_export(request.user)


class ExportInput(serializers.Serializer):
    columns = serializers.ListField(
        child=serializers.CharField(),
        help_text="uid, an attribute key (standard, custom, computed) or identifier:<type>, in order.",
    )
    format = serializers.ChoiceField(choices=list(exportjob.FORMATS), default="csv")
    filters = serializers.CharField(
        default="",
        allow_blank=True,
        help_text="The person list's query string (search q=, list filters, the filter sheet); "
        "empty for every person.",
    )
    audience = serializers.CharField(
        default="", allow_blank=True, help_text="An audience key: only its current members."
    )


class ExportOutput(serializers.Serializer):
    job = serializers.IntegerField()
    status = serializers.CharField()
    file = serializers.CharField(help_text="Where the file downloads once the job has succeeded.")


class ExportViewSet(viewsets.ViewSet):
    """People exports (staff allowed to export people)."""

    permission_classes = [CanExport]

    @extend_schema(
        request=ExportInput,
        responses={202: ExportOutput, 400: OpenApiResponse(description="Each bad choice under its field.")},
    )
    def create(self, request):
        """Queue an export job (status and progress: ``/api/jobs/<id>/``)."""
        data = ExportInput(data=request.data)
        data.is_valid(raise_exception=True)
        choice = data.validated_data
        try:
            job = exportjob.export_start(
                user=request.user,
                columns=choice["columns"],
                fmt=choice["format"],
                filters=choice["filters"],
                audience=choice["audience"],
            )
        except ValidationError as exc:
            raise ApiValidationError(exc.message_dict) from None
        body = {"job": job.pk, "status": job.status, "file": f"/api/exports/jobs/{job.pk}/file/"}
        return Response(ExportOutput(body).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        responses={
            (200, "application/octet-stream"): OpenApiTypes.BINARY,
            404: OpenApiResponse(description="No such export job, or its file was removed."),
            409: OpenApiResponse(description="The job has not succeeded (yet)."),
        }
    )
    @action(detail=False, methods=["get"], url_path=r"jobs/(?P<job_id>\d+)/file")
    def file(self, request, job_id: str):
        """The export job's file (CSV or XLSX), once the job has succeeded."""
        job = get_object_or_404(Job, pk=int(job_id), kind=services.EXPORT_JOB_KIND)
        if job.status != Job.Status.SUCCEEDED:
            return Response(
                {"detail": f"The export is {job.status}; its file is not ready."},
                status=status.HTTP_409_CONFLICT,
            )
        try:
            path = exportjob.export_file(job)
        except ValidationError as exc:
            return Response({"detail": " ".join(exc.messages)}, status=status.HTTP_404_NOT_FOUND)
        return FileResponse(path.open("rb"), as_attachment=True, filename=path.name)
