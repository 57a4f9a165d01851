"""Reading the rows of one raw SQL statement, where the ORM cannot say it (the statement keeps its
values as ``%s`` parameters; table names come from ``Model._meta.db_table``)."""

import re
import time
from collections.abc import Sequence
from datetime import date
from typing import Any

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections, transaction


def select_rows(statement: str, params: Sequence[Any] = ()) -> list[tuple]:
    """The rows of ``statement`` with ``params`` bound (``[]`` for a statement that returns none)."""
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def array_literal(values: Sequence[Any]) -> str | Sequence[Any]:
    """``values`` as one PostgreSQL array literal (``{1,"a b",NULL}``), for a parameter the statement
    casts to its array type (``%s::bigint[]``): building the text with string methods costs a fifth of
    psycopg's list dumper, which runs a regular expression per element (a tenth of a single tracking
    message's CPU). Values other than None, numbers, text, dates and times (a dict, bytes…) keep the
    list as it is, for psycopg to dump."""
    parts = []
    for value in values:
        if value is None:
            parts.append("NULL")
        elif isinstance(value, bool):
            parts.append("t" if value else "f")
        elif isinstance(value, int):
            parts.append(str(value))
        elif isinstance(value, (str, float, date)):  # a datetime is a date
            text = value.isoformat() if isinstance(value, date) else str(value)
            parts.append('"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"')
        else:
            return values
    return "{" + ",".join(parts) + "}"


# A statement text → the same text with PostgreSQL's own placeholders ($1, $2, …), or False where the
# server refused to prepare it (a parameter whose type it cannot infer): that text runs as a plain
# statement from then on.
_prepared: dict[str, str | bool] = {}
_PLACEHOLDER = re.compile(r"%%|%s")


def _numbered(statement: str) -> str:
    """``%s`` → ``$1``, ``$2``, …; ``%%`` → ``%``: converted once, not at each run of a long text."""
    n = 0

    def number(match: re.Match) -> str:
        nonlocal n
        if match.group() == "%%":
            return "%"
        n += 1
        return f"${n}"

    return _PLACEHOLDER.sub(number, statement)


def select_prepared(statement: str, params: Sequence[Any] = ()) -> list[tuple]:
    """The rows of ``statement``, as a prepared statement on PostgreSQL: planned once per connection.

    For a hot statement whose text repeats with other values (the same shape for every person), the
    plan can be the cost: 6–20 ms to plan a union of twenty audiences' conditions, about 2 ms to run
    it. The server binds the values, so the text must leave every value to a ``%s`` parameter.
    Elsewhere (SQLite), or for a text the server would not prepare, this is ``select_rows``.
    Statements run through it are logged as Django logs its own (when it logs: tests, DEBUG).
    """
    numbered = _prepared.get(statement) if connection.vendor == "postgresql" else False
    if numbered is False:
        return select_rows(statement, params)
    if numbered is not None:
        return _run_prepared(numbered, params)
    if len(_prepared) > 1024:
        _prepared.clear()
    numbered = _numbered(statement)
    try:
        with transaction.atomic():  # a refusal leaves the caller's transaction usable
            rows = _run_prepared(numbered, params)
    except DatabaseError:
        _prepared[statement] = False
        return select_rows(statement, params)
    _prepared[statement] = numbered
    return rows


def _run_prepared(numbered: str, params: Sequence[Any]) -> list[tuple]:
    import psycopg
    from psycopg.pq import ExecStatus

    start = time.monotonic()
    connection.ensure_connection()
    try:
        with connection.wrap_database_errors, psycopg.RawCursor(connection.connection) as cursor:
            cursor.execute(numbered, params, prepare=True)
            # The result's status, not ``cursor.description``: that builds a column object for every
            # column at each call (0.1-0.3 ms for the Profile API's 30 columns).
            result = cursor.pgresult
            return cursor.fetchall() if result is not None and result.status == ExecStatus.TUPLES_OK else []
    finally:
        if connection.queries_logged:  # counted like Django's own statements (tests, debug pages)
            connection.queries_log.append(
                {"sql": f"{numbered} -- {list(params)!r}", "time": f"{time.monotonic() - start:.3f}"}
            )


