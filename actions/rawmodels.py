"""Model instances from raw rows: the client API's per-request reads are single statements whose SQL
is built once, so no ORM compilation runs per request (``Model.from_db`` with the fields' database
converters, as a queryset would apply them); ``rows`` runs those statements prepared."""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from typing import Any

import psycopg
from django.db import connection
from django.db.models import Model

from people import rawsql


@functools.cache
def _layout(model: type[Model]) -> tuple[tuple[str, ...], tuple[tuple[int, tuple, Any], ...]]:
    """The attribute names in column order, and each converted column's converters and expression."""
    converters = []
    for index, field in enumerate(model._meta.concrete_fields):
        expression = field.get_col(model._meta.db_table)
        found = (*connection.ops.get_db_converters(expression), *field.get_db_converters(connection))
        if found:
            converters.append((index, found, expression))
    return tuple(f.attname for f in model._meta.concrete_fields), tuple(converters)


def columns(model: type[Model], alias: str) -> str:
    """The model's concrete columns as ``alias.column, …`` (the order ``instance`` reads)."""
    q = connection.ops.quote_name
    return ", ".join(f"{alias}.{q(f.column)}" for f in model._meta.concrete_fields)


def width(model: type[Model]) -> int:
    return len(model._meta.concrete_fields)


def instance(model: type[Model], row: tuple, start: int = 0) -> Model:
    """The instance of ``model`` from ``row[start:start + width(model)]`` (selected by ``columns``)."""
    names, converters = _layout(model)
    values: list[Any] = list(row[start : start + len(names)])
    for index, funcs, expression in converters:
        for convert in funcs:
            values[index] = convert(values[index], expression, connection)
    return model.from_db(connection.alias, names, values)


# Statement text → the same text with PostgreSQL's placeholders ($1, $2, …), converted once.
_numbered: dict[str, str] = {}
TUPLES_OK = psycopg.pq.ExecStatus.TUPLES_OK


def rows(statement: str, params: Sequence[Any] = ()) -> list[tuple]:
    """The rows of one of the client API's raw statements (PostgreSQL): prepared once per connection
    and bound by the server, so a request pays neither the client-side quoting of its values nor the
    server's planning. Logged as Django logs its own statements (the query log counts it)."""
    numbered = _numbered.get(statement)
    if numbered is None:
        numbered = _numbered[statement] = rawsql._numbered(statement)  # as ``select_prepared``
    start = time.monotonic()
    connection.ensure_connection()
    connection.validate_no_broken_transaction()
    try:
        with connection.wrap_database_errors, psycopg.RawCursor(connection.connection) as cursor:
            cursor.execute(numbered, params, prepare=True)
            result = cursor.pgresult  # (not ``description``: it builds an object per column)
            found = cursor.fetchall() if result and result.status == TUPLES_OK else []
    finally:
        if connection.queries_logged:
            connection.queries_log.append(
                {"sql": f"{statement} -- {list(params)!r}", "time": f"{time.monotonic() - start:.3f}"}
            )
    return found
