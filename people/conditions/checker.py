"""JSON → condition tree, with path-precise errors (``and[1].filters[0].value: expected a number``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError

import people.conditions.attributes as attributes
from people.attributes import CONTACT_MOVED_ATTRIBUTES
from people.conditions.ast import (
    And,
    AttributeCondition,
    Condition,
    EventCondition,
    LastContactedCondition,
    ListCondition,
    Not,
    Or,
    Predicate,
    PropertyFilter,
    Window,
)
from people.conditions.operators import OPERATORS, OperandError, _date, _date_or_datetime, cast_operand
from people.conditions.sql import valid_path
from people.lastcontacted import ContactOperator

MAX_NODES = 200
MAX_DEPTH = 10
COUNT_OPS = ("eq", "lt", "lte", "gte", "gt")
WINDOW_TYPES = ("any", "within", "before", "between", "since")
UNITS = {"minutes": 60, "hours": 3600, "days": 86400}
PROPERTY_OPERATORS = {
    # An event property is untyped JSON: the operator and operand choose how it is read.
    "lt": "number",
    "lte": "number",
    "gt": "number",
    "gte": "number",
    "between": "number",
    "contains": "text",
    "not_contains": "text",
    "starts_with": "text",
    "ends_with": "text",
}


LIST_QUANTIFIERS = ("any", "all", "none", "count")


def _item_fields(key: str) -> dict[str, str]:
    """The typed fields of a list attribute's items (``item_schema``), as value types."""
    from people.models import AttributeDefinition

    definition = AttributeDefinition.objects.filter(key=key).only("item_schema").first()
    schema = definition.item_schema if definition is not None else []
    out = {}
    for spec in schema if isinstance(schema, list) else []:
        if isinstance(spec, dict) and isinstance(spec.get("key"), str):
            out[spec["key"]] = attributes.VALUE_TYPES.get(spec.get("type"), "text")
    return {k: ("text" if v == "list" else v) for k, v in out.items()}


@dataclass(frozen=True)
class ConditionIssue:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ConditionError(ValidationError):
    """Every problem found, each with the path of the offending part."""

    def __init__(self, issues: list[ConditionIssue]):
        self.issues = issues
        super().__init__([str(issue) for issue in issues], code="invalid_condition")


