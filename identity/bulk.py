"""Bulk inserts of plain tuples: PostgreSQL ``COPY`` (no model instances), else ``bulk_create``.

Building thousands of Django model instances per batch was the largest cost of the ingestion
pipeline after merges; ``COPY ... FROM STDIN`` through psycopg takes the rows as tuples.
Constraint violations surface as Django's ``IntegrityError`` (the pipeline's retry relies on it).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection, models


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


def bulk_update(objs: Sequence[models.Model], fields: Sequence[str]) -> None:
    """``Model.objects.bulk_update(objs, fields)`` as one ``UPDATE ... FROM (VALUES ...)`` on
    PostgreSQL (Django's CASE form costs ~10 ms of Python per row with many fields)."""
    if not objs:
        return
    model = type(objs[0])
    if connection.vendor != "postgresql":
        model.objects.bulk_update(objs, fields)
        return
    meta = model._meta
    concrete = [meta.get_field(name) for name in fields]
    pk = meta.pk
    quote = connection.ops.quote_name
    casts = [f"%s::{pk.db_type(connection)}"] + [f"%s::{f.db_type(connection)}" for f in concrete]
    row = "(" + ", ".join(casts) + ")"
    names = ["id__"] + [f.column for f in concrete]
    table = quote(meta.db_table)
    assignments = ", ".join(f"{quote(f.column)} = v.{quote(f.column)}" for f in concrete)
    objs = sorted(objs, key=lambda o: o.pk)
    for start in range(0, len(objs), 1000):
        chunk = objs[start : start + 1000]
        params: list[Any] = []
        for obj in chunk:
            params.append(obj.pk)
            params += [f.get_db_prep_save(getattr(obj, f.attname), connection) for f in concrete]
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET {assignments} FROM (VALUES {', '.join([row] * len(chunk))}) "
                f"AS v({', '.join(quote(n) for n in names)}) WHERE {table}.{quote(pk.column)} = v.id__",
                params,
            )
