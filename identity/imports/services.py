"""Import services: store an upload, preview a mapping, start the job, run it, report.

The heavy work (resolution, merges, attribute writes by time, quarantine) is the ingestion
pipeline's: each batch of rows is one ``ingest_batch`` call of the CSV source.
"""

from __future__ import annotations

import csv
import json
import shutil
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from identity.imports import setbased
from identity.imports.mapping import UID, Mapping, headers_key
from identity.imports.reader import FileProblem, TableInfo, count_rows, open_table, row_problem
from identity.imports.rows import (
    RowError,
    add_identifier,
    build_message,
    match_value,
    parse_row_time,
    row_time,
)
from identity.models import Identity
from identity.pipeline import ingest_batch
from identity.policy import Policy
from people.models import AttributeDefinition, Job, Person, Source
from people.services import (
    AttributeWrite,
    apply_attribute_writes,
    attribute_definition_create,
    csv_import_source,
    job_start,
    validate_attribute_writes,
)

JOB_KIND = "identity.csv_import"
EXPORT_JOB_KIND = "identity.people_export"  # identity.imports.exportjob
BATCH_ROWS = 1000
PREVIEW_ROWS = 20


def import_dir() -> Path:
    return Path(getattr(settings, "ATTUNE_IMPORT_DIR", settings.BASE_DIR / "var" / "imports"))


def max_upload_bytes() -> int:
    return int(getattr(settings, "ATTUNE_IMPORT_MAX_BYTES", 1024 * 1024 * 1024))


def upload_path(token: str) -> Path:
    try:
        uuid.UUID(token)
    except ValueError:
        raise ValidationError("Unknown upload.") from None
    path = import_dir() / token / "upload"
    if not path.exists():
        raise ValidationError("The uploaded file is gone; upload it again.")
    return path


def upload_store(*, file) -> tuple[str, TableInfo]:
    """Keep an uploaded file (in chunks) and read its header line. A bad file is refused whole."""
    token = str(uuid.uuid4())
    folder = import_dir() / token
    folder.mkdir(parents=True, exist_ok=True)
    size = 0
    limit = max_upload_bytes()
    try:
        with (folder / "upload").open("wb") as out:
            for chunk in file.chunks():
                size += len(chunk)
                if size > limit:
                    raise FileProblem(f"The file is larger than {limit // (1024 * 1024)} MB; split it.")
                out.write(chunk)
        info, rows = open_table(folder / "upload")
        rows.close()
    except FileProblem as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise ValidationError(str(exc)) from None
    (folder / "meta.json").write_text(json.dumps({"name": getattr(file, "name", ""), "size": size}))
    return token, info


def upload_info(token: str) -> tuple[TableInfo, dict]:
    path = upload_path(token)
    info, rows = open_table(path)
    rows.close()
    meta = json.loads((path.parent / "meta.json").read_text())
    return info, meta


def sample_rows(token: str, limit: int = PREVIEW_ROWS) -> list[list[str]]:
    _, rows = open_table(upload_path(token))
    out = []
    for row in rows:
        out.append(row)
        if len(out) >= limit:
            break
    rows.close()
    return out


def remembered_mapping(headers: list[str]) -> Mapping | None:
    """The mapping of the latest import of a file with the same headers."""
    job = (
        Job.objects.filter(kind=JOB_KIND, params__headers_key=headers_key(headers))
        .order_by("-created_at")
        .first()
    )
    if job is None:
        return None
    mapping = Mapping.from_dict(job.params["mapping"])
    for column, key in mapping.new_keys.items():  # attributes that import created exist now
        if mapping.columns.get(column, "").startswith("new:"):
            mapping.columns[column] = f"attr:{key}"
    mapping.new_keys = {}
    return mapping


def suggested_mapping(headers: list[str]) -> tuple[Mapping, bool]:
    """The mapping to start from: the remembered one (``True``), else a guess per column."""
    from identity.imports.mapping import guess_target
    from identity.models import IdentifierType

    remembered = remembered_mapping(headers)
    if remembered is not None:
        return remembered, True
    id_keys = set(IdentifierType.objects.values_list("key", flat=True))
    return Mapping(columns={h: guess_target(h, id_keys) for h in headers}), False


# --- checking rows in batches -------------------------------------------------------------------