def execute_prepared(statement: str, params: Sequence[Any] = ()) -> None:
    """A write (``INSERT``, ``UPDATE``…) run like ``select_prepared``: planned once per connection on
    PostgreSQL, for a statement a hot path repeats with other values."""
    select_prepared(statement, params)


class CompiledOnce:
    """An ORM query compiled to SQL once per process and database, then run with one value changed:
    for a read on a hot path whose text is the same at every call but for, say, the person id.

    ``build(value)`` returns the queryset; it is built once with ``sentinel`` (a value no real call
    passes), and every parameter equal to the sentinel is replaced by the call's value. Compiling
    the ORM query cost about as much CPU as the rest of a Profile API request. Rows come as tuples,
    through the compiler's converters (time zones, JSON), as the ORM would give them.
    """

    def __init__(self, build, sentinel: Any):
        self.build = build
        self.sentinel = sentinel
        self._compiled: dict[str, tuple] = {}

    def _compile(self, alias: str) -> tuple:
        compiled = self._compiled.get(alias)
        if compiled is None:
            compiler = self.build(self.sentinel).query.get_compiler(using=alias)
            sql, params = compiler.as_sql()
            positions = [i for i, p in enumerate(params) if p == self.sentinel]
            if not positions:
                raise ValueError("the sentinel is not a parameter of the compiled query")
            converters = compiler.get_converters([column for column, _, _ in compiler.select])
            compiled = self._compiled[alias] = (compiler, sql, list(params), positions, converters)
        return compiled

    def correlated(self, column: str, *, using: str = DEFAULT_DB_ALIAS) -> tuple[str, list]:
        """The query as a subquery of a larger statement: ``(sql, params)`` where ``column`` (an
        outer query's column, as SQL) stands where the value was, and the other values stay
        parameters, in order."""
        _, sql, params, positions, _ = self._compile(using)
        kept: list = []
        index = -1

        def substitute(match: re.Match) -> str:
            nonlocal index
            if match.group() == "%%":
                return "%%"
            index += 1
            if index in positions:
                return column
            kept.append(params[index])
            return "%s"

        return _PLACEHOLDER.sub(substitute, sql), kept

    def arrays(self, column: str, *, using: str = DEFAULT_DB_ALIAS) -> tuple[str, list, int]:
        """The query correlated on ``column`` (``correlated``) as one row of arrays, one array per
        selected column (NULL where it has no rows): ``(sql, params, width)``, for a ``LEFT JOIN
        LATERAL`` that adds a person's rows to a statement about that person (PostgreSQL).
        ``from_arrays`` turns the arrays back into the rows ``rows`` gives."""
        compiler = self._compile(using)[0]
        sql, params = self.correlated(column, using=using)
        width = len(compiler.select)
        names = ", ".join(f"c{k}" for k in range(width))
        arrays = ", ".join(f"array_agg(t.c{k})" for k in range(width))
        return f"SELECT {arrays} FROM ({sql}) AS t({names})", params, width

    def from_arrays(self, arrays: Sequence[list | None], *, using: str = DEFAULT_DB_ALIAS) -> list[tuple]:
        """The rows of the query from its ``arrays`` columns, through the same converters as ``rows``."""
        if arrays[0] is None:  # no rows
            return []
        compiler, _, _, _, converters = self._compile(using)
        rows = list(zip(*arrays, strict=True))
        return list(compiler.apply_converters(rows, converters)) if converters else rows

    def rows(self, value: Any, *, using: str = DEFAULT_DB_ALIAS) -> list[tuple]:
        compiler, sql, params, positions, converters = self._compile(using)
        params = params.copy()
        for position in positions:
            params[position] = value
        with connections[using].cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        return list(compiler.apply_converters(rows, converters)) if converters else rows
