"""The condition tree as frozen dataclasses (what the checker returns and both engines consume).

JSON form (stored on audiences, scoring rules, action targeting)::

    {"and": [c, ...]}  {"or": [c, ...]}  {"not": c}
    {"attribute": "country", "op": "equals", "value": "DE"}
    {"event": "Order Completed", "channel": "web",
     "filters": [{"property": "amount", "op": "gte", "value": 10}],
     "count": {"op": "gte", "value": 2},
     "window": {"type": "within", "value": 30, "unit": "days"}}
    {"last_contacted": {"op": "more_than", "value": 7, "channel": "email"}}
    {"attribute": "loans", "op": "any",
     "where": [{"field": "due_date", "op": "within_next_days", "value": 7}]}
    {"attribute": "loans", "op": "count", "where": [], "count": {"op": "gte", "value": 2}}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class And:
    children: tuple[Condition, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    child: Condition


@dataclass(frozen=True)
class Predicate:
    """A typed operator with its operand(s), already cast to Python values (dates parsed)."""

    type: str  # "text" | "number" | "boolean" | "date" | "datetime" | "list"
    op: str
    value: Any = None


@dataclass(frozen=True)
class AttributeCondition:
    key: str
    predicate: Predicate


@dataclass(frozen=True)
class PropertyFilter:
    path: tuple[str, ...]
    predicate: Predicate


@dataclass(frozen=True)
class Window:
    """Relative to now: any time; within the last X; before the last X; between the last X and Y;
    or since a date."""

    type: str = "any"  # any | within | before | between | since
    start: int = 0  # X (the nearer bound)
    end: int = 0  # Y for "between" (the farther bound)
    unit: str = "days"  # minutes | hours | days (a day is 24 h)
    since: Any = None  # for "since": a date (from its start in the organization's timezone) or a date-time


@dataclass(frozen=True)
class EventCondition:
    name: str
    filters: tuple[PropertyFilter, ...] = ()
    count_op: str = "gte"
    count: int = 1
    window: Window = Window()
    channel: str = ""


@dataclass(frozen=True)
class ListCondition:
    """A list attribute (a person's loans, policies, cart items): ``any``/``all``/``none`` of its items
    match ``filters`` (on the items' fields), or ``count`` of the matching items compared to a number."""

    key: str
    quantifier: str  # any | all | none | count
    filters: tuple[PropertyFilter, ...] = ()
    count_op: str = "gte"
    count: int = 1


@dataclass(frozen=True)
class LastContactedCondition:
    op: str
    value: Any = None
    channel: str = ""


Condition = And | Or | Not | AttributeCondition | EventCondition | ListCondition | LastContactedCondition