class _Checker:
    def __init__(self, resolve):
        self.issues: list[ConditionIssue] = []
        self.nodes = 0
        self.resolve = resolve

    def fail(self, path: str, message: str) -> None:
        self.issues.append(ConditionIssue(path, message))

    def node(self, data: Any, path: str, depth: int) -> Condition | None:
        self.nodes += 1
        if self.nodes == MAX_NODES + 1:
            self.fail(path, f"too many conditions (at most {MAX_NODES})")
        if depth > MAX_DEPTH:
            self.fail(path, f"nested too deeply (at most {MAX_DEPTH} levels)")
            return None
        if not isinstance(data, dict):
            self.fail(path, "expected an object")
            return None
        kinds = [k for k in ("and", "or", "not", "attribute", "event", "last_contacted") if k in data]
        if len(kinds) != 1:
            self.fail(path, "expected exactly one of: and, or, not, attribute, event, last_contacted")
            return None
        kind = kinds[0]
        if kind in ("and", "or"):
            items = data[kind]
            if not isinstance(items, list):
                self.fail(f"{path}.{kind}".lstrip("."), "expected a list of conditions")
                return None
            children = [
                self.node(c, f"{path}.{kind}[{i}]".lstrip("."), depth + 1) for i, c in enumerate(items)
            ]
            if any(c is None for c in children):
                return None
            return (And if kind == "and" else Or)(tuple(children))
        if kind == "not":
            child = self.node(data["not"], f"{path}.not".lstrip("."), depth + 1)
            return Not(child) if child is not None else None
        if kind == "attribute":
            return self.attribute(data, path)
        if kind == "event":
            return self.event(data, path)
        return self.last_contacted(data, path)

    def _at(self, path: str, key: str) -> str:
        return f"{path}.{key}" if path else key

    def attribute(self, data: dict, path: str) -> Condition | None:
        key = data.get("attribute")
        if not isinstance(key, str) or not key:
            self.fail(self._at(path, "attribute"), "expected an attribute key")
            return None
        ref = self.resolve(key)
        if ref is None:
            self.fail(self._at(path, "attribute"), f"unknown attribute {key!r}")
            return None
        if ref.value_type == "list" and data.get("op") in LIST_QUANTIFIERS:
            return self.list_condition(ref, data, path)
        predicate = self.predicate(ref.value_type, data, path)
        return AttributeCondition(key, predicate) if predicate else None

    def predicate(self, value_type: str, data: dict, path: str) -> Predicate | None:
        op = data.get("op")
        if op not in OPERATORS.get(value_type, ()):
            allowed = ", ".join(OPERATORS.get(value_type, ()))
            self.fail(
                self._at(path, "op"), f"unknown operator {op!r} for {value_type}; expected one of: {allowed}"
            )
            return None
        try:
            value = cast_operand(value_type, op, data.get("value"))
        except OperandError as exc:
            self.fail(self._at(path, "value"), str(exc))
            return None
        return Predicate(value_type, op, value)

    def property_predicate(self, data: dict, path: str) -> Predicate | None:
        op = data.get("op")
        value = data.get("value")
        value_type = PROPERTY_OPERATORS.get(op)
        if value_type is None:
            if op in ("is_empty", "is_not_empty"):
                value_type = "text"
            elif isinstance(value, bool):
                value_type = "boolean"
            elif isinstance(value, int | float) or (
                isinstance(value, list)
                and value
                and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
            ):
                value_type = "number"
            else:
                value_type = "text"
        return self.predicate(value_type, data, path)

    def event(self, data: dict, path: str) -> Condition | None:
        ok = True
        name = data.get("event")
        if not isinstance(name, str) or not name.strip():
            self.fail(self._at(path, "event"), "expected an event name")
            ok = False
        channel = data.get("channel", "") or ""
        if not isinstance(channel, str):
            self.fail(self._at(path, "channel"), "expected a channel key")
            ok = False
        filters = self.filters(data.get("filters", []), self._at(path, "filters"))
        ok = ok and filters is not None
        count = data.get("count", {"op": "gte", "value": 1})
        count_op, count_value = "gte", 1
        if not isinstance(count, dict) or count.get("op") not in COUNT_OPS:
            self.fail(self._at(path, "count.op"), f"expected one of: {', '.join(COUNT_OPS)}")
            ok = False
        else:
            count_op, count_value = count["op"], count.get("value")
            if isinstance(count_value, bool) or not isinstance(count_value, int) or count_value < 0:
                self.fail(self._at(path, "count.value"), "expected a whole number ≥ 0")
                ok = False
        window = self.window(data.get("window", {"type": "any"}), self._at(path, "window"))
        if not ok or window is None:
            return None
        return EventCondition(
            name=name.strip(),
            filters=filters,
            count_op=count_op,
            count=count_value,
            window=window,
            channel=channel,
        )

    def filters(self, items: Any, path: str) -> tuple[PropertyFilter, ...] | None:
        return self._filter_list(
            items,
            path,
            what="property filters",
            key="property",
            expected="expected a property name (use dots for nested keys)",
            predicate=lambda item, keys, at: self.property_predicate(item, at),
        )

    def _filter_list(
        self,
        items: Any,
        path: str,
        *,
        what: str,
        key: str,
        expected: str,
        predicate: Callable[[dict, tuple[str, ...], str], Predicate | None],
    ) -> tuple[PropertyFilter, ...] | None:
        """``items``, a list of objects each naming a dotted ``key`` (``expected`` where it does not),
        as filters whose predicates ``predicate(item, keys, at)`` checks; None (after failing) at the
        first bad item."""
        if not isinstance(items, list):
            self.fail(path, f"expected a list of {what}")
            return None
        out = []
        for i, item in enumerate(items):
            at = f"{path}[{i}]"
            keys = self._dotted_name(item, at, key, expected)
            checked = None if keys is None else predicate(item, keys, at)
            if checked is None:
                return None
            out.append(PropertyFilter(keys, checked))
        return tuple(out)

    def _dotted_name(self, item: Any, at: str, key: str, expected: str) -> tuple[str, ...] | None:
        """``item[key]``, a dotted name, as a path of keys; None (after failing) where ``item`` is not
        an object or the name is not a valid path."""
        if not isinstance(item, dict):
            self.fail(at, "expected an object")
            return None
        name = item.get(key)
        keys = tuple(name.split(".")) if isinstance(name, str) else ()
        if not valid_path(keys):
            self.fail(f"{at}.{key}", expected)
            return None
        return keys

    def window(self, data: Any, path: str) -> Window | None:
        if not isinstance(data, dict) or data.get("type", "any") not in WINDOW_TYPES:
            self.fail(self._at(path, "type"), f"expected one of: {', '.join(WINDOW_TYPES)}")
            return None
        kind = data.get("type", "any")
        if kind == "any":
            return Window()
        if kind == "since":
            try:
                since = _date_or_datetime(data.get("value"))
            except OperandError:
                self.fail(self._at(path, "value"), "expected a date (YYYY-MM-DD) or an ISO 8601 date-time")
                return None
            return Window("since", since=since)
        unit = data.get("unit", "days")
        if unit not in UNITS:
            self.fail(self._at(path, "unit"), f"expected one of: {', '.join(UNITS)}")
            return None
        start = data.get("value")
        if isinstance(start, bool) or not isinstance(start, int) or start < 0:
            self.fail(self._at(path, "value"), "expected a whole number ≥ 0")
            return None
        end = 0
        if kind == "between":
            end = data.get("end")
            if isinstance(end, bool) or not isinstance(end, int) or end <= start:
                self.fail(self._at(path, "end"), "expected a whole number greater than value")
                return None
        return Window(kind, start, end, unit)

    def list_condition(self, ref, data: dict, path: str) -> Condition | None:
        """``any``/``all``/``none`` items match ``where``, or ``count`` of the matching items."""
        fields = _item_fields(ref.key)

        def field_predicate(item: dict, keys: tuple[str, ...], at: str) -> Predicate | None:
            if fields and keys[0] not in fields:
                known = ", ".join(sorted(fields))
                self.fail(
                    f"{at}.field", f"unknown field {item['field']!r} of {ref.key!r}; its fields are: {known}"
                )
                return None
            if fields and len(keys) == 1:
                return self.predicate(fields[keys[0]], item, at)
            return self.property_predicate(item, at)

        filters = self._filter_list(
            data.get("where", []),
            self._at(path, "where"),
            what="conditions on the items' fields",
            key="field",
            expected="expected a field name",
            predicate=field_predicate,
        )
        if filters is None:
            return None
        op, count_op, count = data["op"], "gte", 1
        if op == "count":
            spec = data.get("count")
            if not isinstance(spec, dict) or spec.get("op") not in COUNT_OPS:
                self.fail(self._at(path, "count.op"), f"expected one of: {', '.join(COUNT_OPS)}")
                return None
            count_op, count = spec["op"], spec.get("value")
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                self.fail(self._at(path, "count.value"), "expected a whole number ≥ 0")
                return None
        return ListCondition(ref.key, op, filters, count_op, count)

    def last_contacted(self, data: dict, path: str) -> Condition | None:
        spec = data.get("last_contacted")
        at = self._at(path, "last_contacted")
        if not isinstance(spec, dict):
            self.fail(at, "expected an object with op, value and an optional channel")
            return None
        try:
            op = ContactOperator(spec.get("op"))
        except ValueError:
            self.fail(f"{at}.op", f"expected one of: {', '.join(o.value for o in ContactOperator)}")
            return None
        value = spec.get("value")
        try:
            if op in (ContactOperator.MORE_THAN, ContactOperator.LESS_THAN, ContactOperator.EXACTLY):
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise OperandError("expected a whole number of days ≥ 0")
            elif op in (ContactOperator.BEFORE, ContactOperator.AFTER):
                value = _date_or_datetime(value)
                if not isinstance(value, datetime):
                    raise OperandError("expected an ISO 8601 date-time with a timezone")
            elif op is ContactOperator.ON:
                value = _date(value)
            else:
                value = None
        except OperandError as exc:
            self.fail(f"{at}.value", str(exc))
            return None
        channel = spec.get("channel", "") or ""
        if not isinstance(channel, str):
            self.fail(f"{at}.channel", "expected a channel key")
            return None
        return LastContactedCondition(op.value, value, channel)


