"""Admin pages of the people import: upload → mapping and preview → job progress and report.

They parse the request, call one service of ``identity.imports.services`` and render; mounted under
``/admin/people/import/`` (``identity.imports.urls``)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import timezone

from identity.imports import export, exportjob, services
from identity.imports.mapping import (
    EVENT,
    IGNORE,
    KINDS,
    MESSAGE_ID,
    PROPERTY,
    TIME_MODES,
    UID,
    WRITE_MODES,
    Mapping,
)
from identity.models import IdentifierType
from people.admin.jobs import register_result_link
from people.attributes import STANDARD_ATTRIBUTES
from people.models import AttributeDefinition, AttributeType, Job

PERMISSION = "people.change_person"


def _context(request, title: str, **extra) -> dict:
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied
    return {**admin.site.each_context(request), "title": title, **extra}


def upload_view(request):
    context = _context(request, "Import people")
    if request.method == "POST":
        file = request.FILES.get("file")
        if file is None:
            context["error"] = "Choose a CSV or XLSX file."
        else:
            try:
                token, _ = services.upload_store(file=file)
            except ValidationError as exc:
                context["error"] = " ".join(exc.messages)
            else:
                return redirect(reverse("people_import_mapping", args=[token]))
    context["recent"] = Job.objects.filter(kind=services.JOB_KIND).order_by("-created_at")[:10]
    return render(request, "admin/imports/upload.html", context)


def _choices() -> list[tuple[str, list[tuple[str, str]]]]:
    identifiers = [
        (f"id:{k}", f"Identifier: {k}") for k in IdentifierType.objects.values_list("key", flat=True)
    ]
    standard = [(f"attr:{k}", f"{spec.label}") for k, spec in STANDARD_ATTRIBUTES.items()]
    custom = [
        (f"attr:{d.key}", f"{d.label} ({d.get_type_display()})") for d in AttributeDefinition.objects.all()
    ]
    new = [
        (f"new:{t}", f"New custom attribute: {label}") for t, label in AttributeType.choices if t != "list"
    ]
    return [
        ("", [(IGNORE, "Ignore this column"), (UID, "Unified id")]),
        ("Identifiers", identifiers),
        ("Standard attributes", standard),
        ("Custom attributes", custom),
        ("Create an attribute", new),
        (
            "Historical events import",
            [(EVENT, "Event name"), (MESSAGE_ID, "Message id (dedupe)"), (PROPERTY, "Event property")],
        ),
    ]


def _mapping_from_post(post, headers: list[str]) -> Mapping:
    columns = {h: post.get(f"col_{i}", IGNORE) for i, h in enumerate(headers)}
    time_column_index = post.get("time_column", "")
    time_column = (
        headers[int(time_column_index)]
        if time_column_index.isdigit() and int(time_column_index) < len(headers)
        else ""
    )
    return Mapping(
        columns=columns,
        kind=post.get("kind", "people"),
        match_key=post.get("match_key", "email"),
        write_mode=post.get("write_mode", "create_update"),
        time_mode=post.get("time_mode", "now"),
        time_column=time_column,
        fixed_time=post.get("fixed_time", "").strip(),
    )


def mapping_view(request, token: str):
    context = _context(request, "Import people: map the columns")
    try:
        info, meta = services.upload_info(token)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(reverse("people_import_upload"))
    headers = info.headers
    suggested, remembered = services.suggested_mapping(headers)
    if request.method == "POST":
        mapping = _mapping_from_post(request.POST, headers)
        try:
            if request.POST.get("action") == "start":
                job = services.import_start(token=token, mapping=mapping, created_by=request.user)
                return redirect(reverse("people_import_report", args=[job.pk]))
            context["preview"] = services.import_preview(token=token, mapping=mapping)
        except ValidationError as exc:
            context["errors"] = exc.messages
    else:
        mapping = suggested
        context["remembered"] = remembered
    samples = services.sample_rows(token, limit=3)
    context.update(
        token=token,
        meta=meta,
        info=info,
        choices=_choices(),
        columns=[
            {
                "index": i,
                "name": h,
                "target": mapping.columns.get(h, IGNORE),
                "samples": [r[i] for r in samples if i < len(r)],
            }
            for i, h in enumerate(headers)
        ],
        mapping=mapping,
        match_keys=[
            (UID, "Unified id"),
            *[(k, k) for k in IdentifierType.objects.values_list("key", flat=True)],
        ],
        write_modes=WRITE_MODES.items(),
        kinds=KINDS.items(),
        time_modes=TIME_MODES.items(),
        time_column_index=headers.index(mapping.time_column) if mapping.time_column in headers else "",
    )
    return render(request, "admin/imports/mapping.html", context)


def report_view(request, job_id: int):
    job = get_object_or_404(Job, pk=job_id, kind=services.JOB_KIND)
    context = _context(request, f"Import #{job.pk}: {job.params.get('file_name') or 'file'}", job=job)
    context["has_rejects"] = services.rejects_path(job.params["token"]).exists()
    return render(request, "admin/imports/report.html", context)


def rejects_view(request, job_id: int):
    _context(request, "")
    job = get_object_or_404(Job, pk=job_id, kind=services.JOB_KIND)
    path = services.rejects_path(job.params["token"])
    if not path.exists():
        raise Http404("No rejected rows file for this import.")
    return FileResponse(path.open("rb"), as_attachment=True, filename=f"import-{job.pk}-rejected.csv")


DEFAULT_EXPORT = ["uid", "email", "first_name", "last_name", "phone", "city", "country"]


def export_view(request):
    context = _context(request, "Export people")
    if not exportjob.can_export(request.user):
        raise PermissionDenied
    filters = request.POST.get("filters", request.GET.get("filters", ""))
    chosen = request.POST.getlist("columns") if request.method == "POST" else DEFAULT_EXPORT
    if request.method == "POST":
        fmt = request.POST.get("format", "csv")
        choices = {"user": request.user, "columns": chosen, "fmt": fmt, "filters": filters}
        try:
            people = exportjob.export_check(**choices)
            if request.POST.get("run") == "job" or not exportjob.export_is_small(people):
                job = exportjob.export_start(**choices)
                return redirect(reverse("people_export_job", args=[job.pk]))
        except ValidationError as exc:
            context["errors"] = exc.messages
        else:
            stamp = timezone.now().strftime("%Y%m%d-%H%M")
            if fmt == "xlsx":
                rows = export.export_rows(people, chosen)
                return FileResponse(
                    export.xlsx_file(rows), as_attachment=True, filename=f"people-{stamp}.xlsx"
                )
            stream = export.csv_copy(people, chosen) or export.csv_stream(export.export_rows(people, chosen))
            response = StreamingHttpResponse(stream, content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="people-{stamp}.csv"'
            return response
    groups: dict[str, list] = {}
    for column in export.export_columns():
        groups.setdefault(column.group, []).append(column)
    context.update(
        groups=groups, chosen=set(chosen), filters=filters, stream_max_rows=exportjob.stream_max_rows()
    )
    return render(request, "admin/imports/export.html", context)


def _export_job(request, job_id: int) -> Job:
    if not exportjob.can_export(request.user):
        raise PermissionDenied
    return get_object_or_404(Job, pk=job_id, kind=services.EXPORT_JOB_KIND)


def export_job_view(request, job_id: int):
    job = _export_job(request, job_id)
    context = _context(request, f"Export #{job.pk}", job=job)
    try:
        exportjob.export_file(job)
    except ValidationError as exc:
        context["file_problem"] = " ".join(exc.messages)
    else:
        context["has_file"] = True
    return render(request, "admin/imports/export_job.html", context)


def export_file_view(request, job_id: int):
    job = _export_job(request, job_id)
    try:
        path = exportjob.export_file(job)
    except ValidationError as exc:
        raise Http404(" ".join(exc.messages)) from None
    return FileResponse(path.open("rb"), as_attachment=True, filename=path.name)


@register_result_link(services.EXPORT_JOB_KIND)
def export_file_link(request, job: Job) -> tuple[str, str] | None:
    """The Download link of a finished export on the generic job page (as on the export's own page),
    for staff allowed to export, while the file is kept."""
    if not exportjob.can_export(request.user):
        return None
    try:
        exportjob.export_file(job)
    except ValidationError:
        return None
    result = job.result or {}
    text = (
        f"Download {result.get('file_name', '')} ({result.get('rows', 0)} people,"
        f" {filesizeformat(result.get('size', 0))})"
    )
    return text, reverse("people_export_file", args=[job.pk])
