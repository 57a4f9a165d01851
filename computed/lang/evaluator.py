"""Checked formula → value for one profile, in Python (test on a profile; agreement tests).

Empty (None) anywhere gives empty, except ``coalesce`` (the explicit escape) and the branch ``if``
does not take. Division (and %) by zero gives empty, and so does a step that leaves the supported
range (a number overflowing float8, a date before year 1 or after 9999): the SQL compiler guards the
same steps the same way, and ``out_of_range`` records where it happened.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from computed.lang import runtime
from computed.lang.ast import Binary, Boolean, Call, Node, Number, Ref, String, Unary
from computed.lang.checker import CheckedFormula
from computed.lang.parser import FormulaError


class _Eval:
    def __init__(self, checked: CheckedFormula, values: dict[str, Any], now: datetime, tz: ZoneInfo):
        self.checked = checked
        self.values = values
        self.now = now
        self.tz = tz
        self.today = now.astimezone(tz).date()
        self.out_of_range: list[str] = []

    def empty(self, node: Node, what: str) -> None:
        reason = f"column {node.pos}: {what}"
        if reason not in self.out_of_range:
            self.out_of_range.append(reason)

    def ev(self, node: Node) -> Any:
        if isinstance(node, Number):
            return float(node.value)
        if isinstance(node, String):
            return node.value
        if isinstance(node, Boolean):
            return node.value
        if isinstance(node, Ref):
            value = self.values.get(node.key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                try:
                    number = runtime.finite(float(value))
                except OverflowError:
                    number = None
                if number is None:
                    self.empty(node, f"{node.key} is not a finite number")
                return number
            if value == "":
                return None
            return value
        if isinstance(node, Unary):
            operand = self.ev(node.operand)
            if operand is None:
                return None
            return -operand if node.op == "-" else not operand
        if isinstance(node, Binary):
            return self.binary(node)
        return self.call(node)

    def binary(self, node: Binary) -> Any:
        a = self.ev(node.left)
        b = self.ev(node.right)
        if a is None or b is None:
            return None
        op = node.op
        if op == "and":
            return bool(a and b)
        if op == "or":
            return bool(a or b)
        if op in ("+", "-", "*", "/", "%"):
            if b == 0 and op in ("/", "%"):
                return None
            if op == "+":
                result = runtime.finite(a + b)
            elif op == "-":
                result = runtime.finite(a - b)
            elif op == "*":
                result = runtime.finite(a * b)
            elif op == "/":
                result = runtime.finite(a / b)
            else:
                result = runtime.floored_mod(a, b)
            if result is None:
                self.empty(node, f"'{op}' gave a number too large for a float8")
            return result
        return {
            "=": a == b,
            "!=": a != b,
            "<": a < b,
            "<=": a <= b,
            ">": a > b,
            ">=": a >= b,
        }[op]

    def call(self, node: Call) -> Any:
        name = node.name
        if name in ("date", "datetime"):
            return self.checked.literals[id(node)]
        if name == "now":
            return self.now
        if name == "today":
            return self.today
        if name == "if":
            condition = self.ev(node.args[0])
            if condition is None:
                return None
            return self.ev(node.args[1] if condition else node.args[2])
        if name == "coalesce":
            for arg in node.args:
                value = self.ev(arg)
                if value is not None:
                    return value
            return None
        if name == "date_diff":
            a, b = self.ev(node.args[1]), self.ev(node.args[2])
            return None if a is None or b is None else runtime.date_diff(node.args[0].value, a, b)
        args = [self.ev(a) for a in node.args]
        if any(a is None for a in args):
            return None
        if name == "round":
            return runtime.round_half_away(args[0], int(args[1]) if len(args) == 2 else 0)
        if name == "floor":
            return float(runtime.math.floor(args[0]))
        if name == "ceil":
            return float(runtime.math.ceil(args[0]))
        if name == "abs":
            return abs(args[0])
        if name == "min":
            return min(args)
        if name == "max":
            return max(args)
        if name == "concat":
            if any(not isinstance(a, str) and abs(a) >= runtime.MAX_WHOLE for a in args):
                self.empty(node, "concat() of a whole number beyond ±9.2e18")
                return None
            return "".join(a if isinstance(a, str) else str(int(a)) for a in args)
        if name == "lower":
            return args[0].lower()
        if name == "upper":
            return args[0].upper()
        if name == "length":
            return float(len(args[0]))
        if name == "contains":
            return args[1] in args[0]
        if name == "add_days":
            moved = runtime.add_days(args[0], args[1])
            if moved is None:
                self.empty(node, "add_days() left the supported range (years 1 to 9999)")
            return moved
        if name in ("year", "month", "day"):
            part = runtime.date_part(name, args[0], self.tz)
            if part is None:
                self.empty(node, f"{name}() of a date-time out of range in the organization's timezone")
            return part
        if name == "days_since":
            return runtime.days_since(args[0], now=self.now, today=self.today)
        raise AssertionError(name)


def evaluate_formula(checked: CheckedFormula, values: dict[str, Any], *, now: datetime, tz: ZoneInfo) -> Any:
    """The formula's value given the referenced attributes' values (Python typed, None for empty)."""
    return _Eval(checked, values, now, tz).ev(checked.tree)


def evaluate_explained(
    checked: CheckedFormula, values: dict[str, Any], *, now: datetime, tz: ZoneInfo
) -> tuple[Any, list[str]]:
    """The value and where the computation left the supported range (``[]`` when it did not)."""
    evaluation = _Eval(checked, values, now, tz)
    return evaluation.ev(checked.tree), evaluation.out_of_range


def constant_out_of_range(checked: CheckedFormula, *, now: datetime, tz: ZoneInfo) -> FormulaError | None:
    """The first part made only of literals (no attribute, no time) whose value leaves the supported
    range, as an error at its column; checked when the formula is saved, so such a formula is refused
    instead of producing empty values."""
    evaluation = _Eval(checked, {}, now, tz)
    stack: list[tuple[Node, bool]] = [(checked.tree, False)]
    constant: dict[int, bool] = {}
    while stack:  # post-order without recursion
        node, done = stack.pop()
        children = _children(node)
        if not done:
            stack.append((node, True))
            stack.extend((child, False) for child in children)
            continue
        is_constant = all(constant[id(c)] for c in children) and not (
            isinstance(node, Ref) or (isinstance(node, Call) and node.name in ("now", "today", "days_since"))
        )
        constant[id(node)] = is_constant
        if is_constant and isinstance(node, Binary | Call | Number):
            if isinstance(node, Number) and not runtime.in_range(float(node.value)):
                return FormulaError("the number is too large", node.pos)
            before = len(evaluation.out_of_range)
            evaluation.ev(node)
            if len(evaluation.out_of_range) > before:
                return FormulaError(
                    evaluation.out_of_range[before].split(": ", 1)[1] + "; this part is never valid", node.pos
                )
        if isinstance(node, Call) and node.name == "add_days" and constant[id(node.args[1])]:
            days = evaluation.ev(node.args[1])
            if days is not None and abs(days) > runtime.MAX_DAYS:
                return FormulaError(
                    f"add_days() by more than {runtime.MAX_DAYS} days always leaves the supported range",
                    node.args[1].pos,
                )
    return None


def _children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, Unary):
        return (node.operand,)
    if isinstance(node, Binary):
        return (node.left, node.right)
    if isinstance(node, Call):
        return tuple(node.args)
    return ()
