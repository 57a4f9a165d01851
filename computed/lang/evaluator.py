"""Checked formula → value for one profile, in Python (test on a profile; agreement tests).

Empty (None) anywhere gives empty, except ``coalesce`` (the explicit escape) and the branch ``if``
does not take. Division (and %) by zero gives empty.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from computed.lang import runtime
from computed.lang.ast import Binary, Boolean, Call, Node, Number, Ref, String, Unary
from computed.lang.checker import CheckedFormula


class _Eval:
    def __init__(self, checked: CheckedFormula, values: dict[str, Any], now: datetime, tz: ZoneInfo):
        self.checked = checked
        self.values = values
        self.now = now
        self.tz = tz
        self.today = now.astimezone(tz).date()

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
                return float(value)
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
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            return None if b == 0 else a / b
        if op == "%":
            return None if b == 0 else runtime.floored_mod(a, b)
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
            return runtime.add_days(args[0], args[1])
        if name in ("year", "month", "day"):
            return runtime.date_part(name, args[0], self.tz)
        if name == "days_since":
            return runtime.days_since(args[0], now=self.now, today=self.today)
        raise AssertionError(name)


def evaluate_formula(checked: CheckedFormula, values: dict[str, Any], *, now: datetime, tz: ZoneInfo) -> Any:
    """The formula's value given the referenced attributes' values (Python typed, None for empty)."""
    return _Eval(checked, values, now, tz).ev(checked.tree)
