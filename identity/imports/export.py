"""Export of profiles with chosen columns, streamed: CSV rows are produced while the query is read in
chunks; XLSX is written row by row (openpyxl's write-only mode) to a temporary file, then sent.

Columns: ``uid`` (the unified id), any attribute the condition language knows (standard, system,
custom, computed: one set-based expression each, so computed values are read with the same query),
and ``identifier:<type>`` (the profile's oldest identifier of that type). Text cells that begin with
``=``, ``+``, ``-`` or ``@`` are prefixed with ``'`` so spreadsheets never run them as formulas.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.core.exceptions import FieldError, ValidationError
from django.db import connection, models
from django.db.models import F, OuterRef, QuerySet, Subquery

from identity.models import IdentifierType, Identity
from people.conditions.attributes import all_attributes, provider_of
from people.models import Person

CHUNK = 2000
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class ExportColumn:
    key: str  # uid | attribute key | identifier:<type>
    label: str
    group: str


def export_columns() -> list[ExportColumn]:
    columns = [ExportColumn("uid", "Unified id", "Profile")]
    groups = {"standard": "Standard", "system": "Activity", "custom": "Custom", "computed": "Computed"}
    for ref in all_attributes():
        columns.append(ExportColumn(ref.key, ref.label, groups.get(ref.kind, ref.kind.title())))
    for key in IdentifierType.objects.order_by("priority").values_list("key", flat=True):
        columns.append(ExportColumn(f"identifier:{key}", key, "Identifiers"))
    return columns


def annotations_of(keys: list[str]) -> dict:
    refs = {ref.key: ref for ref in all_attributes()}
    identifier_keys = set(IdentifierType.objects.values_list("key", flat=True))
    out = {}
    for index, key in enumerate(keys):
        alias = f"c{index}"
        if key == "uid":
            continue
        if key.startswith("identifier:") and key[11:] in identifier_keys:
            first = Identity.objects.filter(person_id=OuterRef("pk"), type__key=key[11:])
            out[alias] = Subquery(first.order_by("first_seen_at").values("value")[:1])
        elif key in refs:
            ref = refs[key]
            out[alias] = provider_of(ref).expression(ref)
        else:
            raise ValidationError(f"Unknown export column '{key}'.")
    return out


def cell(value) -> object:
    """A value as a spreadsheet cell: formulas neutralised, dates as ISO text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value)
    if text.startswith(FORMULA_START):
        return "'" + text
    return text


def export_rows(queryset: QuerySet[Person], keys: list[str]) -> Iterator[list]:
    """The header row, then one row per person, read in chunks (server-side cursor on PostgreSQL)."""
    if not keys:
        raise ValidationError("Choose at least one column.")
    annotations = annotations_of(keys)
    fields = ["uid" if key == "uid" else f"c{i}" for i, key in enumerate(keys)]
    labels = {c.key: c.key for c in export_columns()}
    yield [labels.get(k, k) for k in keys]
    rows = queryset.order_by("pk").annotate(**annotations).values_list(*fields)
    for row in rows.iterator(chunk_size=CHUNK):
        yield [cell(v) for v in row]


# --- CSV straight from PostgreSQL ------------------------------------------------------------------

_FORMULA_SQL = r"('=', '+', '-', '@', E'\t', E'\r')"
_DATETIME_SQL = (
    "CASE WHEN {x} IS NULL THEN NULL WHEN mod(date_part('microseconds', {x})::bigint, 1000000) = 0"
    """ THEN to_char({x} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"')"""
    """ ELSE to_char({x} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"') END"""
)


def _sql_cell(field, x: str) -> str | None:
    """SQL printing a column as ``cell`` does (formulas neutralised, ISO times), or ``None`` when
    its type has no such expression (then the Python path writes the file)."""
    if isinstance(field, models.BooleanField):
        return f"CASE WHEN {x} THEN 'true' WHEN NOT {x} THEN 'false' END"
    if isinstance(field, models.DateTimeField):
        return _DATETIME_SQL.format(x=x)
    if isinstance(field, models.FloatField):  # as Python's repr: 12.0, 0.1, 1e+16
        return (
            f"CASE WHEN {x} = trunc({x}) AND abs({x}) < 1e16 THEN trunc({x})::bigint::text || '.0'"
            f" ELSE {x}::text END"
        )
    if isinstance(field, models.DateField | models.IntegerField | models.UUIDField):
        return f"{x}::text"
    if isinstance(field, models.CharField | models.TextField):
        return f"CASE WHEN left({x}, 1) IN {_FORMULA_SQL} THEN '''' || {x} ELSE nullif({x}, '') END"
    return None


def _field_of(annotation, key: str):
    """The model field a column's value has (``None`` when it cannot be told)."""
    if key == "uid":
        return Person._meta.get_field("uid")
    if isinstance(annotation, F):
        return Person._meta.get_field(annotation.name)
    try:
        return annotation.output_field
    except (AttributeError, FieldError):
        return None


def csv_copy(queryset: QuerySet[Person], keys: list[str]) -> Iterator[bytes] | None:
    """The export as CSV bytes from ``COPY (SELECT …) TO STDOUT`` (PostgreSQL), header first, with the
    cells ``cell`` would write (lines end with LF); ``None`` when a column needs the Python path."""
    if connection.vendor != "postgresql" or not keys:
        return None
    annotations = annotations_of(keys)
    outer = []
    for index, key in enumerate(keys):
        expression = _sql_cell(_field_of(annotations.get(f"c{index}"), key), f"q.c{index}")
        if expression is None:
            return None
        outer.append(expression)
    fields = ["uid" if key == "uid" else f"c{i}" for i, key in enumerate(keys)]
    rows = queryset.order_by("pk").annotate(**annotations).values_list(*fields)
    sql, params = rows.query.get_compiler(using=rows.db).as_sql()
    names = ", ".join(f"c{i}" for i in range(len(keys)))
    statement = f"COPY (SELECT {', '.join(outer)} FROM ({sql}) AS q({names})) TO STDOUT WITH (FORMAT csv)"
    labels = {c.key: c.key for c in export_columns()}
    header = [labels.get(k, k) for k in keys]

    def stream() -> Iterator[bytes]:
        line = csv.writer(_Echo(), lineterminator="\n").writerow(header)
        yield ("\ufeff" + line).encode()
        # psycopg's own copy(): Django's debug cursor (DEBUG, a test capturing queries) takes no
        # parameters, so the statement is logged here as that cursor would.
        with connection.cursor() as cursor:
            logged = cursor.debug_sql(statement, params) if hasattr(cursor, "debug_sql") else nullcontext()
            with logged, connection.wrap_database_errors, cursor.cursor.copy(statement, params) as copy:
                for block in copy:
                    yield bytes(block)

    return stream()


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_stream(rows: Iterable[list]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff"  # a byte-order mark, so spreadsheet programs read UTF-8
    for row in rows:
        yield writer.writerow(row)


def _workbook(rows: Iterable[list], on_row=None):
    """A write-only workbook of the rows (never the whole sheet in memory)."""
    import openpyxl

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("People")
    for row in rows:
        sheet.append(row)
        if on_row is not None:
            on_row()
    return book


def xlsx_file(rows: Iterable[list]):
    """A temporary file holding the workbook."""
    handle = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 - the response closes it
    _workbook(rows).save(handle)
    handle.seek(0)
    return handle


def xlsx_write(rows: Iterable[list], path, *, on_row=None) -> None:
    """The workbook written to ``path``; ``on_row()`` is called after each row."""
    _workbook(rows, on_row).save(path)