@dataclass
class Checked:
    """A batch of rows: messages ready for ingestion and rows rejected before it."""

    messages: list[dict] = field(default_factory=list)
    numbers: list[int] = field(default_factory=list)  # file row number of each message
    rejected: list[tuple[int, list[str], str]] = field(default_factory=list)


class Batcher:
    def __init__(self, mapping: Mapping, headers: list[str], *, run_id: str, now: str):
        self.mapping = mapping
        self.headers = headers
        self.run_id = run_id
        self.now = now
        self.policy = Policy.load()
        self.definitions = {d.key: d for d in AttributeDefinition.objects.all()}
        for column, target in mapping.columns.items():  # new attributes (not created yet in a preview)
            key = mapping.new_keys.get(column)
            if target.startswith("new:") and key and key not in self.definitions:
                self.definitions[key] = AttributeDefinition(key=key, label=column, type=target[4:])

    def check(self, rows: list[tuple[int, list[str]]]) -> Checked:
        checked = Checked()
        keyed: list[tuple[int, list[str], dict, str]] = []
        for number, row in rows:
            problem = row_problem(row, len(self.headers))
            if problem:
                checked.rejected.append((number, row, problem))
                continue
            values = dict(zip(self.headers, row, strict=True))
            try:
                key_value = match_value(values, self.mapping, self.policy)
                message = build_message(
                    values,
                    self.mapping,
                    definitions=self.definitions,
                    message_id=f"csv-{self.run_id}-{number}",
                    timestamp=row_time(values, self.mapping, self.now),
                )
            except RowError as exc:
                checked.rejected.append((number, row, str(exc)))
                continue
            keyed.append((number, row, message, key_value))
        known = self._known([k for *_, k in keyed])
        mode = self.mapping.write_mode
        for number, row, message, key_value in keyed:
            label = "unified id" if self.mapping.match_key == UID else self.mapping.match_key
            if self.mapping.match_key == UID:
                identifier = known.get(key_value)
                if identifier is None:
                    checked.rejected.append((number, row, f"No profile has the unified id {key_value}."))
                    continue
                if identifier == ("", ""):
                    checked.rejected.append((number, row, f"Profile {key_value} has no identifier to match."))
                    continue
                add_identifier(message, *identifier)
            exists = key_value in known
            if mode == "update_only" and not exists:
                checked.rejected.append((number, row, f"No profile has {label} {key_value} (update only)."))
                continue
            if mode == "create_only" and exists:
                checked.rejected.append(
                    (number, row, f"A profile with {label} {key_value} exists (create only).")
                )
                continue
            checked.messages.append(message)
            checked.numbers.append(number)
        return checked

    def _known(self, values: list[str]) -> dict[str, Any]:
        """Match-key values that name a profile now (one query per batch)."""
        if not values:
            return {}
        if self.mapping.match_key != UID:
            found = Identity.objects.filter(type__key=self.mapping.match_key, value__in=set(values))
            return {v: True for v in found.values_list("value", flat=True)}
        uids = {}
        for value in values:
            try:
                uids[uuid.UUID(value)] = value
            except ValueError:
                continue
        people = {p.pk: p for p in Person.objects.filter(uid__in=uids)}
        live: dict[int, str] = {}
        for person in people.values():
            target = person
            while target.merged_into_id is not None:  # a merged profile: write to the one it joined
                target = target.merged_into
            live[target.pk] = uids[person.uid]
        best: dict[str, tuple[str, str]] = {v: ("", "") for v in live.values()}
        rows = Identity.objects.filter(person_id__in=live).order_by("-type__priority")
        for person_id, key, value in rows.values_list("person_id", "type__key", "value"):
            best[live[person_id]] = (key, value)  # the highest-priority identifier comes last
        return best


# --- preview ------------------------------------------------------------------------------------


@dataclass
class RowPreview:
    number: int
    action: str  # create, update, unchanged, error, drop
    summary: str
    changes: list[tuple[str, str, str]] = field(default_factory=list)  # key, old, new
    kept: list[tuple[str, str]] = field(default_factory=list)  # key, why


