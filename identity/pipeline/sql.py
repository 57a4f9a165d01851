"""Every raw statement of the pipeline, and ``fetch``, the one helper that runs them on PostgreSQL.

Table names are ``psycopg.sql.Identifier``; values are always bound parameters. On PostgreSQL, id
lists travel as arrays (``= ANY(%b)``, ``unnest(%b)``), so the SQL text stays short whatever the batch
size. SQLite keeps the ORM, or short ``VALUES`` statements through Django's cursor, with the same
results.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from django.db import connection
from psycopg import sql

from identity.models import Identity, SeenMessage, SeenUndefined, SourceDailyStat
from people.models import Person
from people.rawsql import array_literal

PERSON = sql.Identifier(Person._meta.db_table)
IDENTITY = sql.Identifier(Identity._meta.db_table)
SEEN_MESSAGE = sql.Identifier(SeenMessage._meta.db_table)
SEEN_UNDEFINED = sql.Identifier(SeenUndefined._meta.db_table)
DAILY_STAT = sql.Identifier(SourceDailyStat._meta.db_table)
SUPPRESSED = sql.Identifier("identity_suppressedidentifier")


def postgres() -> bool:
    return connection.vendor == "postgresql"


# A statement whose array parameters hold at most this many items runs prepared (planned once per
# connection): for a single /v1/track message, planning was about 40% of the database's CPU. Larger
# batches keep a plan made for their own arrays (a generic plan made them slower).
PREPARE_UP_TO = 16


def fetch(statement: sql.Composable, params: list, *, rows: bool = True) -> list[tuple]:
    """Run one statement (``%b`` placeholders) on PostgreSQL; its rows, or ``[]``.

    Server-side binding on a plain psycopg cursor: array parameters travel in binary instead of
    being quoted into the SQL text by Django's client-side cursor (that quoting was ~10% of a
    batch). Small batches run it prepared (``PREPARE_UP_TO``).
    """
    small = all(len(p) <= PREPARE_UP_TO for p in params if isinstance(p, list))
    params = [array_literal(p) if isinstance(p, list) else p for p in params]  # each is cast in the SQL
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(statement, params, prepare=small)
        return cursor.fetchall() if rows else []


# --- dedupe --------------------------------------------------------------------------------------

_DEDUPE = sql.SQL(
    "INSERT INTO {table} (message_id, received_at) SELECT unnest(%b::text[]), %b "
    "ON CONFLICT (message_id) DO NOTHING RETURNING message_id"
).format(table=SEEN_MESSAGE)


def insert_dedupe(keys: list[str], received_at: datetime) -> set[str]:
    """Insert messageIds (and other dedupe keys); returns those that were new."""
    keys = sorted(keys)
    if postgres():
        return {row[0] for row in fetch(_DEDUPE, [keys, received_at])}
    fresh: set[str] = set()
    table = connection.ops.quote_name(SeenMessage._meta.db_table)
    for start in range(0, len(keys), 5000):
        chunk = keys[start : start + 5000]
        params: list[Any] = []
        for key in chunk:
            params += [key, received_at]
        rows = ", ".join(["(%s, %s)"] * len(chunk))
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (message_id, received_at) VALUES {rows} "
                "ON CONFLICT (message_id) DO NOTHING RETURNING message_id",
                params,
            )
            fresh.update(row[0] for row in cursor.fetchall())
    return fresh


# --- suppressions --------------------------------------------------------------------------------

_SUPPRESSED = sql.SQL("SELECT type_id, value FROM {table} WHERE value = ANY(%b::text[])").format(
    table=SUPPRESSED
)


def suppressed_rows(values: list[str]) -> list[tuple[int, str]]:
    """PostgreSQL: ``(type id, value)`` of the suppressed identifiers among ``values``."""
    return fetch(_SUPPRESSED, [values])


# --- lookup and lock -----------------------------------------------------------------------------

LOOKUP_AND_LOCK = sql.SQL(
    "WITH w(type_id, value) AS MATERIALIZED (SELECT * FROM unnest(%b::bigint[], %b::text[])), "
    "found AS MATERIALIZED (SELECT i.id, i.type_id, i.value, i.person_id, p.xmin::text AS seen "
    "FROM {identity} i JOIN w ON i.type_id = w.type_id AND i.value = w.value "
    "JOIN {person} p ON p.id = i.person_id), "
    "locked AS MATERIALIZED (SELECT id, xmin::text AS x, created_at, merged_into_id, kind, first_seen_at, "
    "last_activity_at, event_count, session_count FROM {person} "
    "WHERE id IN (SELECT person_id FROM found) ORDER BY id FOR UPDATE) "
    "SELECT 'f', id, type_id, person_id, NULL::bigint, value, seen, NULL::timestamptz, NULL::timestamptz, "
    "NULL::timestamptz FROM found "
    "UNION ALL SELECT 'p', id, merged_into_id, event_count, session_count, kind, x, created_at, "
    "first_seen_at, last_activity_at FROM locked "
    "UNION ALL SELECT 'c', person_id, type_id, count(*), NULL, NULL, NULL, NULL, NULL, NULL "
    "FROM {identity} WHERE person_id IN (SELECT id FROM locked) GROUP BY person_id, type_id"
).format(identity=IDENTITY, person=PERSON)
RECHECK_AND_COUNT = sql.SQL(
    "SELECT 'i', i.id, i.person_id, i.type_id, i.value FROM {identity} i "
    "JOIN unnest(%b::bigint[], %b::text[]) AS w(type_id, value) "
    "ON i.type_id = w.type_id AND i.value = w.value "
    "UNION ALL "
    "SELECT 'c', person_id, type_id, count(*), NULL FROM {identity} "
    "WHERE person_id = ANY(%b::bigint[]) GROUP BY person_id, type_id"
).format(identity=IDENTITY)


# --- counters ------------------------------------------------------------------------------------

_COUNTERS = sql.SQL(
    "SELECT id, first_seen_at, last_activity_at, event_count, session_count FROM {person} "
    "WHERE id = ANY(%b::bigint[])"
).format(person=PERSON)
_WRITE_COUNTERS = sql.SQL(
    "UPDATE {person} AS p SET first_seen_at = v.first_seen_at, "
    "last_activity_at = v.last_activity_at, event_count = v.event_count, "
    "session_count = v.session_count "
    "FROM unnest(%b::bigint[], %b::timestamptz[], %b::timestamptz[], %b::integer[], %b::integer[]) "
    "AS v(id, first_seen_at, last_activity_at, event_count, session_count) WHERE p.id = v.id"
).format(person=PERSON)
_STAMP_LAST_SEEN = sql.SQL(
    "WITH seen AS (UPDATE {identity} SET last_seen_at = %b WHERE id = ANY(%b::bigint[]) RETURNING 1) "
).format(identity=IDENTITY)


def person_counters(person_ids: list[int]) -> list[tuple]:
    """PostgreSQL: ``(id, first_seen_at, last_activity_at, event_count, session_count)``."""
    return fetch(_COUNTERS, [person_ids])


def write_counters(rows: list[tuple], last_seen: tuple[datetime, list[int]] | None = None) -> None:
    """One UPDATE for the whole batch (Django's bulk_update CASE is slow): arrays on PostgreSQL,
    where ``last_seen`` (``(at, identity pks)``) rides along as a data-modifying CTE."""
    rows = sorted(rows)
    if postgres():
        statement: sql.Composable = _WRITE_COUNTERS
        params: list[Any] = [[row[i] for row in rows] for i in range(5)]
        if last_seen and last_seen[1]:
            statement = sql.Composed([_STAMP_LAST_SEEN, _WRITE_COUNTERS])
            params = [last_seen[0], last_seen[1], *params]
        fetch(statement, params, rows=False)
        return
    table = connection.ops.quote_name(Person._meta.db_table)
    adapt = connection.ops.adapt_datetimefield_value
    for start in range(0, len(rows), 2000):
        chunk = rows[start : start + 2000]
        params = []
        for pk, first_seen_at, last_activity_at, event_count, session_count in chunk:
            params += [pk, adapt(first_seen_at), adapt(last_activity_at), event_count, session_count]
        with connection.cursor() as cursor:
            cursor.execute(
                f"WITH v(id, first_seen_at, last_activity_at, event_count, session_count) AS "
                f"(VALUES {', '.join(['(%s, %s, %s, %s, %s)'] * len(chunk))}) "
                f"UPDATE {table} SET first_seen_at = v.first_seen_at, last_activity_at = v.last_activity_at, "
                f"event_count = v.event_count, session_count = v.session_count "
                f"FROM v WHERE {table}.id = v.id",
                params,
            )


# --- after-commit bookkeeping --------------------------------------------------------------------

STAT_COLUMNS = ("accepted", "rejected", "dropped", "suppressed", "duplicates")
_STAT_UPSERT = sql.SQL(
    "INSERT INTO {table} AS s "
    "(source_id, day, accepted, rejected, dropped, suppressed, duplicates) "
    "VALUES (%b, %b, %b, %b, %b, %b, %b) ON CONFLICT (source_id, day) DO UPDATE SET "
    "accepted = s.accepted + EXCLUDED.accepted, rejected = s.rejected + EXCLUDED.rejected, "
    "dropped = s.dropped + EXCLUDED.dropped, suppressed = s.suppressed + EXCLUDED.suppressed, "
    "duplicates = s.duplicates + EXCLUDED.duplicates"
).format(table=DAILY_STAT)
_UNDEFINED_UPSERT = sql.SQL(
    "INSERT INTO {table} AS u "
    "(kind, channel_id, event_name, key, example, count, first_seen_at, last_seen_at) "
    "SELECT v.kind, %b, v.event_name, v.key, v.example::jsonb, v.n, %b, %b "
    "FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::integer[]) "
    "AS v(kind, event_name, key, example, n) "
    "ON CONFLICT (kind, channel_id, event_name, key) DO UPDATE SET "
    "count = u.count + EXCLUDED.count, last_seen_at = EXCLUDED.last_seen_at"
).format(table=SEEN_UNDEFINED)


def bookkeeping_upsert(stat: list | None, undefined: list | None) -> None:
    """PostgreSQL: the day's counters (``[source id, day, *counts]``) and the seen-but-undefined rows
    (``[channel id, at, at, kinds, names, keys, examples, counts]``) in one autocommit statement."""
    if stat and undefined:
        statement = sql.SQL("WITH stat AS ({} RETURNING 1) {}").format(_STAT_UPSERT, _UNDEFINED_UPSERT)
        fetch(statement, [*stat, *undefined], rows=False)
    elif stat:
        fetch(_STAT_UPSERT, stat, rows=False)
    elif undefined:
        fetch(_UNDEFINED_UPSERT, undefined, rows=False)
