"""Admin pages of the people import: upload → mapping and preview → job progress and report.

They parse the request, call one service of ``identity.imports.services`` and render; mounted under
``/admin/people/import/`` (``identity.imports.urls``)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, QueryDict, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone

from identity.imports import export, services
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
from people.attributes import STANDARD_ATTRIBUTES
from people.models import AttributeDefinition, AttributeType, Job, Person

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


def _filtered_people(request, filters: str):
    """The people the person list shows with ``filters`` (its query string)."""
    model_admin = admin.site._registry[Person]
    listing = request.__class__(request.environ)
    listing.user = request.user
    listing.GET = QueryDict(filters)
    try:
        return model_admin.get_changelist_instance(listing).queryset
    except Exception as exc:  # noqa: BLE001 - a stale or hand-made filter is the user's input
        raise ValidationError(f"The person list filters cannot be applied ({type(exc).__name__}).") from None


def export_view(request):
    context = _context(request, "Export people")
    if not request.user.has_perm("people.view_person"):
        raise PermissionDenied
    filters = request.POST.get("filters", request.GET.get("filters", ""))
    chosen = request.POST.getlist("columns") if request.method == "POST" else DEFAULT_EXPORT
    if request.method == "POST":
        fmt = request.POST.get("format", "csv")
        try:
            people = _filtered_people(request, filters)
            rows = export.export_rows(people, chosen)
            header = next(rows)  # checks the columns before the response starts
            if fmt not in ("csv", "xlsx"):
                raise ValidationError(f"Unknown format '{fmt}'.")
        except ValidationError as exc:
            context["errors"] = exc.messages
        else:
            stamp = timezone.now().strftime("%Y%m%d-%H%M")

            def all_rows():
                yield header
                yield from rows

            if fmt == "xlsx":
                return FileResponse(
                    export.xlsx_file(all_rows()), as_attachment=True, filename=f"people-{stamp}.xlsx"
                )
            stream = export.csv_copy(people, chosen) or export.csv_stream(all_rows())
            response = StreamingHttpResponse(stream, content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="people-{stamp}.csv"'
            return response
    groups: dict[str, list] = {}
    for column in export.export_columns():
        groups.setdefault(column.group, []).append(column)
    context.update(groups=groups, chosen=set(chosen), filters=filters)
    return render(request, "admin/imports/export.html", context)
