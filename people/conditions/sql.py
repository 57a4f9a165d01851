"""Typed reads of JSON columns (custom attributes, event properties) for PostgreSQL and SQLite.

A JSON value is read as one type and is NULL when it is absent or of another JSON type, so a
stray string never breaks a numeric comparison. ``json_scalar_sql`` returns raw SQL (for the
set-based statements of computed attributes); ``JsonScalar`` wraps it as an ORM expression.
Paths are tuples of keys, passed as bound parameters.
"""

from __future__ import annotations

import re

from django.db import models
from django.db.models import Func

PATH_KEY = re.compile(r"^[^\"\\.]{1,128}$")
SCALAR_TYPES = ("number", "text", "boolean", "date", "datetime", "list")


def valid_path(path: tuple[str, ...]) -> bool:
    return 0 < len(path) <= 5 and all(PATH_KEY.match(key) for key in path)


def sqlite_path(path: tuple[str, ...]) -> str:
    return "$" + "".join(f'."{key}"' for key in path)


def sqlite_datetime(sql: str) -> str:
    """An SQLite time string in Django's storage format (``YYYY-MM-DD HH:MM:SS[.fff]``, UTC)."""
    return (
        f"(CASE WHEN strftime('%%f', {sql}) LIKE '%%.000' THEN strftime('%%Y-%%m-%%d %%H:%%M:%%S', {sql}) "
        f"ELSE strftime('%%Y-%%m-%%d %%H:%%M:%%f', {sql}) END)"
    )


def json_scalar_sql(vendor: str, column_sql: str, path: tuple[str, ...], as_: str) -> tuple[str, list]:
    """SQL reading ``column_sql`` at ``path`` as ``as_`` (one of SCALAR_TYPES); NULL otherwise."""
    if as_ not in SCALAR_TYPES:
        raise ValueError(f"unknown scalar type {as_!r}")
    if not valid_path(path):
        raise ValueError(f"invalid JSON path {path!r}")
    if vendor == "postgresql":
        if len(path) == 1:
            node, text, params = f"({column_sql} -> %s)", f"({column_sql} ->> %s)", [path[0]]
        else:
            node, text, params = f"({column_sql} #> %s)", f"({column_sql} #>> %s)", [list(path)]
        if as_ == "number":
            return f"(CASE WHEN jsonb_typeof{node} = 'number' THEN {text}::float8 END)", params * 2
        if as_ == "text":
            return (
                f"(CASE WHEN jsonb_typeof{node} IN ('string', 'number', 'boolean') THEN {text} END)",
                params * 2,
            )
        if as_ == "boolean":
            return f"(CASE WHEN jsonb_typeof{node} = 'boolean' THEN {text}::boolean END)", params * 2
        if as_ == "list":  # a non-empty array, else NULL (empty)
            return (
                f"(CASE WHEN jsonb_typeof{node} = 'array' AND jsonb_array_length{node} > 0 THEN {node} END)",
                params * 3,
            )
        pattern = r"^\d{4}-\d{2}-\d{2}$" if as_ == "date" else r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}"
        cast = "date" if as_ == "date" else "timestamptz"
        return f"(CASE WHEN {text} ~ '{pattern}' THEN {text}::{cast} END)", params * 2
    # SQLite: JSON is stored as text; json_type/json_extract read it.
    path_param = sqlite_path(path)
    kind = f"json_type({column_sql}, %s)"
    value = f"json_extract({column_sql}, %s)"
    if as_ == "number":
        return f"(CASE WHEN {kind} IN ('integer', 'real') THEN CAST({value} AS REAL) END)", [path_param] * 2
    if as_ == "text":
        return (
            f"(CASE {kind} WHEN 'text' THEN {value} WHEN 'integer' THEN CAST({value} AS TEXT) "
            f"WHEN 'real' THEN CAST({value} AS TEXT) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' END)",
            [path_param] * 4,
        )
    if as_ == "boolean":
        return f"(CASE {kind} WHEN 'true' THEN 1 WHEN 'false' THEN 0 END)", [path_param]
    if as_ == "list":
        return (
            f"(CASE WHEN {kind} = 'array' AND json_array_length({column_sql}, %s) > 0 THEN {value} END)",
            [path_param] * 3,
        )
    if as_ == "date":
        return f"(CASE WHEN {kind} = 'text' THEN date({value}) END)", [path_param] * 2
    return f"(CASE WHEN {kind} = 'text' THEN {sqlite_datetime(value)} END)", [path_param] * 4


OUTPUT_FIELDS = {
    "number": models.FloatField,
    "text": models.TextField,
    "boolean": models.BooleanField,
    "date": models.DateField,
    "datetime": models.DateTimeField,
    "list": models.JSONField,
}


class JsonScalar(Func):
    """ORM expression: a typed scalar read from a JSON field at a key path."""

    def __init__(self, expression, path: tuple[str, ...], as_: str):
        if as_ not in SCALAR_TYPES or not valid_path(path):
            raise ValueError(f"invalid JSON read {path!r} as {as_!r}")
        self.path = tuple(path)
        self.as_ = as_
        super().__init__(expression, output_field=OUTPUT_FIELDS[as_]())

    def as_sql(self, compiler, connection, **extra_context):
        column_sql, column_params = compiler.compile(self.source_expressions[0])
        if column_params:
            raise ValueError("JsonScalar reads a plain column")
        return json_scalar_sql(connection.vendor, column_sql, self.path, self.as_)


class AliasColumn(models.Expression):
    """A column of a table the statement joins by hand (``alias.column``), for set-based compiles."""

    def __init__(self, alias: str, column: str, output_field):
        super().__init__(output_field=output_field)
        self.alias, self.column = alias, column

    def as_sql(self, compiler, connection):
        return f"{self.alias}.{self.column}", []
