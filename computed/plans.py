"""Definitions → checked plans (what to compute, from what, with which output type).

Used when a definition is saved (validation, output type, dependencies) and whenever values are
computed. Pure apart from resolving attribute names.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from computed.aggregates import Aggregate, check_aggregate
from computed.lang.checker import CheckedFormula, check_formula
from computed.lang.evaluator import constant_out_of_range
from computed.lang.parser import FormulaError
from computed.lang.runtime import unstorable_text
from people.attributes import CONTACT_MOVED_ATTRIBUTES, EVENT_MOVED_ATTRIBUTES
from people.conditions import (
    ConditionError,
    check,
    event_names,
    has_sliding_window,
    reads_last_contacted,
    references,
)
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


MAX_DEPTH = 48  # of a definition's JSON (scoring-rule conditions nest at most 10 levels)


def check_storable(definition: Any) -> None:
    """Refuse what the database cannot store or Python cannot walk, naming its path: text with a NUL
    character or a lone surrogate, numbers that are not finite, nesting deeper than ``MAX_DEPTH``."""
    stack: list[tuple[Any, str, int]] = [(definition, "", 0)]
    while stack:  # without recursion: the input may be nested thousands of levels deep
        value, path, depth = stack.pop()
        at = path or "definition"
        if depth > MAX_DEPTH:
            raise ValidationError({at: f"nested too deeply (at most {MAX_DEPTH} levels)"})
        if isinstance(value, str):
            bad = unstorable_text(value)
            if bad is not None:
                raise ValidationError({at: f"text cannot contain {bad}"})
        elif isinstance(value, float) and not math.isfinite(value):
            raise ValidationError({at: "expected a finite number"})
        elif isinstance(value, dict):
            for key, item in value.items():
                bad = unstorable_text(str(key))
                if bad is not None:
                    raise ValidationError({at: f"a key cannot contain {bad}"})
                stack.append((item, f"{path}.{key}" if path else str(key), depth + 1))
        elif isinstance(value, list):
            stack.extend((item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value))


def build_plan(kind: str, definition: Any) -> Plan:
    """Check a definition of a kind; raises ``ValidationError`` keyed by the definition's fields."""
    check_storable(definition)
    if kind == "formula":
        text = definition.get("formula") if isinstance(definition, dict) else None
        try:
            checked = check_formula(text or "")
            problem = constant_out_of_range(checked, now=timezone.now(), tz=UTC)
            if problem is not None:
                raise problem
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


def event_names_read(plan: Plan) -> frozenset[str]:
    """The events whose arrival can change the value by itself (not through other attributes)."""
    if plan.aggregate is not None:
        return frozenset({plan.aggregate.event})
    return frozenset().union(*(event_names(rule.condition) for rule in plan.rules))


def moved_by_events(attributes, names: Iterable[str]) -> list:
    """Of ``attributes`` (saved, with plans), those whose value new events named ``names`` can
    change, with everything that reads them: an aggregate of one of the events, a scoring rule on
    one, anything reading the counters events move (``EVENT_MOVED_ATTRIBUTES``), a formula or score
    reading one of those. The rest keep their value whatever those events say."""
    names = frozenset(names)
    return _with_readers(
        attributes,
        lambda plan: bool(event_names_read(plan) & names or plan.references & EVENT_MOVED_ATTRIBUTES),
    )


def moved_by_contact(attributes) -> list:
    """Of ``attributes`` (saved, with plans), those whose value recording a contact can change: a
    formula on ``last_contacted_at``, a scoring rule on last contacted (overall or on a channel), and
    everything that reads them. The rest (aggregates of events, formulas over other attributes) keep
    their value."""
    return _with_readers(
        attributes,
        lambda plan: (
            bool(plan.references & CONTACT_MOVED_ATTRIBUTES)
            or any(reads_last_contacted(rule.condition) for rule in plan.rules)
        ),
    )


def _with_readers(attributes, moves) -> list:
    """Of ``attributes``, those whose plan ``moves`` says yes to, with what reads them at any depth."""
    plans = {a.key: plan_of(a) for a in attributes}
    moved = {key for key, plan in plans.items() if moves(plan)}
    while True:
        more = {key for key, plan in plans.items() if key not in moved and plan.references & moved}
        if not more:
            break
        moved |= more
    return [a for a in attributes if a.key in moved]


def clear_cache() -> None:
    _cache.clear()
