"""Checked formula → one SQL expression over a person row (pure: no queries, no I/O).

User values are bound parameters; attribute reads come from the attribute providers. Numbers are
computed as float8 (REAL on SQLite) like the Python evaluator's floats. Where SQL would not
propagate NULL (AND/OR, LEAST/GREATEST), the expression is guarded so empty stays empty. Steps that
can leave the supported range (``add_days`` beyond years 1–9999, ``concat`` of a whole number
beyond ±9.2e18, the year/month/day of a date-time that is out of range in the organization's
timezone) are empty in SQL exactly where the Python evaluator gives empty; each such step is also
listed in ``guards`` (a condition true where it emptied the value, and why) for counting.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from computed.lang.ast import Binary, Boolean, Call, Node, Number, Ref, String, Unary
from computed.lang.checker import NUMERIC, CheckedFormula
from computed.lang.runtime import MAX_DAYS, MAX_WHOLE, UNIT_SECONDS, sqlite_datetime_text
from people.conditions import attributes

SQL = tuple[str, list]
# (SQL true where a step emptied the value because it left the range, its parameters, the reason)
Guard = tuple[str, list, str]
MIN_EPOCH = -62135596800  # 0001-01-01T00:00:00Z in seconds since 1970
MAX_EPOCH = 253402300799.999999  # 9999-12-31T23:59:59.999999Z
PG_MIN_LOCAL = "TIMESTAMP '0001-01-01 00:00:00'"
PG_MAX_LOCAL = "TIMESTAMP '9999-12-31 23:59:59.999999'"


class _Compiler:
    def __init__(
        self,
        checked: CheckedFormula,
        alias: str,
        vendor: str,
        now: datetime,
        tz: ZoneInfo,
        joins: list[SQL] | None = None,
    ):
        self.checked = checked
        self.guards: list[Guard] = []
        self.joins = joins
        self.joined: dict[str, str] = {}
        self.alias = alias
        self.pg = vendor == "postgresql"
        self.vendor = vendor
        self.now = now
        self.tz = tz
        self.today = now.astimezone(tz).date()

    # --- parameters, typed so PostgreSQL never has to guess
    def param(self, value, type_: str) -> SQL:
        if not self.pg:
            if type_ == "datetime":
                return "%s", [sqlite_datetime_text(value)]
            if type_ == "date":
                return "%s", [value.isoformat()]
            return "%s", [value]
        cast = {
            "number": "double precision",
            "integer": "double precision",
            "text": "text",
            "boolean": "boolean",
            "date": "date",
            "datetime": "timestamptz",
        }[type_]
        return f"CAST(%s AS {cast})", [value]

    def type(self, node: Node) -> str:
        return self.checked.type_of(node)

    def is_datetime(self, node: Node) -> str:
        return "1" if self.type(node) == "datetime" else "0"

    def c(self, node: Node) -> SQL:
        if isinstance(node, Number):
            return self.param(float(node.value), "number")
        if isinstance(node, String):
            return self.param(node.value, "text")
        if isinstance(node, Boolean):
            return self.param(node.value, "boolean")
        if isinstance(node, Ref):
            ref = self.checked.refs[node.key]
            provider = attributes.provider_of(ref)
            if self.joins is not None and hasattr(provider, "join"):
                # Set-based: the input is LEFT JOINed once (hashed), not read per row.
                join_alias = self.joined.get(ref.key)
                if join_alias is None:
                    join_alias = self.joined[ref.key] = f"cj{len(self.joined)}"
                    self.joins.append(provider.join(ref, person=self.alias, alias=join_alias))
                sql, params = provider.joined_sql(ref, alias=join_alias, vendor=self.vendor)
            else:
                sql, params = provider.sql(ref, alias=self.alias, vendor=self.vendor)
            if self.type(node) in NUMERIC:
                sql = f"CAST({sql} AS {'double precision' if self.pg else 'REAL'})"
            return sql, params
        if isinstance(node, Unary):
            sql, params = self.c(node.operand)
            return (f"(- {sql})" if node.op == "-" else f"(NOT {sql})"), params
        if isinstance(node, Binary):
            return self.binary(node)
        return self.call(node)

    def binary(self, node: Binary) -> SQL:
        a, ap = self.c(node.left)
        b, bp = self.c(node.right)
        op = node.op
        if op in ("and", "or"):
            return (
                f"(CASE WHEN {a} IS NULL OR {b} IS NULL THEN NULL ELSE ({a} {op.upper()} {b}) END)",
                ap + bp + ap + bp,
            )
        if op in ("+", "-", "*"):
            return f"({a} {op} {b})", ap + bp
        if op == "/":
            return f"({a} / NULLIF({b}, 0))", ap + bp
        if op == "%":
            # Floored modulo, like the Python evaluator: a - b * floor(a / b).
            return f"({a} - {b} * FLOOR({a} / NULLIF({b}, 0)))", ap + bp + ap + bp
        sql_op = {"=": "=", "!=": "<>"}.get(op, op)
        if self.pg and self.type(node.left) == "text" and op not in ("=", "!="):
            a = f'({a} COLLATE "C")'
        return f"({a} {sql_op} {b})", ap + bp

    def call(self, node: Call) -> SQL:
        name, args = node.name, node.args
        if name in ("date", "datetime"):
            return self.param(self.checked.literals[id(node)], name)
        if name == "now":
            return self.param(self.now, "datetime")
        if name == "today":
            return self.param(self.today, "date")
        if name == "date_diff":
            unit = args[0].value
            a, ap = self.c(args[1])
            b, bp = self.c(args[2])
            seconds = UNIT_SECONDS[unit]
            if not self.pg:
                a_dt, b_dt = self.is_datetime(args[1]), self.is_datetime(args[2])
                return f"attune_date_diff(%s, {a}, {a_dt}, {b}, {b_dt})", [unit, *ap, *bp]
            if self.type(args[1]) == "date" and self.type(args[2]) == "date":
                return f"CAST(FLOOR((({b}) - ({a})) * 86400.0 / {seconds}) AS double precision)", bp + ap
            a, b = self._pg_timestamptz(args[1], a), self._pg_timestamptz(args[2], b)
            return (
                f"CAST(FLOOR(EXTRACT(EPOCH FROM ({b} - {a})) / {seconds}) AS double precision)",
                bp + ap,
            )
        if name == "if":
            cond, cp = self.c(args[0])
            then, tp = self.c(args[1])
            other, op_ = self.c(args[2])
            return (
                f"(CASE WHEN {cond} IS NULL THEN NULL WHEN {cond} THEN {then} ELSE {other} END)",
                cp + cp + tp + op_,
            )
        compiled = [self.c(a) for a in args]
        sqls = [s for s, _ in compiled]
        params = [p for _, ps in compiled for p in ps]
        if name == "coalesce":
            return f"COALESCE({', '.join(sqls)})", params
        if name == "round":
            digits = int(args[1].value) if len(args) == 2 else 0
            if self.pg:
                return f"CAST(ROUND(CAST({sqls[0]} AS numeric), {digits}) AS double precision)", compiled[0][
                    1
                ]
            return f"attune_round({sqls[0]}, {digits})", compiled[0][1]
        if name == "floor":
            return f"CAST(FLOOR({sqls[0]}) AS {'double precision' if self.pg else 'REAL'})", params
        if name == "ceil":
            fn = "CEIL" if self.pg else "CEILING"
            return f"CAST({fn}({sqls[0]}) AS {'double precision' if self.pg else 'REAL'})", params
        if name == "abs":
            return f"ABS({sqls[0]})", params
        if name in ("min", "max"):
            if self.pg:
                fn = "LEAST" if name == "min" else "GREATEST"
                guard = " OR ".join(f"{s} IS NULL" for s in sqls)
                return f"(CASE WHEN {guard} THEN NULL ELSE {fn}({', '.join(sqls)}) END)", params + params
            # SQLite's multi-argument MIN/MAX are NULL when any argument is.
            return f"{name.upper()}({', '.join(sqls)})", params
        if name == "concat":
            parts, part_params, wide, wide_params = [], [], [], []
            for arg, (sql, ps) in zip(args, compiled, strict=True):
                if self.type(arg) == "integer":
                    # Beyond ±9.2e18 a whole number has no exact text: empty, as in Python.
                    wide.append(f"ABS({sql}) >= {MAX_WHOLE!r}")
                    wide_params += ps
                    sql = f"CAST(CAST({sql} AS {'bigint' if self.pg else 'INTEGER'}) AS text)"
                parts.append(sql)
                part_params += ps
            joined = f"({' || '.join(parts)})"
            if not wide:
                return joined, part_params
            fired = " OR ".join(wide)
            self.guards.append(
                (
                    f"COALESCE({fired}, FALSE)",
                    wide_params,
                    f"column {node.pos}: concat() of a whole number beyond ±9.2e18",
                )
            )
            return f"(CASE WHEN {fired} THEN NULL ELSE {joined} END)", wide_params + part_params
        if name in ("lower", "upper"):
            return (f"{name.upper()}({sqls[0]})" if self.pg else f"attune_{name}({sqls[0]})"), params
        if name == "length":
            fn = "char_length" if self.pg else "length"
            return f"CAST({fn}({sqls[0]}) AS {'double precision' if self.pg else 'REAL'})", params
        if name == "contains":
            if self.pg:
                return f"(strpos({sqls[0]}, {sqls[1]}) > 0)", params
            return f"(instr({sqls[0]}, {sqls[1]}) > 0)", params
        if name == "add_days":
            return self.add_days(node, compiled)
        if name in ("year", "month", "day"):
            if not self.pg:
                return f"attune_date_part(%s, {sqls[0]}, {self.is_datetime(args[0])}, %s)", [
                    name,
                    *params,
                    self.tz.key,
                ]
            if self.type(args[0]) == "date":
                return f"CAST(EXTRACT({name.upper()} FROM {sqls[0]}) AS double precision)", params
            # The local time must be within years 1-9999 too (Python cannot hold it otherwise).
            local = f"({sqls[0]} AT TIME ZONE %s)"
            outside = f"{local} NOT BETWEEN {PG_MIN_LOCAL} AND {PG_MAX_LOCAL}"
            self.guards.append(
                (
                    f"COALESCE({outside}, FALSE)",
                    [*params, self.tz.key],
                    f"column {node.pos}: {name}() of a date-time out of range in the organization's timezone",
                )
            )
            return (
                f"(CASE WHEN {outside} THEN NULL "
                f"ELSE CAST(EXTRACT({name.upper()} FROM {local}) AS double precision) END)",
                [*params, self.tz.key, *params, self.tz.key],
            )
        if name == "days_since":
            if not self.pg:
                now, now_p = self.param(self.now, "datetime")
                today, today_p = self.param(self.today, "date")
                return (
                    f"attune_days_since({sqls[0]}, {self.is_datetime(args[0])}, {now}, {today})",
                    [*params, *now_p, *today_p],
                )
            if self.type(args[0]) == "date":
                today, today_p = self.param(self.today, "date")
                return f"CAST(({today} - {sqls[0]}) AS double precision)", [*today_p, *params]
            now, now_p = self.param(self.now, "datetime")
            return (
                f"CAST(FLOOR(EXTRACT(EPOCH FROM ({now} - {sqls[0]})) / 86400) AS double precision)",
                [*now_p, *params],
            )
        raise AssertionError(name)

    def add_days(self, node: Call, compiled: list[SQL]) -> SQL:
        """``d`` moved by ``n`` days; empty where that leaves years 1-9999 (as ``runtime.add_days``)."""
        (d, dp), (n, np_) = compiled
        reason = f"column {node.pos}: add_days() left the supported range (years 1 to 9999)"
        if not self.pg:
            # The very Python function, registered on the connection; empty out of range.
            moved = f"attune_add_days({d}, {self.is_datetime(node.args[0])}, {n})"
            fired = f"({d} IS NOT NULL AND {n} IS NOT NULL AND {moved} IS NULL)"
            self.guards.append((fired, dp + np_ + dp + np_, reason))
            return moved, dp + np_
        # Whether the result leaves the range is decided on numbers (days, or seconds since the epoch),
        # before moving: PostgreSQL itself cannot hold a date beyond 4713 BC. CASE keeps the order, so
        # the cast to integer only runs for a number of days that fits.
        if self.type(node.args[0]) == "date":
            moved = f"({d} + CAST({n} AS integer))"
            position = f"(({d} - DATE '0001-01-01') + CAST({n} AS integer))"
            outside = f"(CASE WHEN ABS({n}) > {MAX_DAYS} THEN TRUE ELSE {position} NOT BETWEEN 0 AND %s END)"
        else:
            moved = f"({d} + CAST({n} AS integer) * INTERVAL '1 day')"
            position = f"(EXTRACT(EPOCH FROM {d}) + {n} * 86400.0)"
            outside = (
                f"(CASE WHEN ABS({n}) > {MAX_DAYS} THEN TRUE "
                f"ELSE {position} NOT BETWEEN {MIN_EPOCH} AND {MAX_EPOCH} END)"
            )
        outside_params = np_ + dp + np_ + ([MAX_DAYS] if self.type(node.args[0]) == "date" else [])
        self.guards.append((f"COALESCE({outside}, FALSE)", outside_params, reason))
        return f"(CASE WHEN {outside} THEN NULL ELSE {moved} END)", outside_params + dp + np_

    def _pg_timestamptz(self, node: Node, sql: str) -> str:
        if self.type(node) == "date":
            return f"(CAST({sql} AS timestamp) AT TIME ZONE 'UTC')"
        return sql


def compile_formula(
    checked: CheckedFormula,
    *,
    alias: str,
    vendor: str,
    now: datetime,
    tz: ZoneInfo,
    joins: list[SQL] | None = None,
    guards: list[Guard] | None = None,
) -> SQL:
    """SQL (and its parameters) computing the formula for the person row ``alias``.

    With ``joins`` (a list), attributes whose provider can be joined (computed attributes) are read
    from ``LEFT JOIN`` clauses appended to it, for the statement to put after ``FROM person alias``;
    without it, each is a correlated read (best for a few people). With ``guards`` (a list), the
    steps that empty the value when it leaves the supported range are appended to it.
    """
    compiler = _Compiler(checked, alias, vendor, now, tz, joins)
    sql = compiler.c(checked.tree)
    if guards is not None:
        guards.extend(compiler.guards)
    return sql
