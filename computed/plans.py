"""Definitions → checked plans (what to compute, from what, with which output type).

Used when a definition is saved (validation, output type, dependencies) and whenever values are
computed. Pure apart from resolving attribute names.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError

from computed.aggregates import Aggregate, check_aggregate
from computed.lang.checker import CheckedFormula, check_formula
from computed.lang.parser import FormulaError
from people.conditions import ConditionError, check, has_sliding_window, references
from people.conditions.ast import Condition
from people.models import AttributeType

MAX_RULES = 50


@dataclass(frozen=True)
class Rule:
    condition: Condition
    points: int
    label: str


@dataclass
class Plan:
    kind: str
    output_type: str
    formula: CheckedFormula | None = None
    aggregate: Aggregate | None = None
    rules: tuple[Rule, ...] = ()
    references: set[str] = field(default_factory=set)
    slides: bool = False  # can change with time alone: re-evaluated daily

    @property
    def empty(self) -> Any:
        if self.kind == "score":
            return 0
        if self.aggregate is not None:
            return self.aggregate.empty
        return None


def build_plan(kind: str, definition: Any) -> Plan:
    """Check a definition of a kind; raises ``ValidationError`` keyed by the definition's fields."""
    if kind == "formula":
        text = definition.get("formula") if isinstance(definition, dict) else None
        try:
            checked = check_formula(text or "")
        except FormulaError as exc:
            raise ValidationError(
                {"formula": [exc.as_dict()["message"] if not exc.column else str(exc)]}
            ) from exc
        return Plan(
            "formula",
            checked.output_type,
            formula=checked,
            references=set(checked.refs),
            slides=checked.uses_time,
        )
    if kind == "aggregate":
        aggregate = check_aggregate(definition)
        return Plan("aggregate", aggregate.output_type, aggregate=aggregate, slides=aggregate.period.slides)
    if kind == "score":
        rules_data = definition.get("rules") if isinstance(definition, dict) else None
        if not isinstance(rules_data, list) or not rules_data:
            raise ValidationError({"rules": "expected a list of rules, each with a condition and points"})
        if len(rules_data) > MAX_RULES:
            raise ValidationError({"rules": f"at most {MAX_RULES} rules"})
        errors: dict[str, list[str]] = {}
        rules = []
        for i, rule in enumerate(rules_data):
            at = f"rules[{i}]"
            if not isinstance(rule, dict):
                errors[at] = ["expected an object with condition and points"]
                continue
            points = rule.get("points")
            if isinstance(points, bool) or not isinstance(points, int) or abs(points) > 1_000_000:
                errors[f"{at}.points"] = ["expected a whole number of points (negative allowed)"]
            try:
                condition = check(rule.get("condition"))
            except ConditionError as exc:
                for issue in exc.issues:
                    errors.setdefault(
                        f"{at}.condition" + (f".{issue.path}" if issue.path else ""), []
                    ).append(issue.message)
                continue
            rules.append(
                Rule(condition, points if isinstance(points, int) else 0, str(rule.get("label") or ""))
            )
        if errors:
            raise ValidationError(errors)
        refs = set().union(*(references(r.condition) for r in rules))
        slides = any(has_sliding_window(r.condition) for r in rules)
        return Plan("score", AttributeType.INTEGER, rules=tuple(rules), references=refs, slides=slides)
    raise ValidationError({"kind": f"unknown kind {kind!r}"})


_cache: dict[tuple, tuple[float, Plan]] = {}
CACHE_SECONDS = 30.0


def plan_of(attribute) -> Plan:
    """The plan of a saved attribute, cached briefly per process (refreshes run often)."""
    key = (attribute.pk, attribute.kind, json.dumps(attribute.definition, sort_keys=True, default=str))
    hit = _cache.get(key)
    now = time.monotonic()
    if hit and now - hit[0] < CACHE_SECONDS:
        return hit[1]
    plan = build_plan(attribute.kind, attribute.definition)
    if len(_cache) > 1000:
        _cache.clear()
    _cache[key] = (now, plan)
    return plan


def clear_cache() -> None:
    _cache.clear()
