"""Condition tree → True/False for one profile in Python, with an explanation of how.

The twin of ``compiler.compile_q``: same ``now``, same operators, same windows (tests check they agree).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import people.conditions.attributes as attributes
from people.conditions import ast
from people.conditions.attributes import python_value
from people.conditions.compiler import count_matches, window_bounds
from people.conditions.operators import predicate_matches
from people.lastcontacted import contact_matches
from people.models import Event, Person, PersonChannelContact


@dataclass
class Evaluation:
    """Caches what one profile's evaluation reads, and records the explanation."""

    person: Person
    now: datetime
    tz: ZoneInfo
    steps: list[dict] = field(default_factory=list)
    _values: dict[str, Any] = field(default_factory=dict)
    _events: dict[str, list] = field(default_factory=dict)

    def value(self, key: str) -> Any:
        if key not in self._values:
            ref = attributes.resolve(key)
            if ref is None:
                raise LookupError(f"unknown attribute {key!r}")
            self._values.update(attributes.attribute_values(self.person, [ref]))
        return self._values[key]

    def events(self, name: str) -> list:
        if name not in self._events:
            self._events[name] = list(
                Event.objects.filter(person_id=self.person.pk, name=name)
                .order_by("timestamp", "pk")
                .values("pk", "timestamp", "properties", "channel__key")
            )
        return self._events[name]


def read_property(properties: Any, path: tuple[str, ...], value_type: str) -> Any:
    node = properties
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return python_value(value_type, node)


def in_span(moment: datetime, low: datetime | None, high: datetime | None) -> bool:
    """Whether ``moment`` is in [low, high) (an open end where a bound is None): ``span_q`` in Python."""
    return (low is None or moment >= low) and (high is None or moment < high)


def filters_match(properties: Any, filters, *, now: datetime, tz: ZoneInfo) -> bool:
    """Whether every property filter matches ``properties`` (of an event, or an item of a list):
    ``filters_q`` in Python."""
    return all(
        predicate_matches(
            read_property(properties, f.path, f.predicate.type),
            f.predicate.type,
            f.predicate.op,
            f.predicate.value,
            now=now,
            tz=tz,
        )
        for f in filters
    )


def matching_event_rows(cond: ast.EventCondition, ev: Evaluation) -> list[dict]:
    low, high = window_bounds(cond.window, ev.now, ev.tz)
    return [
        row
        for row in ev.events(cond.name)
        if (not cond.channel or row["channel__key"] == cond.channel)
        and in_span(row["timestamp"], low, high)
        and filters_match(row["properties"], cond.filters, now=ev.now, tz=ev.tz)
    ]


def evaluate(tree: ast.Condition, ev: Evaluation, *, record: bool = True) -> bool:
    """Whether ``ev.person`` matches ``tree``; appends explanation steps to ``ev.steps``."""
    if isinstance(tree, ast.And):
        return all([evaluate(c, ev, record=record) for c in tree.children])
    if isinstance(tree, ast.Or):
        return any([evaluate(c, ev, record=record) for c in tree.children])
    if isinstance(tree, ast.Not):
        return not evaluate(tree.child, ev, record=record)
    if isinstance(tree, ast.AttributeCondition):
        actual = ev.value(tree.key)
        p = tree.predicate
        result = predicate_matches(actual, p.type, p.op, p.value, now=ev.now, tz=ev.tz)
        if record:
            ev.steps.append(
                {
                    "kind": "attribute",
                    "attribute": tree.key,
                    "op": p.op,
                    "value": _show(p.value),
                    "actual": _show(actual),
                    "matched": result,
                }
            )
        return result
    if isinstance(tree, ast.EventCondition):
        rows = matching_event_rows(tree, ev)
        result = count_matches(len(rows), tree.count_op, tree.count)
        if record:
            ev.steps.append(
                {
                    "kind": "event",
                    "event": tree.name,
                    "count": len(rows),
                    "count_op": tree.count_op,
                    "count_value": tree.count,
                    "matched_event_ids": [r["pk"] for r in rows[:50]],
                    "matched": result,
                }
            )
        return result
    if isinstance(tree, ast.ListCondition):
        items = ev.person.custom.get(tree.key) if isinstance(ev.person.custom, dict) else None
        items = items if isinstance(items, list) else []
        hits = [i for i, item in enumerate(items) if filters_match(item, tree.filters, now=ev.now, tz=ev.tz)]
        if tree.quantifier == "any":
            result = bool(hits)
        elif tree.quantifier == "none":
            result = not hits
        elif tree.quantifier == "all":
            result = len(hits) == len(items)
        else:
            result = count_matches(len(hits), tree.count_op, tree.count)
        if record:
            ev.steps.append(
                {
                    "kind": "list",
                    "attribute": tree.key,
                    "op": tree.quantifier,
                    "items": len(items),
                    "matching_items": hits[:50],
                    "matched": result,
                }
            )
        return result
    if isinstance(tree, ast.LastContactedCondition):
        if tree.channel:
            contact = (
                PersonChannelContact.objects.filter(person_id=ev.person.pk, channel__key=tree.channel)
                .values_list("last_contacted_at", flat=True)
                .first()
            )
        else:
            contact = ev.person.last_contacted_at
        result = contact_matches(contact, tree.op, tree.value, now=ev.now, tz=ev.tz)
        if record:
            ev.steps.append(
                {
                    "kind": "last_contacted",
                    "channel": tree.channel,
                    "op": tree.op,
                    "value": _show(tree.value),
                    "actual": _show(contact),
                    "matched": result,
                }
            )
        return result
    raise TypeError(f"not a condition: {tree!r}")


def _show(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_show(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
