"""The condition language shared by scoring, audiences and action targeting.

- ``check(json) -> tree`` validates (``ConditionError`` with path-precise issues);
- ``to_q(tree, now=, tz=)`` compiles to one Q filter on ``Person`` (set-based);
- ``matches(tree, person, now=, tz=)`` evaluates one profile in Python, and ``explain`` says how;
- ``register_attribute_provider`` lets higher apps add attribute kinds (computed attributes).

See docs/conditions.md.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Q
from django.utils import timezone

from people.conditions.ast import Condition
from people.conditions.attributes import AttributeRef, register_attribute_provider, resolve
from people.conditions.checker import (
    ConditionError,
    ConditionIssue,
    check,
    event_names,
    has_sliding_window,
    reads_last_contacted,
    references,
)
from people.models import Person


def _tz(tz: ZoneInfo | None) -> ZoneInfo:
    if tz is not None:
        return tz
    from people.selectors import organization_tz

    return organization_tz()


def to_q(
    tree: Condition,
    *,
    now: datetime | None = None,
    tz: ZoneInfo | None = None,
    correlated: bool = True,
    scope=None,
) -> Q:
    """One Q on Person; ``correlated=False`` suits filtering everyone (see compiler.compile_q).

    ``scope`` (a ``SetScope``): event conditions and joinable attributes become columns of joins the
    scope adds to the statement (one FILTERed pass over events), for statements over everyone.
    """
    from people.conditions.compiler import compile_q

    return compile_q(tree, now=now or timezone.now(), tz=_tz(tz), correlated=correlated, scope=scope)


def set_scope(*, now: datetime | None = None, tz: ZoneInfo | None = None, person_ids=None):
    """A ``SetScope`` for compiling several conditions into one set-based statement."""
    from people.conditions.compiler import SetScope

    return SetScope(now=now or timezone.now(), tz=_tz(tz), person_ids=person_ids)


def matches(
    tree: Condition, person: Person, *, now: datetime | None = None, tz: ZoneInfo | None = None
) -> bool:
    from people.conditions.evaluator import Evaluation, evaluate

    return evaluate(tree, Evaluation(person, now or timezone.now(), _tz(tz)), record=False)


def explain(
    tree: Condition, person: Person, *, now: datetime | None = None, tz: ZoneInfo | None = None
) -> dict[str, Any]:
    """``{"matched": bool, "steps": [...]}``: each leaf with what it read and whether it matched."""
    from people.conditions.evaluator import Evaluation, evaluate

    ev = Evaluation(person, now or timezone.now(), _tz(tz))
    return {"matched": evaluate(tree, ev), "steps": ev.steps}


__all__ = [
    "AttributeRef",
    "Condition",
    "ConditionError",
    "ConditionIssue",
    "check",
    "event_names",
    "explain",
    "has_sliding_window",
    "matches",
    "reads_last_contacted",
    "references",
    "register_attribute_provider",
    "resolve",
    "to_q",
]
