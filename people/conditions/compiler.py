"""Condition tree → one Q on ``Person`` (pure: builds expressions, runs no query).

Each event condition becomes its own ``Exists`` (or a correlated count ``Subquery``), never a join
of all event conditions, which would count the cross product.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import BooleanField, Count, Exists, F, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models import lookups as L
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.db.models.sql import Query

import people.conditions.attributes as attributes
from people.conditions import ast
from people.conditions.operators import predicate_q
from people.conditions.sql import AliasColumn, JsonScalar
from people.lastcontacted import ContactOperator, contact_q
from people.models import Event, Person, PersonChannelContact

UNIT_SECONDS = {"minutes": 60, "hours": 3600, "days": 86400}
COUNT_LOOKUPS = {
    "eq": L.Exact,
    "lt": L.LessThan,
    "lte": L.LessThanOrEqual,
    "gte": L.GreaterThanOrEqual,
    "gt": L.GreaterThan,
}


def window_bounds(
    window: ast.Window, now: datetime, tz: ZoneInfo | None = None
) -> tuple[datetime | None, datetime | None]:
    """[low, high) of event time for a window, relative to ``now`` (``since`` a date: from its start in
    ``tz``, the organization's timezone)."""
    if window.type == "any":
        return None, None
    if window.type == "since":
        since = window.since
        if not isinstance(since, datetime):
            since = datetime.combine(since, time(0), tzinfo=tz or UTC)
        return since, None
    unit = timedelta(seconds=UNIT_SECONDS[window.unit])
    if window.type == "within":
        return now - window.start * unit, None
    if window.type == "before":
        return None, now - window.start * unit
    return now - window.end * unit, now - window.start * unit


def count_matches(count: int, op: str, n: int) -> bool:
    return {
        "eq": count == n,
        "lt": count < n,
        "lte": count <= n,
        "gte": count >= n,
        "gt": count > n,
    }[op]


def span_q(low: datetime | None, high: datetime | None) -> Q:
    """Events in [low, high) (an open end where a bound is None)."""
    q = Q()
    if low is not None:
        q &= Q(timestamp__gte=low)
    if high is not None:
        q &= Q(timestamp__lt=high)
    return q


def filters_q(filters, *, now: datetime, tz: ZoneInfo) -> Q:
    """Events whose properties match every property filter."""
    q = Q()
    for prop in filters:
        pred = prop.predicate
        expr = JsonScalar(F("properties"), prop.path, pred.type)
        q &= predicate_q(expr, pred.type, pred.op, pred.value, now=now, tz=tz)
    return q


def event_q(cond: ast.EventCondition, *, now: datetime, tz: ZoneInfo) -> Q:
    """The Q on events of an event condition (name, channel, window, property filters)."""
    q = Q(name=cond.name)
    if cond.channel:
        q &= Q(channel__key=cond.channel)
    return q & span_q(*window_bounds(cond.window, now, tz)) & filters_q(cond.filters, now=now, tz=tz)


def matching_events(cond: ast.EventCondition, *, now: datetime, tz: ZoneInfo, correlated: bool = True):
    """The events matching an event condition: of the outer person row, or of everyone."""
    events = Event.objects.filter(event_q(cond, now=now, tz=tz))
    if correlated:
        events = events.filter(person_id=OuterRef("pk"))
    return events


class SetScope:
    """What a set-based statement over many people joins once instead of per row.

    Compiling with a scope turns every event condition into a column of ONE FILTERed pass over the
    events (``COUNT(*) FILTER (WHERE <condition>)`` per condition, ``GROUP BY person_id``), and every
    attribute whose provider can be joined (computed attributes) into a ``LEFT JOIN``. The statement
    puts ``from_sql()`` right after ``FROM people_person`` (see ``attach``).
    """

    EVENTS = "cx_e"

    def __init__(self, *, now: datetime, tz: ZoneInfo, person_ids=None):
        self.now, self.tz, self.person_ids = now, tz, person_ids
        self.events: list[ast.EventCondition] = []
        self.joins: dict[str, tuple[str, tuple[str, list], object]] = {}

    def event_count(self, cond: ast.EventCondition):
        cond = replace(cond, count_op="gte", count=1)  # one column per set of matching events
        if cond not in self.events:
            self.events.append(cond)
        column = AliasColumn(self.EVENTS, f"c{self.events.index(cond)}", IntegerField())
        return Coalesce(column, Value(0), output_field=IntegerField())

    def attribute(self, ref) -> object | None:
        provider = attributes.provider_of(ref)
        if not hasattr(provider, "join"):
            return None
        if ref.key not in self.joins:
            alias = f"cx_a{len(self.joins)}"
            person = Person._meta.db_table
            join = provider.join(ref, person=f'"{person}"', alias=alias)
            self.joins[ref.key] = (alias, join, provider.joined_expression(ref, alias=alias))
        return self.joins[ref.key][2]

    def from_sql(self, vendor: str) -> tuple[str, list]:
        """The joins to append to ``FROM people_person``."""
        person = Person._meta.db_table
        parts: list[str] = []
        params: list = []
        if self.events:
            # Only rows some condition can count: per event name, from the earliest window start
            # (a BitmapOr over the (name, timestamp) index when the windows are short).
            lows: dict[str, datetime | None] = {}
            for c in self.events:
                low = window_bounds(c.window, self.now, self.tz)[0]
                if c.name not in lows:
                    lows[c.name] = low
                elif lows[c.name] is not None:
                    lows[c.name] = None if low is None else min(lows[c.name], low)
            wanted = Q(pk__in=[])
            for name in sorted(lows):
                wanted |= Q(name=name, timestamp__gte=lows[name]) if lows[name] is not None else Q(name=name)
            events = Event.objects.filter(wanted)
            if self.person_ids is not None:
                events = events.filter(person_id__in=self.person_ids)
            counts = {
                f"c{k}": Count("pk", filter=event_q(c, now=self.now, tz=self.tz))
                for k, c in enumerate(self.events)
            }
            sql, event_params = (
                events.order_by().values("person_id").annotate(**counts).query.sql_with_params()
            )
            parts.append(f'LEFT JOIN ({sql}) {self.EVENTS} ON {self.EVENTS}.person_id = "{person}"."id"')
            params += list(event_params)
        for _, (join_sql, join_params), _ in self.joins.values():
            parts.append(join_sql)
            params += list(join_params)
        return " ".join(parts), params

    MARKER = "cx_scope_joins"

    def attach(self, queryset):
        """``queryset`` (on Person) with a marker where the joins go; ``sql()`` swaps them in."""
        return queryset.extra(tables=[self.MARKER])

    def sql(self, queryset, vendor: str) -> tuple[str, list]:
        sql, params = queryset.query.sql_with_params()
        marker = f', "{self.MARKER}"'
        at = sql.index(marker)
        before = sql[:at].replace("%%", "")
        n_before = before.count("%s")
        joins, join_params = self.from_sql(vendor)
        return (
            sql[:at] + " " + joins + sql[at + len(marker) :],
            [*params[:n_before], *join_params, *params[n_before:]],
        )


def _event_set_q(events, op: str, n: int) -> Q:
    """Uncorrelated form: people whose count of matching events satisfies ``op n``."""
    if count_matches(0, op, n):
        # Zero satisfies it: everyone except those whose (positive) count fails it.
        failing = {"eq": "exact", "lt": "gte", "lte": "gt", "gte": "lt", "gt": "lte"}
        if op == "eq":
            having = ~Q(n=n)
        else:
            having = Q(**{f"n__{failing[op]}": n})
        rows = events.order_by().values("person_id").annotate(n=Count("*")).filter(having).values("person_id")
        return ~Q(pk__in=rows)
    if op == "gte" and n <= 1 or op == "gt" and n == 0:
        return Q(pk__in=events.order_by().values("person_id"))
    lookup = {"eq": "exact", "lt": "lt", "lte": "lte", "gte": "gte", "gt": "gt"}[op]
    rows = events.order_by().values("person_id").annotate(n=Count("*")).filter(**{f"n__{lookup}": n})
    return Q(pk__in=rows.values("person_id"))


def _list_items_sql(cond: ast.ListCondition, *, now: datetime, tz: ZoneInfo) -> tuple[str, str, list]:
    """``FROM <the person's items> WHERE <item conditions>`` for a list attribute of ``custom``."""
    person = f'"{Person._meta.db_table}"."custom"'
    vendor = connection.vendor
    if vendor == "postgresql":
        source = (
            f"jsonb_array_elements(CASE WHEN jsonb_typeof({person} -> %s) = 'array' "
            f"THEN {person} -> %s ELSE '[]'::jsonb END) AS cx_li(item)"
        )
        source_params: list = [cond.key, cond.key]
        item = "cx_li.item"
    else:
        path = f'$."{cond.key}"'
        source = (
            f"json_each(CASE WHEN json_type({person}, %s) = 'array' "
            f"THEN json_extract({person}, %s) ELSE '[]' END) AS cx_li"
        )
        source_params = [path, path]
        item = "cx_li.value"
    q = ~Q(pk__in=[])
    for f in cond.filters:
        pred = f.predicate
        expr = JsonScalar(RawSQL(item, [], output_field=models_json()), f.path, pred.type)
        q &= predicate_q(expr, pred.type, pred.op, pred.value, now=now, tz=tz)
    if not cond.filters:
        return source, "1 = 1", source_params
    query = Query(Person)
    where = query.build_where(q)
    where_sql, where_params = where.as_sql(query.get_compiler(connection=connection), connection)
    return source, where_sql or "1 = 1", [*source_params, *where_params]


def models_json():
    from django.db.models import JSONField

    return JSONField()


def list_q(cond: ast.ListCondition, *, now: datetime, tz: ZoneInfo) -> Q:
    """A list condition as one correlated subquery over the person's items (never NULL)."""
    source, where, params = _list_items_sql(cond, now=now, tz=tz)
    if cond.quantifier == "any":
        sql = f"EXISTS (SELECT 1 FROM {source} WHERE {where})"
    elif cond.quantifier == "none":
        sql = f"NOT EXISTS (SELECT 1 FROM {source} WHERE {where})"
    elif cond.quantifier == "all":
        sql = f"NOT EXISTS (SELECT 1 FROM {source} WHERE NOT ({where}))"
    else:
        symbol = {"eq": "=", "lt": "<", "lte": "<=", "gte": ">=", "gt": ">"}[cond.count_op]
        sql = f"(SELECT COUNT(*) FROM {source} WHERE {where}) {symbol} %s"
        params = [*params, cond.count]
    return Q(RawSQL(sql, params, output_field=BooleanField()))


def compile_q(
    tree: ast.Condition,
    *,
    now: datetime,
    tz: ZoneInfo,
    correlated: bool = True,
    scope: SetScope | None = None,
) -> Q:
    """A Q selecting the people who match ``tree`` at ``now``.

    ``correlated`` (the default) gives each event condition a correlated ``Exists``/count, best for
    a few people; ``correlated=False`` gives an uncorrelated ``pk IN (SELECT person_id ... GROUP BY
    ... HAVING ...)`` that the database evaluates once (hashed), best over everyone.
    """
    if isinstance(tree, ast.And):
        q = ~Q(pk__in=[])  # true (an empty Q() would vanish under negation)
        for child in tree.children:
            q &= compile_q(child, now=now, tz=tz, correlated=correlated, scope=scope)
        return q
    if isinstance(tree, ast.Or):
        q = Q(pk__in=[])
        for child in tree.children:
            q |= compile_q(child, now=now, tz=tz, correlated=correlated, scope=scope)
        return q
    if isinstance(tree, ast.Not):
        return ~compile_q(tree.child, now=now, tz=tz, correlated=correlated, scope=scope)
    if isinstance(tree, ast.AttributeCondition):
        ref = attributes.resolve(tree.key)
        if ref is None:
            raise LookupError(f"unknown attribute {tree.key!r}")
        expr = scope.attribute(ref) if scope is not None else None
        if expr is None:
            expr = attributes.provider_of(ref).expression(ref)
        pred = tree.predicate
        return predicate_q(expr, pred.type, pred.op, pred.value, now=now, tz=tz)
    if isinstance(tree, ast.EventCondition):
        op, n = tree.count_op, tree.count
        if scope is not None:
            return Q(COUNT_LOOKUPS[op](scope.event_count(tree), n))
        if not correlated:
            return _event_set_q(matching_events(tree, now=now, tz=tz, correlated=False), op, n)
        events = matching_events(tree, now=now, tz=tz)
        if (op == "gte" and n <= 1) or (op == "gt" and n == 0):
            return Q(Exists(events)) if not (op == "gte" and n == 0) else ~Q(pk__in=[])
        if (op == "eq" and n == 0) or (op == "lt" and n == 1) or (op == "lte" and n == 0):
            return ~Q(Exists(events))
        if op == "lt" and n == 0:
            return Q(pk__in=[])
        counted = Subquery(
            events.order_by().values("person_id").annotate(n=Count("*")).values("n"),
            output_field=IntegerField(),
        )
        return Q(COUNT_LOOKUPS[op](Coalesce(counted, Value(0)), n))
    if isinstance(tree, ast.ListCondition):
        return list_q(tree, now=now, tz=tz)
    if isinstance(tree, ast.LastContactedCondition):
        op = ContactOperator(tree.op)
        if not tree.channel:
            return contact_q("last_contacted_at", op, tree.value, now=now, tz=tz)
        contacts = PersonChannelContact.objects.filter(person=OuterRef("pk"), channel__key=tree.channel)
        if op is ContactOperator.UNKNOWN:
            return ~Q(Exists(contacts))
        return Q(Exists(contacts.filter(contact_q("last_contacted_at", op, tree.value, now=now, tz=tz))))
    raise TypeError(f"not a condition: {tree!r}")