def check(data: Any, *, resolve=None) -> Condition:
    """Validate a JSON condition and return its tree; raises ``ConditionError`` listing every issue."""
    checker = _Checker(resolve or attributes.resolve)
    tree = checker.node(data, "", 0)
    if checker.issues or tree is None:
        raise ConditionError(checker.issues or [ConditionIssue("", "invalid condition")])
    return tree


def references(tree: Condition) -> set[str]:
    """Attribute keys a condition names (for dependency tracking and where-used)."""
    if isinstance(tree, And | Or):
        return set().union(*(references(c) for c in tree.children)) if tree.children else set()
    if isinstance(tree, Not):
        return references(tree.child)
    if isinstance(tree, AttributeCondition | ListCondition):
        return {tree.key}
    return set()


def event_names(tree: Condition) -> set[str]:
    if isinstance(tree, And | Or):
        return set().union(*(event_names(c) for c in tree.children)) if tree.children else set()
    if isinstance(tree, Not):
        return event_names(tree.child)
    if isinstance(tree, EventCondition):
        return {tree.name}
    return set()


def reads_last_contacted(tree: Condition) -> bool:
    """Whether recording a contact can change the result: a ``last_contacted`` condition (overall or
    on a channel) or a condition on the ``last_contacted_at`` attribute."""
    if isinstance(tree, And | Or):
        return any(reads_last_contacted(c) for c in tree.children)
    if isinstance(tree, Not):
        return reads_last_contacted(tree.child)
    if isinstance(tree, LastContactedCondition):
        return True
    return bool(references(tree) & CONTACT_MOVED_ATTRIBUTES)


def has_sliding_window(tree: Condition) -> bool:
    """Whether the result can change with time alone (re-evaluated daily)."""
    if isinstance(tree, And | Or):
        return any(has_sliding_window(c) for c in tree.children)
    if isinstance(tree, Not):
        return has_sliding_window(tree.child)
    if isinstance(tree, EventCondition):
        return tree.window.type not in ("any", "since")
    if isinstance(tree, LastContactedCondition):
        return tree.op in ("more_than", "less_than", "exactly")
    if isinstance(tree, AttributeCondition):
        return tree.predicate.op in ("within_last_days", "more_than_days_ago", "within_next_days")
    if isinstance(tree, ListCondition):
        return any(
            f.predicate.op in ("within_last_days", "more_than_days_ago", "within_next_days")
            for f in tree.filters
        )
    return False
