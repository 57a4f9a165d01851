"""Formula AST → typed, checked formula: names resolved, argument counts and types checked.

Every error names its column. Types: integer, number, text, boolean, date, datetime (an integer
is a number). Attribute references resolve through the people.conditions attribute registry, so
standard, system, custom and computed attributes are all available.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from django.utils.dateparse import parse_date, parse_datetime

from computed.lang.ast import Binary, Boolean, Call, Node, Number, Ref, String, Unary
from computed.lang.parser import FormulaError, parse
from people.conditions import attributes
from people.conditions.attributes import AttributeRef
from people.models import AttributeType

NUMERIC = ("integer", "number")
MAX_NODES = 500
DATE_UNITS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400, "weeks": 604800}

ATTRIBUTE_TYPES = {
    AttributeType.TEXT: "text",
    AttributeType.DECIMAL: "number",
    AttributeType.INTEGER: "integer",
    AttributeType.BOOLEAN: "boolean",
    AttributeType.DATE: "date",
    AttributeType.DATETIME: "datetime",
}
OUTPUT_TYPES = {
    "text": AttributeType.TEXT,
    "number": AttributeType.DECIMAL,
    "integer": AttributeType.INTEGER,
    "boolean": AttributeType.BOOLEAN,
    "date": AttributeType.DATE,
    "datetime": AttributeType.DATETIME,
}


@dataclass(frozen=True)
class Function:
    name: str
    signature: str  # shown in errors and suggestions
    min_args: int
    max_args: int | None
    description: str


FUNCTIONS: dict[str, Function] = {
    f.name: f
    for f in [
        Function("round", "round(x, digits)", 1, 2, "x rounded half away from zero to digits (default 0)"),
        Function("floor", "floor(x)", 1, 1, "the largest whole number ≤ x"),
        Function("ceil", "ceil(x)", 1, 1, "the smallest whole number ≥ x"),
        Function("abs", "abs(x)", 1, 1, "the absolute value of x"),
        Function("min", "min(a, b, ...)", 2, None, "the smallest of its arguments (numbers or dates)"),
        Function("max", "max(a, b, ...)", 2, None, "the largest of its arguments (numbers or dates)"),
        Function("if", "if(condition, then, else)", 3, 3, "then when condition is true, else otherwise"),
        Function("coalesce", "coalesce(a, b, ...)", 2, None, "the first argument that is not empty"),
        Function("concat", "concat(a, b, ...)", 2, None, "texts (or whole numbers) joined"),
        Function("lower", "lower(text)", 1, 1, "text in lower case"),
        Function("upper", "upper(text)", 1, 1, "text in upper case"),
        Function("length", "length(text)", 1, 1, "the number of characters"),
        Function("contains", "contains(text, part)", 2, 2, "whether text contains part (case-sensitive)"),
        Function("now", "now()", 0, 0, "the current date and time"),
        Function("today", "today()", 0, 0, "today's date in the organization's timezone"),
        Function("date_diff", "date_diff('days', a, b)", 3, 3, "b − a in whole units (seconds … weeks)"),
        Function("add_days", "add_days(d, n)", 2, 2, "a date or date-time n days later"),
        Function("year", "year(d)", 1, 1, "the year (organization timezone for date-times)"),
        Function("month", "month(d)", 1, 1, "the month 1–12"),
        Function("day", "day(d)", 1, 1, "the day of the month"),
        Function("days_since", "days_since(d)", 1, 1, "whole days from d until today (now for date-times)"),
        Function("date", "date('YYYY-MM-DD')", 1, 1, "a date literal"),
        Function("datetime", "datetime('YYYY-MM-DDTHH:MM:SSZ')", 1, 1, "a date-time literal"),
    ]
}


@dataclass
class CheckedFormula:
    text: str
    tree: Node
    types: dict[int, str]  # id(node) -> type
    refs: dict[str, AttributeRef] = field(default_factory=dict)
    literals: dict[int, object] = field(default_factory=dict)  # id(date/datetime call) -> value

    @property
    def type(self) -> str:
        return self.types[id(self.tree)]

    @property
    def output_type(self) -> str:
        return OUTPUT_TYPES[self.type]

    def type_of(self, node: Node) -> str:
        return self.types[id(node)]

    @property
    def uses_time(self) -> bool:
        """Whether the value can change with time alone (now(), today(), days_since ...)."""
        return _uses_time(self.tree)


def _uses_time(node: Node) -> bool:
    if isinstance(node, Call):
        if node.name in ("now", "today", "days_since"):
            return True
        return any(_uses_time(a) for a in node.args)
    if isinstance(node, Unary):
        return _uses_time(node.operand)
    if isinstance(node, Binary):
        return _uses_time(node.left) or _uses_time(node.right)
    return False


def _describe(t: str) -> str:
    return {
        "integer": "a whole number",
        "number": "a number",
        "text": "text",
        "boolean": "true/false",
        "date": "a date",
        "datetime": "a date-time",
    }[t]


class _Checker:
    def __init__(self, text: str, resolve: Callable[[str], AttributeRef | None]):
        self.text = text
        self.resolve = resolve
        self.types: dict[int, str] = {}
        self.refs: dict[str, AttributeRef] = {}
        self.literals: dict[int, object] = {}
        self.nodes = 0

    def fail(self, node: Node, message: str):
        raise FormulaError(message, node.pos)

    def set(self, node: Node, t: str) -> str:
        self.types[id(node)] = t
        return t

    def expect(self, node: Node, allowed: tuple[str, ...], what: str) -> str:
        t = self.check(node)
        if t not in allowed:
            self.fail(
                node, f"{what} expects {' or '.join(_describe(a) for a in allowed)}; got {_describe(t)}"
            )
        return t

    def check(self, node: Node) -> str:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            self.fail(node, f"the formula is too large (at most {MAX_NODES} parts)")
        if isinstance(node, Number):
            return self.set(node, "integer" if float(node.value).is_integer() else "number")
        if isinstance(node, String):
            return self.set(node, "text")
        if isinstance(node, Boolean):
            return self.set(node, "boolean")
        if isinstance(node, Ref):
            ref = self.refs.get(node.key) or self.resolve(node.key)
            if ref is None:
                hint = f"; did you mean the function {node.key}()?" if node.key.lower() in FUNCTIONS else ""
                self.fail(node, f"unknown attribute {node.key!r}{hint}")
            if ref.type not in ATTRIBUTE_TYPES:
                self.fail(node, f"attribute {node.key!r} is a list and cannot be used in a formula")
            self.refs[node.key] = ref
            return self.set(node, ATTRIBUTE_TYPES[ref.type])
        if isinstance(node, Unary):
            if node.op == "-":
                return self.set(node, self.expect(node.operand, NUMERIC, "'-'"))
            self.expect(node.operand, ("boolean",), "'not'")
            return self.set(node, "boolean")
        if isinstance(node, Binary):
            return self.set(node, self.binary(node))
        if isinstance(node, Call):
            return self.set(node, self.call(node))
        raise TypeError(node)

    def binary(self, node: Binary) -> str:
        op = node.op
        if op in ("and", "or"):
            self.expect(node.left, ("boolean",), f"'{op}'")
            self.expect(node.right, ("boolean",), f"'{op}'")
            return "boolean"
        if op in ("+", "-", "*", "/", "%"):
            left = self.expect(node.left, NUMERIC, f"'{op}'")
            right = self.expect(node.right, NUMERIC, f"'{op}'")
            if op == "/":
                return "number"
            return "integer" if left == right == "integer" else "number"
        left = self.check(node.left)
        right = self.check(node.right)
        if not (left == right or (left in NUMERIC and right in NUMERIC)):
            self.fail(node, f"cannot compare {_describe(left)} with {_describe(right)}")
        if op not in ("=", "!=") and left == "boolean":
            self.fail(node, f"'{op}' does not apply to true/false; use = or !=")
        return "boolean"

    def call(self, node: Call) -> str:
        fn = FUNCTIONS.get(node.name)
        if fn is None:
            known = ", ".join(sorted(FUNCTIONS))
            self.fail(node, f"unknown function {node.name!r}; known functions: {known}")
        n = len(node.args)
        if n < fn.min_args or (fn.max_args is not None and n > fn.max_args):
            if fn.min_args == fn.max_args:
                count = f"{fn.min_args} argument{'s' if fn.min_args != 1 else ''}"
            elif fn.max_args is None:
                count = f"at least {fn.min_args} arguments"
            else:
                count = f"{fn.min_args} to {fn.max_args} arguments"
            self.fail(node, f"{fn.name}() takes {count}; got {n} (usage: {fn.signature})")
        name, args = node.name, node.args
        what = f"{name}()"
        if name in ("date", "datetime"):
            arg = args[0]
            if not isinstance(arg, String):
                self.fail(arg, f"{what} expects a quoted literal such as {fn.signature}")
            value = self._date_literal(name, arg)
            self.literals[id(node)] = value
            self.set(arg, "text")
            return name
        if name == "round":
            t = self.expect(args[0], NUMERIC, what)
            if len(args) == 2:
                digits = args[1]
                if (
                    not isinstance(digits, Number)
                    or not float(digits.value).is_integer()
                    or not 0 <= digits.value <= 10
                ):
                    self.fail(digits, "round() expects its digits as a whole number from 0 to 10")
                self.set(digits, "integer")
                return "integer" if digits.value == 0 else "number"
            return "integer"
        if name in ("floor", "ceil"):
            self.expect(args[0], NUMERIC, what)
            return "integer"
        if name == "abs":
            return self.expect(args[0], NUMERIC, what)
        if name in ("min", "max"):
            types = [self.expect(a, (*NUMERIC, "date", "datetime"), what) for a in args]
            return self._common(node, types, what)
        if name == "if":
            self.expect(args[0], ("boolean",), "if() condition")
            return self._common(node, [self.check(args[1]), self.check(args[2])], what)
        if name == "coalesce":
            return self._common(node, [self.check(a) for a in args], what)
        if name == "concat":
            for a in args:
                self.expect(a, ("text", "integer"), what)
            return "text"
        if name in ("lower", "upper"):
            self.expect(args[0], ("text",), what)
            return "text"
        if name == "length":
            self.expect(args[0], ("text",), what)
            return "integer"
        if name == "contains":
            self.expect(args[0], ("text",), what)
            self.expect(args[1], ("text",), what)
            return "boolean"
        if name == "now":
            return "datetime"
        if name == "today":
            return "date"
        if name == "date_diff":
            unit = args[0]
            if not isinstance(unit, String) or unit.value not in DATE_UNITS:
                self.fail(
                    unit, f"date_diff() expects its unit as one of: {', '.join(repr(u) for u in DATE_UNITS)}"
                )
            self.set(unit, "text")
            self.expect(args[1], ("date", "datetime"), what)
            self.expect(args[2], ("date", "datetime"), what)
            return "integer"
        if name == "add_days":
            t = self.expect(args[0], ("date", "datetime"), what)
            self.expect(args[1], ("integer",), what)
            return t
        if name in ("year", "month", "day", "days_since"):
            self.expect(args[0], ("date", "datetime"), what)
            return "integer"
        raise AssertionError(name)

    def _common(self, node: Call, types: list[str], what: str) -> str:
        if all(t in NUMERIC for t in types):
            return "integer" if all(t == "integer" for t in types) else "number"
        if len(set(types)) != 1:
            shown = ", ".join(_describe(t) for t in types)
            self.fail(node, f"{what} expects arguments of one type; got {shown}")
        return types[0]

    def _date_literal(self, kind: str, arg: String):
        text = arg.value.strip()
        try:
            if kind == "date":
                value = parse_date(text) if len(text) == 10 else None
            else:
                value = parse_datetime(text.replace("Z", "+00:00"))
                if value is not None and value.tzinfo is None:
                    value = value.replace(tzinfo=UTC)
                if value is not None:
                    value = value.astimezone(UTC)  # in range as a UTC time, like PostgreSQL's reads
        except (ValueError, OverflowError):
            value = None
        if value is None:
            expected = (
                "YYYY-MM-DD" if kind == "date" else "an ISO 8601 date-time such as 2024-01-31T09:30:00Z"
            )
            self.fail(arg, f"{kind}() expects {expected}; got {arg.value!r}")
        return value


def check_formula(
    text: str, *, resolve: Callable[[str], AttributeRef | None] | None = None
) -> CheckedFormula:
    """Parse and check a formula; raises ``FormulaError`` (with the column) at the first problem."""
    tree = parse(text)
    checker = _Checker(text, resolve or attributes.resolve)
    checker.check(tree)
    return CheckedFormula(text, tree, checker.types, checker.refs, checker.literals)


__all__ = ["CheckedFormula", "FUNCTIONS", "FormulaError", "check_formula", "date", "datetime"]
