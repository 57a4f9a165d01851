"""Typed operators: their operands (checked and cast), their SQL form and their Python form.

Both forms take the same ``now`` and timezone, so a compiled filter and a single-profile check
agree. Semantics:

- text matching is case-insensitive; ``not_equals``/``not_contains``/``not_in`` also match empty;
- ``between`` is inclusive at both ends (for dates: whole days);
- date-time ``before`` a date means before that day starts, ``after`` a date means after it ends,
  ``on`` is a calendar day in the organization's timezone;
- ``within_last_days N``: from N×24 h ago (N days before today, for dates) up to now (today);
  ``more_than_days_ago N``: earlier than that.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Q, TextField, Value
from django.db.models import lookups as L
from django.db.models.functions import NullIf
from django.utils.dateparse import parse_date, parse_datetime

from people.lastcontacted import day_bounds

DAY = timedelta(hours=24)

OPERATORS: dict[str, tuple[str, ...]] = {
    "text": (
        "equals",
        "not_equals",
        "contains",
        "not_contains",
        "starts_with",
        "ends_with",
        "in",
        "not_in",
        "is_empty",
        "is_not_empty",
    ),
    "number": (
        "equals",
        "not_equals",
        "lt",
        "lte",
        "gt",
        "gte",
        "between",
        "in",
        "not_in",
        "is_empty",
        "is_not_empty",
    ),
    "boolean": ("equals", "is_empty", "is_not_empty"),
    "date": (
        "equals",
        "on",
        "before",
        "after",
        "between",
        "within_last_days",
        "more_than_days_ago",
        "within_next_days",
        "is_empty",
        "is_not_empty",
    ),
    # any/all/none/count take item conditions ("where"); see checker.list_condition.
    "list": ("is_empty", "is_not_empty", "any", "all", "none", "count"),
}
OPERATORS["datetime"] = OPERATORS["date"]
NO_OPERAND = {"is_empty", "is_not_empty"}
NEGATED = {"not_equals": "equals", "not_contains": "contains", "not_in": "in"}


class OperandError(ValueError):
    pass


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise OperandError(f"expected a number; got {value!r}")
    return float(value)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise OperandError(f"expected text; got {value!r}")
    return value


def _date(value: Any) -> date:
    try:
        parsed = parse_date(value) if isinstance(value, str) and len(value) == 10 else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise OperandError(f"expected a date (YYYY-MM-DD); got {value!r}")
    return parsed


def _date_or_datetime(value: Any) -> date | datetime:
    if isinstance(value, str) and len(value) == 10:
        return _date(value)
    parsed = None
    if isinstance(value, str):
        try:
            parsed = parse_datetime(value.replace("Z", "+00:00"))
        except ValueError:
            parsed = None
    if parsed is None:
        raise OperandError(f"expected a date or an ISO 8601 date-time; got {value!r}")
    if parsed.tzinfo is None:
        raise OperandError(f"the date-time {value!r} needs a timezone (e.g. 'Z')")
    return parsed


def _days(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise OperandError(f"expected a whole number of days ≥ 0; got {value!r}")
    return value


def cast_operand(value_type: str, op: str, value: Any) -> Any:
    """Check and cast the operand of ``op`` on a ``value_type`` (raises ``OperandError``)."""
    if op not in OPERATORS.get(value_type, ()):
        allowed = ", ".join(OPERATORS.get(value_type, ()))
        raise OperandError(f"operator {op!r} does not apply to {value_type}; use one of: {allowed}")
    if op in NO_OPERAND:
        return None
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not value or len(value) > 1000:
            raise OperandError("expected a non-empty list (at most 1000 values)")
        return tuple(_number(v) if value_type == "number" else _text(v) for v in value)
    if op == "between":
        if not isinstance(value, list) or len(value) != 2:
            raise OperandError("expected a list of two bounds [low, high]")
        cast = tuple(cast_operand(value_type, "equals" if value_type == "number" else "on", v) for v in value)
        if cast[0] > cast[1]:
            raise OperandError("the low bound is above the high bound")
        return cast
    if op in ("within_last_days", "more_than_days_ago", "within_next_days"):
        return _days(value)
    if value_type == "number":
        return _number(value)
    if value_type == "text":
        return _text(value)
    if value_type == "boolean":
        if not isinstance(value, bool):
            raise OperandError(f"expected true or false; got {value!r}")
        return value
    # date / datetime
    if op in ("equals", "on") or value_type == "date":
        operand = _date(value) if value_type == "date" or op == "on" else _date_or_datetime(value)
        return operand
    return _date_or_datetime(value)


# ---------------------------------------------------------------- SQL


def _bounds_of_day(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    return day_bounds(day, tz)


def predicate_q(expr, value_type: str, op: str, value: Any, *, now: datetime, tz: ZoneInfo) -> Q:
    """A Q (boolean expression) applying one operator to an ORM expression.

    Never NULL: an empty value makes a positive operator false (not unknown), so NOT works as in Python.
    Text is empty when it is NULL or '' (as ``predicate_matches`` sees it).
    """
    if value_type == "text":
        expr = NullIf(expr, Value(""), output_field=TextField())
    if op in NO_OPERAND or op in NEGATED:
        return _predicate_q(expr, value_type, op, value, now=now, tz=tz)
    return Q(L.IsNull(expr, False)) & _predicate_q(expr, value_type, op, value, now=now, tz=tz)


def _predicate_q(expr, value_type: str, op: str, value: Any, *, now: datetime, tz: ZoneInfo) -> Q:
    if op in NO_OPERAND:
        empty = Q(L.IsNull(expr, True))
        return empty if op == "is_empty" else ~empty
    if op in NEGATED:
        positive = _predicate_q(expr, value_type, NEGATED[op], value, now=now, tz=tz)
        return Q(L.IsNull(expr, True)) | ~(Q(L.IsNull(expr, False)) & positive)
    if value_type == "text":
        if op == "equals":
            return Q(L.IExact(expr, value))
        if op == "contains":
            return Q(L.IContains(expr, value))
        if op == "starts_with":
            return Q(L.IStartsWith(expr, value))
        if op == "ends_with":
            return Q(L.IEndsWith(expr, value))
        if op == "in":
            q = Q(pk__in=[])
            for item in value:
                q |= Q(L.IExact(expr, item))
            return q
    if value_type in ("number", "boolean"):
        simple = {
            "equals": L.Exact,
            "lt": L.LessThan,
            "lte": L.LessThanOrEqual,
            "gt": L.GreaterThan,
            "gte": L.GreaterThanOrEqual,
        }
        if op in simple:
            return Q(simple[op](expr, value))
        if op == "in":
            return Q(L.In(expr, list(value)))
        if op == "between":
            return Q(L.GreaterThanOrEqual(expr, value[0])) & Q(L.LessThanOrEqual(expr, value[1]))
    if value_type in ("date", "datetime"):
        low, high = date_range(value_type, op, value, now=now, tz=tz)
        q = Q()
        if low is not None:
            q &= Q(L.GreaterThanOrEqual(expr, Value(low)))
        if high is not None:
            q &= Q(L.LessThan(expr, Value(high)))
        return q
    raise ValueError(f"unsupported operator {op!r} on {value_type}")


def date_range(value_type: str, op: str, value: Any, *, now: datetime, tz: ZoneInfo):
    """The half-open range [low, high) an operator on a date or date-time selects (None: open)."""
    today = now.astimezone(tz).date()
    if value_type == "date":
        one = timedelta(days=1)
        if op in ("equals", "on"):
            return value, value + one
        if op == "before":
            return None, value
        if op == "after":
            return value + one, None
        if op == "between":
            return value[0], value[1] + one
        if op == "within_last_days":
            return today - timedelta(days=value), today + one
        if op == "more_than_days_ago":
            return None, today - timedelta(days=value)
        if op == "within_next_days":
            return today, today + timedelta(days=value) + one
    else:

        def start(v):
            return day_bounds(v, tz)[0] if not isinstance(v, datetime) else v

        def end(v):
            return day_bounds(v, tz)[1] if not isinstance(v, datetime) else v + timedelta(microseconds=1)

        if op == "on" or (op == "equals" and not isinstance(value, datetime)):
            return day_bounds(value, tz)
        if op == "equals":
            return value, value + timedelta(microseconds=1)
        if op == "before":
            return None, start(value)
        if op == "after":
            return end(value), None
        if op == "between":
            return start(value[0]), end(value[1])
        if op == "within_last_days":
            return now - value * DAY, now + timedelta(microseconds=1)
        if op == "more_than_days_ago":
            return None, now - value * DAY
        if op == "within_next_days":
            return now, now + value * DAY + timedelta(microseconds=1)
    raise ValueError(f"unsupported operator {op!r} on {value_type}")


# ---------------------------------------------------------------- Python


def predicate_matches(
    actual: Any, value_type: str, op: str, value: Any, *, now: datetime, tz: ZoneInfo
) -> bool:
    """The same operator on one Python value (``None`` is empty)."""
    if actual == "":
        actual = None
    if op == "is_empty":
        return actual is None or actual == []
    if op == "is_not_empty":
        return not (actual is None or actual == [])
    if op in NEGATED:
        return actual is None or not predicate_matches(actual, value_type, NEGATED[op], value, now=now, tz=tz)
    if actual is None:
        return False
    if value_type == "text":
        text = str(actual).upper()
        if op == "equals":
            return text == value.upper()
        if op == "contains":
            return value.upper() in text
        if op == "starts_with":
            return text.startswith(value.upper())
        if op == "ends_with":
            return text.endswith(value.upper())
        if op == "in":
            return text in {v.upper() for v in value}
    if value_type in ("number", "boolean"):
        if op == "equals":
            return actual == value
        if op == "lt":
            return actual < value
        if op == "lte":
            return actual <= value
        if op == "gt":
            return actual > value
        if op == "gte":
            return actual >= value
        if op == "in":
            return actual in value
        if op == "between":
            return value[0] <= actual <= value[1]
    if value_type in ("date", "datetime"):
        if value_type == "datetime" and not isinstance(actual, datetime):
            return False
        low, high = date_range(value_type, op, value, now=now, tz=tz)
        return (low is None or actual >= low) and (high is None or actual < high)
    raise ValueError(f"unsupported operator {op!r} on {value_type}")
