"""Exports as jobs: the people a person-list query string (search, list filters, the filter sheet)
and/or an audience select, with chosen columns, written as CSV or XLSX to a file under the
import/export folder (``ATTUNE_IMPORT_DIR``, cleaned by the daily housekeeping), then downloaded
through a view that checks the export permission.

Small exports from the admin are still streamed straight to the browser
(``ATTUNE_EXPORT_STREAM_MAX_ROWS``, default 10,000 people); larger ones, and every export of the
management API, run as a ``people.Job`` of kind ``identity.people_export``.
"""

from __future__ import annotations

import contextlib
import uuid
from pathlib import Path

from django.conf import settings
from django.core.exceptions import EmptyResultSet, ValidationError
from django.db.models import QuerySet
from django.http import QueryDict

from identity.imports import export
from identity.imports.services import EXPORT_JOB_KIND, import_dir
from people.conditions.attributes import provider_of, resolve
from people.models import Job, Person
from people.services import job_start

FORMATS = ("csv", "xlsx")
AUDIENCE_PREFIX = "audience:"  # the audiences app's attribute provider (membership as a boolean)
EXPORT_PERMISSIONS = ("people.view_person", "people.change_person")
PROGRESS_EVERY = 5000  # rows between two progress updates


def can_export(user) -> bool:
    """Staff allowed to export people (the admin page, the job's file, the API)."""
    return bool(
        user is not None
        and user.is_active
        and user.is_staff
        and all(user.has_perm(p) for p in EXPORT_PERMISSIONS)
    )


def stream_max_rows() -> int:
    return int(getattr(settings, "ATTUNE_EXPORT_STREAM_MAX_ROWS", 10_000))


class _Said:
    """Collects the messages the person list's filters add (``django.contrib.messages``' storage API)."""

    def __init__(self):
        self.said: list[str] = []

    def add(self, level, message, extra_tags="") -> None:
        self.said.append(str(message))


def people_selected(*, user, filters: str = "", audience: str = "") -> QuerySet[Person]:
    """The people the person list shows to ``user`` with ``filters`` (its query string), narrowed to
    the current members of ``audience`` (its key) when one is named. Filters the list cannot apply
    and unknown audiences raise ``ValidationError`` keyed by the field."""
    people = Person.objects.live()
    if filters:
        from django.contrib import admin
        from django.test import RequestFactory

        listing = RequestFactory().get("/admin/people/person/")
        listing.GET = QueryDict(filters)
        listing.user = user
        listing._messages = _Said()  # what a filter tells the list's user (a value it cannot read)
        try:
            people = admin.site._registry[Person].get_changelist_instance(listing).queryset
            if not listing._messages.said:
                with contextlib.suppress(EmptyResultSet):  # a filter nobody matches is fine
                    people.query.sql_with_params()  # a bad value surfaces here, not in the worker
        except Exception as exc:  # noqa: BLE001 - a stale or hand-made filter is the user's input
            raise ValidationError(
                {"filters": [f"The person list filters cannot be applied ({type(exc).__name__})."]}
            ) from None
        if listing._messages.said:
            raise ValidationError({"filters": listing._messages.said})
    if audience:
        ref = resolve(AUDIENCE_PREFIX + audience)
        if ref is None or ref.kind != "audience":
            raise ValidationError({"audience": [f"There is no audience '{audience}'."]})
        people = people.filter(provider_of(ref).expression(ref))
    return people


def export_check(*, user, columns: list[str], fmt: str, filters: str = "", audience: str = "") -> QuerySet:
    """The people to export, once the columns, the format, the filters and the audience are valid;
    every problem is named under its field."""
    problems: dict[str, list[str]] = {}
    if not columns:
        problems["columns"] = ["Choose at least one column."]
    else:
        try:
            export.annotations_of(columns)
        except ValidationError as exc:
            problems["columns"] = exc.messages
    if fmt not in FORMATS:
        problems["format"] = [f"Unknown format '{fmt}'. Choose csv or xlsx."]
    try:
        people = people_selected(user=user, filters=filters, audience=audience)
    except ValidationError as exc:
        problems.update(exc.message_dict)
    if problems:
        raise ValidationError(problems)
    return people


def export_is_small(people: QuerySet[Person]) -> bool:
    """Whether the export may stream in the request (counts at most the limit + 1 rows)."""
    limit = stream_max_rows()
    return people.order_by().values("pk")[: limit + 1].count() <= limit


def export_start(*, user, columns: list[str], fmt: str, filters: str = "", audience: str = "") -> Job:
    """Check the choices and queue the export job (its file: ``export_file``)."""
    export_check(user=user, columns=columns, fmt=fmt, filters=filters, audience=audience)
    params = {
        "columns": list(columns),
        "format": fmt,
        "filters": filters,
        "audience": audience,
        "token": str(uuid.uuid4()),  # the job's folder under the import/export directory
    }
    return job_start(kind=EXPORT_JOB_KIND, params=params, created_by=user)


def _file_path(job: Job) -> Path:
    return import_dir() / job.params["token"] / f"people-{job.pk}.{job.params['format']}"


def export_file(job: Job) -> Path:
    """The finished export's file; ``ValidationError`` when the job has none (yet, or any more)."""
    if job.kind != EXPORT_JOB_KIND:
        raise ValidationError("This job is not an export.")
    if job.status != Job.Status.SUCCEEDED:
        raise ValidationError(f"The export is {job.status}; its file is not ready.")
    path = _file_path(job)
    if not path.exists():
        raise ValidationError("The export's file was removed (files are kept a few days); export again.")
    return path


class _Counter:
    """Advances the job's progress every ``PROGRESS_EVERY`` rows, never past the total."""

    def __init__(self, progress, total: int):
        self.progress = progress
        self.total = total
        self.reported = 0
        self.rows = 0

    def add(self, rows: int) -> None:
        self.rows += rows
        if self.rows - self.reported >= PROGRESS_EVERY:
            self.flush()

    def flush(self) -> None:
        done = min(self.rows, self.total)
        if done > self.reported:
            self.progress.advance(done - self.reported)
            self.reported = done


def run_export(job: Job, progress) -> dict:
    """Write the export's file (to a ``.part`` file renamed when complete, so a rerun starts over)."""
    params = job.params
    user = job.created_by
    if not can_export(user):
        raise PermissionError("The user who started this export may no longer export people.")
    people = people_selected(user=user, filters=params["filters"], audience=params["audience"])
    columns = params["columns"]
    total = people.count()
    progress.set_total(total)
    counter = _Counter(progress, total)
    path = _file_path(job)
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    if params["format"] == "xlsx":
        export.xlsx_write(export.export_rows(people, columns), part, on_row=lambda: counter.add(1))
    else:
        blocks = export.csv_copy(people, columns)
        with part.open("wb") as out:
            if blocks is not None:
                for block in blocks:
                    out.write(block)
                    counter.add(block.count(b"\n"))  # about one line per row
            else:
                for line in export.csv_stream(export.export_rows(people, columns)):
                    out.write(line.encode())
                    counter.add(1)
    part.replace(path)
    counter.rows = total
    counter.flush()
    return {"rows": total, "file_name": path.name, "size": path.stat().st_size, "format": params["format"]}
