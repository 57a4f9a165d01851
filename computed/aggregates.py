"""Event aggregates: definition checking, SQL (set-based) and the Python twin for one profile.

Definition (JSON)::

    {"function": "sum", "event": "Order Completed", "property": "amount",
     "filters": [{"property": "payment", "op": "equals", "value": "card"}],
     "exclude": null | "first" | "last",
     "period": {"type": "full_days", "value": 30}}

Functions: count, sum, min, max, average, count_distinct, first, last, exists, most_common and
top (the rank-th most frequent value, ties broken by the sum of an amount property). ``property``
may be a (dotted) event property or ``$timestamp`` (event time), ``$weekday`` or ``$hour`` (in the
organization's timezone). ``property_type`` (number | text | boolean) says how to read a property
for first / last / most_common / top / count_distinct (text by default).

Periods: lifetime; full_days N (the last N full days, today excluded); full_months N (calendar
months back, today excluded); last_hours N (24 = "last 24 hours"); last_days N (from the start of
the day N days ago, today included); since D (a date, in the organization's timezone);
before_today (lifetime as of the previous day).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db.models import (
    Avg,
    Count,
    F,
    FloatField,
    Func,
    Max,
    Min,
    Q,
    Sum,
    TextField,
    Window,
)
from django.db.models.functions import RowNumber

from people.conditions.ast import PropertyFilter
from people.conditions.checker import _Checker
from people.conditions.compiler import filters_q, span_q
from people.conditions.evaluator import filters_match, in_span, read_property
from people.conditions.sql import JsonScalar, valid_path
from people.lastcontacted import day_bounds
from people.models import AttributeType, Event

FUNCTIONS = (
    "count",
    "sum",
    "min",
    "max",
    "average",
    "count_distinct",
    "first",
    "last",
    "exists",
    "most_common",
    "top",
)
NEEDS_PROPERTY = {"sum", "min", "max", "average", "count_distinct", "first", "last", "most_common", "top"}
RANKED = {"most_common", "top"}
PSEUDO = {"$timestamp": "datetime", "$weekday": "text", "$hour": "number"}
PERIOD_TYPES = ("lifetime", "full_days", "full_months", "last_hours", "last_days", "since", "before_today")
WEEKDAYS = ("", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class Period:
    type: str = "lifetime"
    value: Any = None

    def bounds(self, now: datetime, tz: ZoneInfo) -> tuple[datetime | None, datetime | None]:
        """[low, high) of event time."""
        today = now.astimezone(tz).date()
        start_of = lambda d: day_bounds(d, tz)[0]  # noqa: E731
        if self.type == "lifetime":
            return None, None
        if self.type == "full_days":
            return start_of(today - timedelta(days=self.value)), start_of(today)
        if self.type == "full_months":
            return start_of(months_before(today, self.value)), start_of(today)
        if self.type == "last_hours":
            return now - timedelta(hours=self.value), None
        if self.type == "last_days":
            return start_of(today - timedelta(days=self.value)), None
        if self.type == "since":
            return start_of(self.value), None
        if self.type == "before_today":
            return None, start_of(today)
        raise ValueError(self.type)

    @property
    def slides(self) -> bool:
        return self.type not in ("lifetime", "since")


def months_before(day: date, months: int) -> date:
    month_index = day.year * 12 + day.month - 1 - months
    year, month = divmod(month_index, 12)
    month += 1
    import calendar

    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class Aggregate:
    function: str
    event: str
    property: tuple[str, ...] | str | None  # a path, a pseudo-property ("$timestamp") or None
    property_type: str  # number | text | boolean | datetime
    filters: tuple[PropertyFilter, ...]
    exclude: str | None
    period: Period
    rank: int = 1
    amount: tuple[str, ...] | None = None  # top: ties broken by the sum of this property

    @property
    def output_type(self) -> str:
        f = self.function
        if f in ("count", "count_distinct"):
            return AttributeType.INTEGER
        if f == "exists":
            return AttributeType.BOOLEAN
        if f in ("sum", "average"):
            return AttributeType.DECIMAL
        if self.property == "$hour":
            return AttributeType.INTEGER
        return {
            "number": AttributeType.DECIMAL,
            "text": AttributeType.TEXT,
            "boolean": AttributeType.BOOLEAN,
            "datetime": AttributeType.DATETIME,
        }[self.property_type]

    @property
    def empty(self) -> Any:
        if self.function in ("count", "count_distinct"):
            return 0
        if self.function == "sum":
            return 0.0
        if self.function == "exists":
            return False
        return None

    @property
    def windowed(self) -> bool:
        """Needs its own statement (window functions) rather than the shared FILTERed pass."""
        return self.exclude is not None or self.function in ("first", "last", *RANKED)


def check_aggregate(data: Any) -> Aggregate:
    """Validate an aggregate definition; ``ValidationError`` maps field paths to messages."""
    errors: dict[str, str] = {}
    if not isinstance(data, dict):
        raise ValidationError({"definition": "expected an object"})
    function = data.get("function")
    if function not in FUNCTIONS:
        errors["function"] = f"expected one of: {', '.join(FUNCTIONS)}"
    event = data.get("event")
    if not isinstance(event, str) or not event.strip():
        errors["event"] = "expected an event name"
    prop = data.get("property")
    path: tuple[str, ...] | str | None = None
    property_type = data.get("property_type") or ""
    if function in NEEDS_PROPERTY:
        if prop in PSEUDO:
            path = prop
            property_type = PSEUDO[prop]
            if function in ("sum", "average") and prop != "$hour":
                errors["property"] = f"{function} needs a numeric property"
        elif isinstance(prop, str) and valid_path(tuple(prop.split("."))):
            path = tuple(prop.split("."))
            if function in ("sum", "average", "min", "max"):
                property_type = "number"
            property_type = property_type or "text"
            if property_type not in ("number", "text", "boolean"):
                errors["property_type"] = "expected number, text or boolean"
        else:
            errors["property"] = "expected an event property (dots for nested keys) or $timestamp"
    elif prop not in (None, ""):
        errors["property"] = f"{function} takes no property"
    if function in ("min", "max") and path in ("$weekday",):
        errors["property"] = "min and max apply to numbers and $timestamp"
    checker = _Checker(lambda key: None)
    filters = checker.filters(data.get("filters", []) or [], "filters")
    for issue in checker.issues:
        errors[issue.path] = issue.message
    exclude = data.get("exclude") or None
    if exclude not in (None, "first", "last"):
        errors["exclude"] = "expected first, last or nothing"
    period = check_period(data.get("period") or {"type": "lifetime"}, errors)
    rank = data.get("rank", 1)
    amount = None
    if function == "top":
        if isinstance(rank, bool) or not isinstance(rank, int) or not 1 <= rank <= 10:
            errors["rank"] = "expected a whole number from 1 to 10"
        if data.get("amount_property"):
            amount = tuple(str(data["amount_property"]).split("."))
            if not valid_path(amount):
                errors["amount_property"] = "expected an event property"
    else:
        rank = 1
    if errors:
        raise ValidationError(errors)
    return Aggregate(
        function, event.strip(), path, property_type, filters or (), exclude, period, rank, amount
    )


def check_period(data: Any, errors: dict) -> Period:
    """The ``Period`` a definition's ``period`` object describes. Problems are added to ``errors``
    (keyed ``period.type`` / ``period.value``) and an empty ``Period()`` is returned for them."""
    if not isinstance(data, dict) or data.get("type") not in PERIOD_TYPES:
        errors["period.type"] = f"expected one of: {', '.join(PERIOD_TYPES)}"
        return Period()
    kind = data["type"]
    value = data.get("value")
    if kind in ("lifetime", "before_today"):
        return Period(kind)
    if kind == "since":
        try:
            return Period(kind, date.fromisoformat(str(value)))
        except ValueError:
            errors["period.value"] = "expected a date (YYYY-MM-DD)"
            return Period()
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 3660:
        errors["period.value"] = "expected a whole number from 1 to 3660"
        return Period()
    return Period(kind, value)


# ---------------------------------------------------------------- SQL (ORM expressions)


class LocalPart(Func):
    """The ISO weekday (1–7) or hour (0–23) of a timestamp in a timezone."""

    output_field = FloatField()

    def __init__(self, expression, part: str, tz: str):
        self.part = part
        self.tz = tz
        super().__init__(expression)

    def as_sql(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        if connection.vendor == "postgresql":
            field = "ISODOW" if self.part == "weekday" else "HOUR"
            return f"CAST(EXTRACT({field} FROM ({sql} AT TIME ZONE %s)) AS double precision)", [
                *params,
                self.tz,
            ]
        lookup = "iso_week_day" if self.part == "weekday" else "hour"
        return f"CAST(django_datetime_extract(%s, {sql}, %s, 'UTC') AS REAL)", ["" + lookup, *params, self.tz]


class WeekdayName(Func):
    output_field = TextField()

    def as_sql(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        cases = " ".join(f"WHEN {i} THEN '{name}'" for i, name in enumerate(WEEKDAYS) if name)
        return f"(CASE CAST({sql} AS INTEGER) {cases} END)", params


def value_expression(agg: Aggregate, tz: ZoneInfo):
    if agg.property == "$timestamp":
        return F("timestamp")
    if agg.property == "$hour":
        return LocalPart(F("timestamp"), "hour", tz.key)
    if agg.property == "$weekday":
        return WeekdayName(LocalPart(F("timestamp"), "weekday", tz.key))
    if agg.property is None:
        return None
    return JsonScalar(F("properties"), agg.property, agg.property_type)


def match_q(agg: Aggregate, *, now: datetime, tz: ZoneInfo) -> Q:
    """Period and property filters as a Q on events (the event name is filtered separately)."""
    return span_q(*agg.period.bounds(now, tz)) & filters_q(agg.filters, now=now, tz=tz)


def aggregate_expression(agg: Aggregate, *, now: datetime, tz: ZoneInfo, by_name: bool = False):
    """The FILTERed aggregate of one simple (non-windowed) aggregate, for the shared pass
    (``by_name``: the pass reads several events, so the filter also names the event)."""
    condition = match_q(agg, now=now, tz=tz)
    if by_name:
        condition = Q(name=agg.event) & condition
    value = value_expression(agg, tz)
    f = agg.function
    if f in ("count", "exists"):
        return Count("pk", filter=condition)
    if f == "count_distinct":
        return Count(value, filter=condition, distinct=True)
    if f == "sum":
        return Sum(value, filter=condition, output_field=FloatField())
    if f == "average":
        return Avg(value, filter=condition, output_field=FloatField())
    if f == "min":
        return Min(value, filter=condition)
    if f == "max":
        return Max(value, filter=condition)
    raise ValueError(f)


def windowed_rows_queryset(agg: Aggregate, *, now: datetime, tz: ZoneInfo, person_ids=None):
    """Matching events with ``pid, v, ts, eid`` (+ ``amt``, and ``rn`` when excluding first/last)."""
    events = Event.objects.filter(name=agg.event).filter(match_q(agg, now=now, tz=tz))
    if person_ids is not None:
        events = events.filter(person_id__in=person_ids)
    annotations = {"pid": F("person_id"), "ts": F("timestamp"), "eid": F("pk")}
    value = value_expression(agg, tz)
    if value is not None:
        annotations["v"] = value
    if agg.amount:
        annotations["amt"] = JsonScalar(F("properties"), agg.amount, "number")
    if agg.exclude:
        direction = "asc" if agg.exclude == "first" else "desc"
        annotations["rn"] = Window(
            RowNumber(),
            partition_by=[F("person_id")],
            order_by=[getattr(F("timestamp"), direction)(), getattr(F("pk"), direction)()],
        )
    return events.annotate(**annotations).values(*annotations.keys()).order_by()


# ---------------------------------------------------------------- Python (one profile)


def event_value(agg: Aggregate, row: dict, tz: ZoneInfo) -> Any:
    if agg.property == "$timestamp":
        return row["timestamp"]
    if agg.property == "$hour":
        return float(row["timestamp"].astimezone(tz).hour)
    if agg.property == "$weekday":
        return WEEKDAYS[row["timestamp"].astimezone(tz).isoweekday()]
    if agg.property is None:
        return None
    return read_property(row["properties"], agg.property, agg.property_type)


def matching_rows(agg: Aggregate, rows: list[dict], *, now: datetime, tz: ZoneInfo) -> list[dict]:
    """The events (ordered by time, then id) the aggregate runs over, after exclusion."""
    low, high = agg.period.bounds(now, tz)
    out = [
        row
        for row in rows
        if in_span(row["timestamp"], low, high)
        and filters_match(row["properties"], agg.filters, now=now, tz=tz)
    ]
    out.sort(key=lambda r: (r["timestamp"], r["pk"]))
    if agg.exclude == "first":
        out = out[1:]
    elif agg.exclude == "last":
        out = out[:-1]
    return out


def compute(agg: Aggregate, rows: list[dict], *, now: datetime, tz: ZoneInfo) -> tuple[Any, list[dict]]:
    """The aggregate over one person's events of ``agg.event`` (dicts with pk, timestamp, properties).

    Returns the value (the empty value when nothing matched) and the rows that were used.
    """
    used = matching_rows(agg, rows, now=now, tz=tz)
    f = agg.function
    if f == "count":
        return len(used), used
    if f == "exists":
        return bool(used), used
    values = [(row, event_value(agg, row, tz)) for row in used]
    present = [(row, v) for row, v in values if v is not None]
    if f == "count_distinct":
        return len({v for _, v in present}), used
    if f == "sum":
        return (sum(v for _, v in present) if present else 0.0), used
    if f == "average":
        return (sum(v for _, v in present) / len(present) if present else None), used
    if not present:
        return agg.empty, used
    if f == "min":
        return min(v for _, v in present), used
    if f == "max":
        return max(v for _, v in present), used
    if f == "first":
        return present[0][1], [present[0][0]]
    if f == "last":
        return present[-1][1], [present[-1][0]]
    ranking = rank_values(agg, present)
    return (ranking[agg.rank - 1] if len(ranking) >= agg.rank else None), used


def rank_values(agg: Aggregate, present: list[tuple[dict, Any]]) -> list[Any]:
    """Values by frequency; ties: most recent (most_common) or larger amount then value (top)."""
    stats: dict[Any, dict] = {}
    for row, v in present:
        s = stats.setdefault(v, {"n": 0, "ts": row["timestamp"], "id": row["pk"], "amt": None})
        s["n"] += 1
        s["ts"] = max(s["ts"], row["timestamp"])
        s["id"] = max(s["id"], row["pk"])
        if agg.amount:
            amount = read_property(row["properties"], agg.amount, "number")
            if amount is not None:
                s["amt"] = (s["amt"] or 0.0) + amount
    if agg.function == "most_common":
        order = sorted(stats.items(), key=lambda kv: (-kv[1]["n"], -kv[1]["ts"].timestamp(), -kv[1]["id"]))
    else:

        def key(kv):
            amount = kv[1]["amt"]
            return (-kv[1]["n"], amount is None, -(amount or 0.0), kv[0])

        order = sorted(stats.items(), key=key)
    return [value for value, _ in order]
