"""Set-based statements that compute and store values (PostgreSQL and SQLite).

Every builder yields a SELECT of ``(attribute_id, person_id, number, text, flag, day, moment)`` rows
already limited to non-empty values; ``write_statements`` upserts them (only rows whose value changed)
and deletes the stored rows in scope that are no longer produced (values that aged out of a window),
and ``run_writes`` runs those statements. On PostgreSQL that is one statement; on SQLite two.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from django.db import DatabaseError, connection, transaction
from django.db.models import Case, F, IntegerField, Q, Value, When

from computed.aggregates import Aggregate, aggregate_expression, windowed_rows_queryset
from computed.models import VALUE_COLUMNS, ComputedAttribute, ComputedValue
from people.models import Event, Person

COLUMNS = ("number", "text", "flag", "day", "moment")
PG_TYPES = {
    "number": "double precision",
    "text": "text",
    "flag": "boolean",
    "day": "date",
    "moment": "timestamptz",
}
Rows = tuple[str, list]


def _pg() -> bool:
    return connection.vendor == "postgresql"


def typed_null(column: str) -> str:
    return f"CAST(NULL AS {PG_TYPES[column]})" if _pg() else "NULL"


def row_select(attribute: ComputedAttribute, value_sql: str, source: str, params: list, empty) -> Rows:
    """``SELECT %s, person_id, <value in its column> ... FROM source WHERE value is not empty``."""
    column = VALUE_COLUMNS[attribute.output_type]
    cells = []
    for col in COLUMNS:
        if col != column:
            cells.append(f"{typed_null(col)} AS {col}")
        elif _pg():
            cells.append(f"CAST({value_sql} AS {PG_TYPES[col]}) AS {col}")
        else:
            cells.append(f"{value_sql} AS {col}")
    condition = f"({value_sql}) IS NOT NULL"
    if column == "number" and not _pg():
        # SQLite's REAL overflows to Inf where PostgreSQL refuses; neither is a value (empty).
        condition += f" AND ABS({value_sql}) <= 1.7976931348623157e308"
    condition_params: list = []
    if empty is not None and empty is not False:
        condition += f" AND ({value_sql}) <> %s"
        condition_params = [empty]
    elif empty is False:
        condition += f" AND ({value_sql}) = %s"
        condition_params = [True]
    sql = (
        f"SELECT %s AS attribute_id, s.person_id AS person_id, {', '.join(cells)} "
        f"FROM {source} WHERE {condition}"
    )
    return sql, [attribute.pk, *params, *condition_params]


def union(parts: Sequence[Rows]) -> Rows:
    return " UNION ALL ".join(f"SELECT * FROM ({sql}) u{i}" for i, (sql, _) in enumerate(parts)), [
        p for _, params in parts for p in params
    ]


def write_statements(
    rows: Rows,
    *,
    attribute_ids: Sequence[int],
    person_ids: Sequence[int] | None,
    computed_at: datetime,
    fresh: bool = False,
) -> list[Rows]:
    """The statements storing ``rows``: changed rows upserted, stored rows in scope no longer produced
    deleted. The first statement's first result column (PostgreSQL) or row count is the rows upserted.

    ``fresh``: nothing is stored yet for these attributes (first activation), so only INSERT.
    """
    table = ComputedValue._meta.db_table
    select_sql, select_params = rows
    cols = ", ".join(COLUMNS)
    excluded = ", ".join(f"{c} = EXCLUDED.{c}" for c in COLUMNS)
    distinct = " IS DISTINCT FROM " if _pg() else " IS NOT "
    changed = " OR ".join(f"{table}.{c}{distinct}EXCLUDED.{c}" for c in COLUMNS)
    upsert = (
        f"INSERT INTO {table} (attribute_id, person_id, {cols}, computed_at) "
        f"SELECT r.attribute_id, r.person_id, {', '.join('r.' + c for c in COLUMNS)}, %s FROM r WHERE true "
        f"ON CONFLICT (attribute_id, person_id) DO UPDATE SET {excluded}, computed_at = EXCLUDED.computed_at "
        f"WHERE {changed}"
    )
    ids_sql = ", ".join(["%s"] * len(attribute_ids))
    scope_sql, scope_params = "", []
    if person_ids is not None:
        scope_sql = f" AND {table}.person_id IN ({', '.join(['%s'] * len(person_ids))})"
        scope_params = list(person_ids)
    delete = (
        f"DELETE FROM {table} WHERE {table}.attribute_id IN ({ids_sql}){scope_sql} AND NOT EXISTS "
        f"(SELECT 1 FROM r WHERE r.attribute_id = {table}.attribute_id AND r.person_id = {table}.person_id)"
    )
    if fresh:
        insert = (
            f"INSERT INTO {table} (attribute_id, person_id, {cols}, computed_at) "
            f"SELECT r.attribute_id, r.person_id, {', '.join('r.' + c for c in COLUMNS)}, %s FROM r"
        )
        return [(f"WITH r AS ({select_sql}) {insert}", [*select_params, computed_at])]
    if _pg():
        return [
            (
                f"WITH r AS MATERIALIZED ({select_sql}), ins AS ({upsert} RETURNING 1), "
                f"del AS ({delete} RETURNING 1) "
                "SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM del)",
                [*select_params, computed_at, *attribute_ids, *scope_params],
            )
        ]
    return [
        (f"WITH r AS ({select_sql}) {upsert}", [*select_params, computed_at]),
        (f"WITH r AS ({select_sql}) {delete}", [*select_params, *attribute_ids, *scope_params]),
    ]


def run_writes(statements: list[Rows]) -> int:
    """Run the statements ``write_statements`` made; returns the rows upserted (the first result
    column of the first statement where it answers a row, else its row count)."""
    written = 0
    with connection.cursor() as cursor:
        for i, (statement, params) in enumerate(statements):
            cursor.execute(statement, params)
            if i == 0:
                written = cursor.fetchone()[0] if cursor.description else cursor.rowcount
                if written < 0 and not _pg():  # SQLite gives no row count for a WITH ... INSERT
                    cursor.execute("SELECT changes()")
                    written = cursor.fetchone()[0]
    return written


# ---------------------------------------------------------------- first activation (PostgreSQL)


def partition_name(attribute_id: int) -> str:
    return f"{ComputedValue._meta.db_table}_a{int(attribute_id)}"


def partitioned() -> bool:
    """Is the value table partitioned by attribute (PostgreSQL after migration 0005)?"""
    if not _pg():
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [ComputedValue._meta.db_table]
        )
        row = cursor.fetchone()
    return bool(row) and row[0] == "p"


PARTITION_FROM_PEOPLE = 100_000


def worth_a_partition() -> bool:
    """Below ~100k profiles the DDL of a new partition (create, two index builds, attach) costs more
    than inserting through the indexes; such attributes' rows go to the default partition."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = to_regclass(%s)", [Person._meta.db_table])
        row = cursor.fetchone()
    return bool(row) and max(row[0] or 0, 0) >= PARTITION_FROM_PEOPLE  # -1: never analyzed