def _describe_kept(person: Person, key: str, reason: str) -> str:
    meta = person.attribute_meta.get(key) or {}
    source = Source.objects.filter(pk=meta.get("source")).values_list("name", flat=True).first()
    setter = source or "an operator"
    at = (meta.get("at") or "?")[:16].replace("T", " ")
    why = {
        "lower source priority": f"set by {setter} (a higher-priority source) at {at}",
        "older than the stored value": f"newer value from {setter} at {at}",
    }.get(reason, f"{reason} ({setter}, {at})")
    return f"kept {_show(getattr_value(person, key))}: {why}"


def getattr_value(person: Person, key: str):
    from people.attributes import read_attribute

    return read_attribute(person, key)


def _show(value) -> str:
    return "(empty)" if value is None or value == "" else str(value)


def import_preview(*, token: str, mapping: Mapping, limit: int = PREVIEW_ROWS) -> list[RowPreview]:
    """What running the import would do to the first rows (nothing is written)."""

    info, rows = open_table(upload_path(token))
    mapping.check(info.headers)
    source = csv_import_source()
    batcher = Batcher(mapping, info.headers, run_id="preview", now=timezone.now().isoformat())
    numbered = []
    for number, row in enumerate(rows, start=2):
        numbered.append((number, row))
        if len(numbered) >= limit:
            break
    rows.close()
    checked = batcher.check(numbered)
    out = [RowPreview(n, "error", reason) for n, _, reason in checked.rejected]
    for number, message in zip(checked.numbers, checked.messages, strict=True):
        out.append(_preview_one(number, message, source, batcher))
    return sorted(out, key=lambda p: p.number)


def _preview_one(number: int, message: dict, source: Source, batcher: Batcher) -> RowPreview:
    from identity.services import ingest_dry_run

    dry = ingest_dry_run(source=source, message=message)
    if dry.action == "reject":
        return RowPreview(number, "error", dry.error)
    if dry.action == "drop":
        return RowPreview(number, "drop", dry.summary)
    at = parse_row_time(message["timestamp"])
    writes = [
        AttributeWrite(k, v) for k, v in message["traits"].items() if k in batcher.definitions or _standard(k)
    ]
    cast = validate_attribute_writes(writes, batcher.definitions)
    person = dry.people[0] if dry.people else Person()
    if person.attribute_meta is None:
        person.attribute_meta = {}
    applied = apply_attribute_writes(person, cast, source=source, at=at)
    preview = RowPreview(number, "create" if dry.action == "create" else "update", dry.summary)
    if message["type"] == "track":
        props = ", ".join(f"{k}={v}" for k, v in message.get("properties", {}).items())
        preview.changes = [
            ("event", "(new)", f"{message['event']} at {message['timestamp']} {props}".strip())
        ]
        return preview
    preview.changes = [(k, _show(old), _show(new)) for k, (old, new) in applied.changed.items()]
    preview.kept = [(k, _describe_kept(person, k, why)) for k, why in applied.ignored.items()]
    if preview.action == "update" and not preview.changes:
        preview.action = "unchanged"
    return preview


def _standard(key: str) -> bool:
    from people.attributes import STANDARD_ATTRIBUTES

    return key in STANDARD_ATTRIBUTES


# --- the job ------------------------------------------------------------------------------------


@transaction.atomic
def import_start(*, token: str, mapping: Mapping, created_by=None) -> Job:
    """Check the mapping, create the new custom attributes it names, and queue the import job."""
    info, meta = upload_info(token)
    mapping.check(info.headers)
    for column, target in mapping.columns.items():
        if target.startswith("new:"):
            attribute_definition_create(
                key=mapping.new_keys[column], label=column.strip(), type=target[4:], created_by=created_by
            )
    params = {
        "token": token,
        "file_name": meta.get("name", ""),
        "headers": info.headers,
        "headers_key": headers_key(info.headers),
        "mapping": mapping.as_dict(),
        "now": timezone.now().isoformat(),
    }
    return job_start(
        kind=JOB_KIND, params=params, created_by=created_by, total=count_rows(upload_path(token))
    )


def rejects_path(token: str) -> Path:
    return import_dir() / token / "rejected.csv"


DROP_REASON = (
    "Dropped: an identifier is suppressed or blocked by a privacy request, or the message was a duplicate."
)


