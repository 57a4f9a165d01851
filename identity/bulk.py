"""Bulk inserts of plain tuples: PostgreSQL ``COPY`` (no model instances), else ``bulk_create``.

Building thousands of Django model instances per batch was the largest cost of the ingestion
pipeline after merges; ``COPY ... FROM STDIN`` through psycopg takes the rows as tuples.
Constraint violations surface as Django's ``IntegrityError`` (the pipeline's retry relies on it).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from django.db import connection, models

from people.rawsql import array_literal

# Up to this many rows, one ``INSERT ... SELECT FROM unnest(...)`` (one round trip) beats ``COPY``
# (two: the COPY statement, then the data): a single /v1/track event, a batch's few merge rows.
SMALL = 50


def bulk_insert(
    model: type[models.Model],
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    json_columns: Sequence[str] = (),
) -> int:
    """Insert ``rows`` (tuples in ``columns`` order, attnames like ``person_id``) into the table."""
    rows = list(rows)
    if not rows:
        return 0
    json_at = [columns.index(name) for name in json_columns]
    if connection.vendor != "postgresql":
        model.objects.bulk_create(
            [model(**dict(zip(columns, row, strict=True))) for row in rows], batch_size=500
        )
        return len(rows)
    encoders = {i: model._meta.get_field(columns[i]).encoder for i in json_at}
    if len(rows) <= SMALL:
        return _insert_unnest(model, columns, rows, {i: encoders[i] for i in json_at})
    quote = connection.ops.quote_name
    sql = f"COPY {quote(model._meta.db_table)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
    with connection.cursor() as cursor, connection.wrap_database_errors, cursor.cursor.copy(sql) as copy:
        if json_at:
            for row in rows:
                row = list(row)
                for i in json_at:
                    if row[i] is not None:
                        row[i] = json.dumps(row[i], cls=encoders[i])
                copy.write_row(row)
        else:
            for row in rows:
                copy.write_row(row)
    return len(rows)


def insert_instances(objs: Sequence[models.Model]) -> int:
    """Insert unsaved model instances (every concrete column but the primary key) with
    ``bulk_insert``: no primary keys come back, and no ORM statement is compiled per batch."""
    if not objs:
        return 0
    model = type(objs[0])
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    columns = [f.attname for f in fields]
    json_columns = [f.attname for f in fields if isinstance(f, models.JSONField)]
    rows = [tuple(getattr(obj, name) for name in columns) for obj in objs]
    return bulk_insert(model, columns, rows, json_columns=json_columns)


def _insert_unnest(model, columns: Sequence[str], rows: list, encoders: dict[int, Any]) -> int:
    """PostgreSQL: the rows as one column array each, cast to the column types, in one statement."""
    meta = model._meta
    quote = connection.ops.quote_name
    arrays: list[list] = [[] for _ in columns]
    for row in rows:
        for i, value in enumerate(row):
            if i in encoders and value is not None:
                value = json.dumps(value, cls=encoders[i])
            arrays[i].append(value)
    arrays = [array_literal(values) for values in arrays]
    casts = ", ".join(f"%s::{meta.get_field(name).db_type(connection)}[]" for name in columns)
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(c) for c in columns)}) "
        f"SELECT * FROM unnest({casts})"
    )
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        # server-side binding (the arrays travel as parameters, not SQL text), planned once per
        # connection: for a few rows, planning costs more than the insert
        cursor.execute(sql, arrays, prepare=True)
    return len(rows)