def partitions_of(attribute_ids: Sequence[int]) -> set[int]:
    """The attributes (of these) that have their own partition."""
    if not attribute_ids or not _pg():
        return set()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a FROM unnest(%s::bigint[]) a WHERE to_regclass(%s || a::text) IS NOT NULL",
            [list(attribute_ids), f"{ComputedValue._meta.db_table}_a"],
        )
        return {row[0] for row in cursor.fetchall()}


def drop_partition(attribute_id: int) -> None:
    """Drop a deleted attribute's (emptied) partition, if the parent's lock comes within 2 s; else
    leave it (an empty partition is harmless). Inside the caller's transaction."""
    if not _pg():
        return
    name = partition_name(attribute_id)
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('lock_timeout'), to_regclass(%s) IS NOT NULL", [name])
            previous, exists = cursor.fetchone()
            if exists:
                cursor.execute("SELECT set_config('lock_timeout', '2s', true)")
                cursor.execute(f"DROP TABLE {name}")
                cursor.execute("SELECT set_config('lock_timeout', %s, true)", [previous])
    except DatabaseError:
        pass


def load_partitions(rows: Rows, *, attribute_ids: Sequence[int], computed_at: datetime) -> int:
    """First activation: the rows go into new, index-free tables (one per attribute), whose two
    indexes are then built in one sorted pass each, and which are attached as the attributes'
    partitions. Runs inside the caller's transaction (all or nothing). Returns the rows written."""
    table = ComputedValue._meta.db_table
    select_sql, select_params = rows
    cols = ", ".join(COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for pk in attribute_ids:
            cursor.execute(f"CREATE TABLE {partition_name(pk)} (LIKE {table} INCLUDING DEFAULTS)")
        picked = f"r.attribute_id, r.person_id, {', '.join('r.' + c for c in COLUMNS)}, %s"
        if len(attribute_ids) == 1:
            cursor.execute(
                f"WITH r AS ({select_sql}) INSERT INTO {partition_name(attribute_ids[0])} "
                f"(attribute_id, person_id, {cols}, computed_at) SELECT {picked} FROM r",
                [*select_params, computed_at],
            )
            written = cursor.rowcount
        else:
            # One pass computes every attribute of the step. Its rows are routed to each attribute's
            # table by a private partitioned table they are attached to while loading (no
            # materialized intermediate result, no index).
            router = f"{table}_load_{int(attribute_ids[0])}"
            cursor.execute(
                f"CREATE TABLE {router} (LIKE {table} INCLUDING DEFAULTS) PARTITION BY LIST (attribute_id)"
            )
            for pk in attribute_ids:
                cursor.execute(
                    f"ALTER TABLE {router} ATTACH PARTITION {partition_name(pk)} FOR VALUES IN ({int(pk)})"
                )
            cursor.execute(
                f"WITH r AS ({select_sql}) INSERT INTO {router} "
                f"(attribute_id, person_id, {cols}, computed_at) SELECT {picked} FROM r",
                [*select_params, computed_at],
            )
            written = cursor.rowcount
            for pk in attribute_ids:
                cursor.execute(f"ALTER TABLE {router} DETACH PARTITION {partition_name(pk)}")
            cursor.execute(f"DROP TABLE {router}")
        for pk in attribute_ids:
            name = partition_name(pk)
            cursor.execute(
                f"ALTER TABLE {name} ADD CONSTRAINT {name}_pkey PRIMARY KEY (attribute_id, person_id)"
            )
            cursor.execute(f"CREATE INDEX {name}_person ON {name} (person_id)")
            cursor.execute(f"ALTER TABLE {name} ADD CONSTRAINT {name}_in CHECK (attribute_id = {int(pk)})")
            cursor.execute(f"ALTER TABLE {table} ATTACH PARTITION {name} FOR VALUES IN ({int(pk)})")
    return written


# ---------------------------------------------------------------- event aggregates


def simple_pass(
    items: Sequence[tuple[ComputedAttribute, Aggregate]],
    *,
    now: datetime,
    tz: ZoneInfo,
    person_ids: Sequence[int] | None = None,
) -> Rows:
    """Several non-windowed aggregates in one FILTERed pass: over one event (everyone), or over
    several events (a few people: their events are read once, through the person index)."""
    names = sorted({agg.event for _, agg in items})
    several = len(names) > 1  # a few people: every event in one pass, each aggregate FILTERed by name
    events = Event.objects.filter(name__in=names) if several else Event.objects.filter(name=names[0])
    if person_ids is not None:
        events = events.filter(person_id__in=person_ids)
    lows = [agg.period.bounds(now, tz)[0] for _, agg in items]
    if all(low is not None for low in lows):
        events = events.filter(timestamp__gte=min(lows))
    annotations = {
        f"v{attribute.pk}": aggregate_expression(agg, now=now, tz=tz, by_name=several)
        for attribute, agg in items
    }
    grouped = events.order_by().values("person_id").annotate(**annotations)
    inner_sql, inner_params = grouped.query.sql_with_params()
    parts = []
    for attribute, agg in items:
        value = f"s.v{attribute.pk}"
        if agg.function == "exists":
            value = f"(s.v{attribute.pk} > 0)" if _pg() else f"(CASE WHEN s.v{attribute.pk} > 0 THEN 1 END)"
        parts.append(row_select(attribute, value, "g AS s", [], agg.empty))
    body_sql, body_params = union(parts)
    return f"WITH g AS ({inner_sql}) {body_sql}", [*inner_params, *body_params]


def windowed(
    attribute: ComputedAttribute,
    agg: Aggregate,
    *,
    now: datetime,
    tz: ZoneInfo,
    person_ids: Sequence[int] | None = None,
) -> Rows:
    """One aggregate that needs window functions: exclude first/last, first, last, most_common, top."""
    base_sql, base_params = windowed_rows_queryset(
        agg, now=now, tz=tz, person_ids=person_ids
    ).query.sql_with_params()
    where = "b.rn > 1" if agg.exclude else "1 = 1"
    f = agg.function
    text_value = agg.property_type == "text" or agg.property == "$weekday"
    collate = ' COLLATE "C"' if _pg() and text_value else ""
    if f in ("first", "last"):
        order = "ASC" if f == "first" else "DESC"
        inner = (
            f"SELECT b.pid, b.v, "
            f"ROW_NUMBER() OVER (PARTITION BY b.pid ORDER BY b.ts {order}, b.eid {order}) AS k "
            f"FROM ({base_sql}) b WHERE {where} AND b.v IS NOT NULL"
        )
        source = f"(SELECT x.pid AS person_id, x.v AS value FROM ({inner}) x WHERE x.k = 1) AS s"
    elif f in ("most_common", "top"):
        if f == "most_common":
            tie = "MAX(b.ts) DESC, MAX(b.eid) DESC"
        else:
            amount = "SUM(b.amt) DESC NULLS LAST, " if agg.amount else ""
            tie = f"{amount}b.v{collate} ASC"
        inner = (
            f"SELECT b.pid, b.v, ROW_NUMBER() OVER (PARTITION BY b.pid ORDER BY COUNT(*) DESC, {tie}) AS k "
            f"FROM ({base_sql}) b WHERE {where} AND b.v IS NOT NULL GROUP BY b.pid, b.v"
        )
        source = (
            f"(SELECT x.pid AS person_id, x.v AS value FROM ({inner}) x WHERE x.k = {int(agg.rank)}) AS s"
        )
    else:
        value = {
            "count": "COUNT(*)",
            "exists": "COUNT(*)",
            "sum": "SUM(b.v)",
            "average": "AVG(b.v)",
            "min": "MIN(b.v)",
            "max": "MAX(b.v)",
            "count_distinct": "COUNT(DISTINCT b.v)",
        }[f]
        source = (
            f"(SELECT b.pid AS person_id, {value} AS value FROM ({base_sql}) b "
            f"WHERE {where} GROUP BY b.pid) AS s"
        )
    value_sql = "s.value"
    if f == "exists":
        value_sql = "(s.value > 0)" if _pg() else "(CASE WHEN s.value > 0 THEN 1 END)"
    sql, params = row_select(attribute, value_sql, source, [], agg.empty)
    # row_select puts the attribute id first; the source's params follow it.
    return sql, [params[0], *base_params, *params[1:]]


# ---------------------------------------------------------------- formulas and scores


def _fence() -> str:
    """Keeps the planner from inlining the subquery, which would compute the value twice."""
    return " OFFSET 0" if _pg() else " LIMIT -1 OFFSET 0"


def people_scope(person_ids: Sequence[int] | None) -> tuple[str, list]:
    if person_ids is None:
        return "p.merged_into_id IS NULL", []
    return f"p.id IN ({', '.join(['%s'] * len(person_ids))})", list(person_ids)


def formula_rows(
    attribute: ComputedAttribute, expression: tuple[str, list], person_ids, joins: Sequence[Rows] = ()
) -> Rows:
    """The formula per person; ``joins`` (LEFT JOINs of computed inputs onto ``p``) from the compiler."""
    expr_sql, expr_params = expression
    scope_sql, scope_params = people_scope(person_ids)
    table = Person._meta.db_table
    join_sql = " ".join(j for j, _ in joins)
    join_params = [p for _, ps in joins for p in ps]
    source = (
        f"(SELECT p.id AS person_id, {expr_sql} AS value FROM {table} p {join_sql} "
        f"WHERE {scope_sql}{_fence()}) AS s"
    )
    sql, params = row_select(attribute, "s.value", source, [], None)
    return sql, [params[0], *expr_params, *join_params, *scope_params, *params[1:]]


def out_of_range_statement(
    attribute: ComputedAttribute,
    guards: Sequence[tuple[str, list, str]],
    person_ids,
    joins: Sequence[Rows] = (),
    *,
    at: datetime,
) -> Rows:
    """Record on the attribute how many people's values a guarded step emptied (out of range) and
    why: over everyone the count is replaced, for a few people it is added to."""
    attributes = ComputedAttribute._meta.db_table
    scope_sql, scope_params = people_scope(person_ids)
    join_sql = " ".join(j for j, _ in joins)
    join_params = [p for _, ps in joins for p in ps]
    fired = " OR ".join(f"({g})" for g, _, _ in guards)
    fired_params = [p for _, ps, _ in guards for p in ps]
    reason = "CASE " + " ".join(f"WHEN {g} THEN %s" for g, _, _ in guards) + " END"
    reason_params = [p for _, ps, why in guards for p in (*ps, why)]
    counted = (
        f"SELECT count(*) AS n, max({reason}) AS reason FROM {Person._meta.db_table} p {join_sql} "
        f"WHERE {scope_sql} AND ({fired})"
    )
    everyone = person_ids is None
    kept_reason = "''" if everyone else "out_of_range_reason"
    sql = (
        f"UPDATE {attributes} SET "
        f"out_of_range_count = {'c.n' if everyone else 'out_of_range_count + c.n'}, "
        f"out_of_range_reason = COALESCE(c.reason, {kept_reason}), "
        "out_of_range_at = CASE WHEN c.n > 0 THEN %s ELSE out_of_range_at END "
        f"FROM ({counted}) c WHERE {attributes}.id = %s{'' if everyone else ' AND c.n > 0'}"
    )
    return sql, [at, *reason_params, *join_params, *scope_params, *fired_params, attribute.pk]


def score_rows(attribute: ComputedAttribute, rules: Sequence[tuple[Q, int]], person_ids, scope=None) -> Rows:
    """The sum of the points of the rules each person matches (0, the empty value, is not stored).

    ``scope``: the rules were compiled with a ``SetScope`` (one FILTERed pass over the events, computed
    inputs joined), whose joins this statement carries.
    """
    people = Person.objects.all()
    people = (
        people.filter(pk__in=person_ids)
        if person_ids is not None
        else people.filter(merged_into__isnull=True)
    )
    if scope is not None:
        people = scope.attach(people)
    total = Value(0, output_field=IntegerField())
    for q, points in rules:
        total = total + Case(When(q, then=Value(points)), default=Value(0), output_field=IntegerField())
    scored = people.annotate(pid=F("pk"), score=total).values("pid", "score").order_by()
    if scope is not None:
        inner_sql, inner_params = scope.sql(scored, connection.vendor)
    else:
        inner_sql, inner_params = scored.query.sql_with_params()
    source = f"(SELECT t.pid AS person_id, t.score AS value FROM ({inner_sql}) t{_fence()}) AS s"
    sql, params = row_select(attribute, "s.value", source, [], 0)
    return sql, [params[0], *inner_params, *params[1:]]