def run_import(job: Job, progress) -> dict:
    """Stream the file in batches through ingestion; write rejected rows with their reason."""
    params = job.params
    token = params["token"]
    mapping = Mapping.from_dict(params["mapping"])
    info, rows = open_table(upload_path(token))
    batcher = Batcher(mapping, info.headers, run_id=f"{token[:8]}-{job.pk}", now=params["now"])
    source = csv_import_source()
    counts: Counter = Counter()
    with rejects_path(token).open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["row", "reason", *info.headers])
        if setbased.eligible(mapping, source, batcher.policy, batcher.definitions):
            setbased.SetBasedImport(
                mapping=mapping,
                headers=info.headers,
                run_id=batcher.run_id,
                now=params["now"],
                source=source,
                policy=batcher.policy,
                definitions=batcher.definitions,
                reject=lambda number, row, reason: writer.writerow(
                    [number, reason, *(_safe_cell(c) for c in row)]
                ),
                pipeline=lambda batch: _run_batch(batch, batcher, source, writer, counts),
                drop_reason=DROP_REASON,
            ).run(enumerate(rows, start=2), counts, progress)
            rows = iter(())
        batch: list[tuple[int, list[str]]] = []
        for number, row in enumerate(rows, start=2):
            batch.append((number, row))
            if len(batch) >= BATCH_ROWS:
                _run_batch(batch, batcher, source, writer, counts)
                progress.advance(len(batch))
                batch = []
        if batch:
            _run_batch(batch, batcher, source, writer, counts)
            progress.advance(len(batch))
    result = {
        "rows": counts["rows"],
        "created": counts["create"],
        "updated": counts["match"] + counts["attach"] + counts["merge"],
        "merged": counts["merge"],
        "rejected": counts["rejected"],
        "dropped": counts["dropped"] - counts["duplicates"],
        "duplicates": counts["duplicates"],
        "events": counts["accepted"] if mapping.kind == "events" else 0,
        "file_name": params.get("file_name", ""),
    }
    return result


def _run_batch(batch, batcher: Batcher, source: Source, writer, counts: Counter) -> None:
    counts["rows"] += len(batch)
    checked = batcher.check(batch)
    rejected = list(checked.rejected)
    if checked.messages:
        result = ingest_batch(
            source=source,
            messages=checked.messages,
            require_user_or_anonymous_id=False,
        )
        by_index = {r["index"]: r["message"] for r in result.rejected}
        counts["accepted"] += result.accepted
        counts["duplicates"] += result.duplicates
        rows_by_number = dict(batch)
        for index, number in enumerate(checked.numbers):
            if index in by_index:
                rejected.append((number, rows_by_number[number], by_index[index]))
            elif index in result.outcomes:
                counts[result.outcomes[index]] += 1
            else:
                counts["dropped"] += 1
                rejected.append((number, rows_by_number[number], DROP_REASON))
    counts["rejected"] += sum(1 for *_, reason in rejected if reason != DROP_REASON)
    for number, row, reason in sorted(rejected, key=lambda r: r[0]):
        writer.writerow([number, reason, *(_safe_cell(c) for c in row)])


def _safe_cell(value: str) -> str:
    """Neutralise spreadsheet formulas and undecodable bytes in the rejects file."""
    value = value.encode("utf-8", "replace").decode("utf-8") if isinstance(value, str) else str(value)
    if value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


# --- old files ----------------------------------------------------------------------------------


def keep_days() -> int:
    return int(getattr(settings, "ATTUNE_IMPORT_KEEP_DAYS", 7))


def import_files_purge(*, days: int | None = None) -> int:
    """Remove upload folders (the upload, its rejected rows, export files) untouched for ``days``
    (``ATTUNE_IMPORT_KEEP_DAYS``, default 7), except those of a queued or running import or export;
    returns how many folders were removed. Run daily by the housekeeping schedule."""
    days = keep_days() if days is None else days
    root = import_dir()
    if not root.is_dir():
        return 0
    cutoff = timezone.now().timestamp() - days * 86400
    busy = set(
        Job.objects.filter(
            kind__in=[JOB_KIND, EXPORT_JOB_KIND], status__in=[Job.Status.QUEUED, Job.Status.RUNNING]
        ).values_list("params__token", flat=True)
    )
    removed = 0
    for folder in root.iterdir():
        if not folder.is_dir() or folder.name in busy:
            continue
        newest = max((f.stat().st_mtime for f in folder.iterdir()), default=folder.stat().st_mtime)
        if newest < cutoff:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed
