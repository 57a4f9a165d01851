"""Model instances from raw rows: the client API's per-request reads are single statements whose SQL
is built once, so no ORM compilation runs per request (``Model.from_db`` with the fields' database
converters, as a queryset would apply them)."""

from __future__ import annotations

import functools
from typing import Any

from django.db import connection
from django.db.models import Model


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
