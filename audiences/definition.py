"""An audience definition: checked (path-precise issues), compiled to SQL and evaluated in Python.

- rules: ``{"condition": <a condition of people/conditions>}`` (AND/OR/NOT, attributes, events,
  last contacted, list attributes and ``audience:<key>`` membership of another audience);
- funnel: ``{"steps": [...]}`` (see ``audiences.funnel``).

``members_sql`` is the one SELECT of member person ids a refresh inserts from; the same statement
restricted to a few people serves the real-time path. ``evaluate`` is its Python twin (explain).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Exists, OuterRef, Q

from audiences import funnel as funnels
from audiences.models import Audience
from identity.models import Identity
from people import conditions
from people.conditions.ast import Condition
from people.conditions.checker import ConditionIssue
from people.conditions.evaluator import Evaluation
from people.models import Person

AUDIENCE_PREFIX = "audience:"


class DefinitionError(Exception):
    def __init__(self, issues: list[ConditionIssue]):
        self.issues = issues
        super().__init__("; ".join(str(i) for i in issues))

    def as_dict(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for issue in self.issues:
            out.setdefault(issue.path or "definition", []).append(issue.message)
        return out


@dataclass(frozen=True)
class Compiled:
    type: str
    include_anonymous: bool
    condition: Condition | None = None
    funnel: funnels.Funnel | None = None

    def audience_keys(self) -> set[str]:
        if self.condition is None:
            return set()
        return {
            k.removeprefix(AUDIENCE_PREFIX)
            for k in conditions.references(self.condition)
            if k.startswith(AUDIENCE_PREFIX)
        }

    def event_names(self) -> set[str]:
        if self.funnel is not None:
            return self.funnel.event_names()
        return conditions.event_names(self.condition)

    def attribute_keys(self) -> set[str]:
        return set() if self.condition is None else conditions.references(self.condition)

    def has_sliding_window(self) -> bool:
        if self.funnel is not None:
            return self.funnel.has_sliding_window()
        return conditions.has_sliding_window(self.condition)


def check(audience_type: str, definition: Any, *, include_anonymous: bool = False) -> Compiled:
    """The compiled definition; ``DefinitionError`` lists each problem with its path."""
    if not isinstance(definition, dict):
        raise DefinitionError([ConditionIssue("", "expected an object")])
    if audience_type == Audience.Type.FUNNEL:
        funnel, issues = funnels.check(definition)
        if issues:
            raise DefinitionError(issues)
        return Compiled(audience_type, include_anonymous, funnel=funnel)
    if audience_type != Audience.Type.RULES:
        raise DefinitionError([ConditionIssue("type", "expected rules or funnel")])
    if "condition" not in definition:
        raise DefinitionError([ConditionIssue("condition", "expected a condition")])
    try:
        tree = conditions.check(definition["condition"])
    except conditions.ConditionError as exc:
        raise DefinitionError(
            [ConditionIssue(f"condition.{i.path}" if i.path else "condition", i.message) for i in exc.issues]
        ) from None
    return Compiled(audience_type, include_anonymous, condition=tree)


def compile_audience(audience: Audience) -> Compiled:
    return check(audience.type, audience.definition, include_anonymous=audience.include_anonymous)


def eligible_q(compiled: Compiled) -> Q:
    """Who can be a member at all: never a merged child; a known identifier unless anonymous allowed."""
    q = Q(merged_into__isnull=True)
    if not compiled.include_anonymous:
        q &= Q(Exists(Identity.objects.filter(person_id=OuterRef("pk"), anonymous=False)))
    return q


def members_sql(compiled: Compiled, *, now: datetime, tz: ZoneInfo, person_ids=None) -> tuple[str, list]:
    """``SELECT id FROM people_person WHERE …``: the members at ``now`` (of ``person_ids`` if given)."""
    people = Person.objects.filter(eligible_q(compiled))
    few = person_ids is not None
    if few:
        people = people.filter(pk__in=list(person_ids))
    if compiled.condition is not None:
        people = people.filter(conditions.to_q(compiled.condition, now=now, tz=tz, correlated=few))
    else:
        from django.db.models.expressions import RawSQL

        sql, params = funnels.person_ids_sql(compiled.funnel, now=now, tz=tz, person_ids=person_ids)
        people = people.filter(pk__in=RawSQL(sql, params))
    return people.order_by().values("id").query.sql_with_params()


def evaluate(compiled: Compiled, person: Person, *, now: datetime, tz: ZoneInfo) -> dict[str, Any]:
    """``{"matched", "eligible", "steps"}``: the Python twin of ``members_sql`` with an explanation."""
    eligible_steps = [{"kind": "merged", "matched": person.merged_into_id is None}]
    if not compiled.include_anonymous:
        known = Identity.objects.filter(person_id=person.pk, anonymous=False).exists()
        eligible_steps.append({"kind": "known_identifier", "matched": known})
    eligible = all(s["matched"] for s in eligible_steps)
    ev = Evaluation(person, now, tz)
    if compiled.condition is not None:
        from people.conditions.evaluator import evaluate as evaluate_condition

        matched = evaluate_condition(compiled.condition, ev)
        steps = ev.steps
    else:
        matched, steps = funnels.evaluate(compiled.funnel, ev)
    return {
        "matched": eligible and matched,
        "eligible": eligible,
        "conditions_matched": matched,
        "eligibility": eligible_steps,
        "steps": steps,
    }
