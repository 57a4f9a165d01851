"""The management API of people imports (``/api/imports/``): upload a file, preview a mapping, start
the job, download its rejected rows. The job's status, progress and report are ``/api/jobs/<id>/``.
Views parse, call one service of ``identity.imports.services`` and render; bad input is a 400 naming
the field, never a 500, and nothing is written."""

from __future__ import annotations

from dataclasses import asdict

from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.response import Response

from identity.imports import services
from identity.imports.mapping import KINDS, TIME_MODES, WRITE_MODES, Mapping
from people.models import Job, Person


class UploadInput(serializers.Serializer):
    file = serializers.FileField(help_text="CSV (UTF-8 or Latin-1, any of , ; tab |) or XLSX (first sheet).")


class MappingSerializer(serializers.Serializer):
    columns = serializers.DictField(
        child=serializers.CharField(),
        help_text="Header → ignore | uid | attr:<key> | id:<identifier type> | new:<type> | event | "
        "message_id | property.",
    )
    kind = serializers.ChoiceField(choices=list(KINDS), default="people")
    match_key = serializers.CharField(default="email", help_text="An identifier type key, or uid.")
    write_mode = serializers.ChoiceField(choices=list(WRITE_MODES), default="create_update")
    time_mode = serializers.ChoiceField(choices=list(TIME_MODES), default="now")
    time_column = serializers.CharField(default="", allow_blank=True)
    fixed_time = serializers.CharField(default="", allow_blank=True)


class UploadOutput(serializers.Serializer):
    token = serializers.CharField()
    file_name = serializers.CharField()
    size = serializers.IntegerField()
    headers = serializers.ListField(child=serializers.CharField())
    format = serializers.CharField()
    encoding = serializers.CharField()
    delimiter = serializers.CharField()
    mapping = MappingSerializer(help_text="The remembered mapping of these headers, or a first guess.")
    remembered = serializers.BooleanField()


class PreviewRow(serializers.Serializer):
    number = serializers.IntegerField()
    action = serializers.CharField(help_text="create, update, unchanged, error or drop")
    summary = serializers.CharField()
    changes = serializers.ListField(child=serializers.ListField(child=serializers.CharField()))
    kept = serializers.ListField(child=serializers.ListField(child=serializers.CharField()))


class PreviewOutput(serializers.Serializer):
    rows = PreviewRow(many=True)


class StartOutput(serializers.Serializer):
    job = serializers.IntegerField()
    status = serializers.CharField()
    total = serializers.IntegerField()


def _mapping_of(request, token: str) -> Mapping:
    try:
        services.upload_path(token)
    except ValidationError as exc:
        raise _refused(exc, "token") from None
    data = MappingSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    return Mapping(**data.validated_data)


def _refused(exc: ValidationError, field: str = "mapping") -> ApiValidationError:
    return ApiValidationError({field: exc.messages})


class ImportViewSet(viewsets.ViewSet):
    """People imports: ``people.add_person`` to upload, preview and start; ``view`` to read."""

    queryset = Person.objects.none()  # the permission model (people.person)
    lookup_field = "token"
    lookup_value_regex = "[0-9a-f-]{36}"

    @extend_schema(
        request={"multipart/form-data": UploadInput},
        responses={201: UploadOutput, 400: OpenApiResponse(description="A bad file, with the reason.")},
    )
    def create(self, request):
        """Upload a file: its headers, detected format, and the mapping to start from."""
        data = UploadInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            token, info = services.upload_store(file=data.validated_data["file"])
            _, meta = services.upload_info(token)
        except ValidationError as exc:
            raise _refused(exc, "file") from None
        mapping, remembered = services.suggested_mapping(info.headers)
        body = {
            "token": token,
            "file_name": meta.get("name", ""),
            "size": meta.get("size", 0),
            "headers": info.headers,
            "format": info.format,
            "encoding": info.encoding,
            "delimiter": info.delimiter,
            "mapping": {k: v for k, v in mapping.as_dict().items() if k != "new_keys"},
            "remembered": remembered,
        }
        return Response(UploadOutput(body).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=MappingSerializer, responses={200: PreviewOutput})
    @action(detail=True, methods=["post"])
    def preview(self, request, token: str):
        """What the import would do to the first 20 rows (nothing is written)."""
        mapping = _mapping_of(request, token)
        try:
            rows = services.import_preview(token=token, mapping=mapping)
        except ValidationError as exc:
            raise _refused(exc) from None
        return Response(PreviewOutput({"rows": [asdict(r) for r in rows]}).data)

    @extend_schema(request=MappingSerializer, responses={202: StartOutput})
    @action(detail=True, methods=["post"])
    def start(self, request, token: str):
        """Create the mapping's new attributes and queue the import job (status: ``/api/jobs/<id>/``)."""
        mapping = _mapping_of(request, token)
        try:
            job = services.import_start(token=token, mapping=mapping, created_by=request.user)
        except ValidationError as exc:
            raise _refused(exc) from None
        body = {"job": job.pk, "status": job.status, "total": job.progress_total}
        return Response(StartOutput(body).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        responses={(200, "text/csv"): OpenApiTypes.BINARY, 404: OpenApiResponse(description="No such file.")}
    )
    @action(detail=False, methods=["get"], url_path=r"jobs/(?P<job_id>\d+)/rejected")
    def rejected(self, request, job_id: str):
        """The import job's rejected rows: row number, reason, then the row's cells."""
        job = get_object_or_404(Job, pk=int(job_id), kind=services.JOB_KIND)
        path = services.rejects_path(job.params["token"])
        if not path.exists():
            raise Http404("This import has no rejected rows file yet.")
        return FileResponse(path.open("rb"), as_attachment=True, filename=f"import-{job.pk}-rejected.csv")
