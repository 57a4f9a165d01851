"""Funnel audiences: ordered event steps, checked, compiled to one SQL statement and evaluated in Python.

JSON::

    {"steps": [
        {"event": "Product Added", "filters": [...], "window": {"type": "within", "value": 30}},
        {"event": "Order Completed", "did_not": true, "within": {"value": 1, "unit": "hours"},
         "filters": [{"property": "product_id", "same_as": "product_id"}]}
    ]}

Semantics (over *all* instances of the parent step, never just the first):

- an instance of step 1 is any event matching it (in its window, if given);
- an instance of step k is an event matching step k strictly after an instance of step k−1 (and within
  ``within`` of it when given) whose ``same_as`` properties equal that instance's properties;
- a "did not" step (the last one) is met when some instance of the previous step has no matching event
  after it; with ``within`` only once that time has passed since the instance (a cart is abandoned
  after the hour, not during it).

A person is in the funnel when the last step has an instance (or the "did not" step is met).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection

from people import conditions
from people.conditions.ast import EventCondition
from people.conditions.checker import UNITS, ConditionIssue
from people.conditions.compiler import event_q
from people.conditions.evaluator import Evaluation, matching_event_rows
from people.conditions.sql import sqlite_path, valid_path
from people.models import Event

MAX_STEPS = 10


@dataclass(frozen=True)
class Step:
    event: EventCondition  # name, channel, property filters (and the window, first step only)
    did_not: bool = False
    within: int | None = None  # seconds after the previous step's instance
    same_as: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = ()  # (this property, previous property)


@dataclass(frozen=True)
class Funnel:
    steps: tuple[Step, ...]

    def event_names(self) -> set[str]:
        return {s.event.name for s in self.steps}

    def has_sliding_window(self) -> bool:
        return self.steps[0].event.window.type != "any" or any(s.did_not and s.within for s in self.steps)


def _path(prefix: str, rest: str) -> str:
    return f"{prefix}.{rest}" if rest else prefix


def check(data: Any) -> tuple[Funnel | None, list[ConditionIssue]]:
    """The funnel and the problems found, each with its path (``steps[1].filters[0].value: ...``)."""
    issues: list[ConditionIssue] = []
    if not isinstance(data, dict) or not isinstance(data.get("steps"), list):
        return None, [ConditionIssue("steps", "expected a list of steps")]
    items = data["steps"]
    if len(items) < 2:
        issues.append(ConditionIssue("steps", "expected at least two steps"))
    if len(items) > MAX_STEPS:
        issues.append(ConditionIssue("steps", f"at most {MAX_STEPS} steps"))
    steps: list[Step] = []
    for i, item in enumerate(items):
        at = f"steps[{i}]"
        if not isinstance(item, dict):
            issues.append(ConditionIssue(at, "expected an object"))
            continue
        filters = item.get("filters", [])
        if not isinstance(filters, list):
            issues.append(ConditionIssue(f"{at}.filters", "expected a list of property filters"))
            filters = []
        plain, refs = [], []
        for j, f in enumerate(filters):
            if isinstance(f, dict) and "same_as" in f:
                prop, other = f.get("property"), f.get("same_as")
                mine = tuple(prop.split(".")) if isinstance(prop, str) else ()
                theirs = tuple(other.split(".")) if isinstance(other, str) else ()
                if i == 0:
                    issues.append(
                        ConditionIssue(f"{at}.filters[{j}].same_as", "the first step has no previous step")
                    )
                elif not valid_path(mine):
                    issues.append(ConditionIssue(f"{at}.filters[{j}].property", "expected a property name"))
                elif not valid_path(theirs):
                    issues.append(
                        ConditionIssue(
                            f"{at}.filters[{j}].same_as", "expected a property of the previous step"
                        )
                    )
                else:
                    refs.append((mine, theirs))
                continue
            try:
                checked = conditions.check({"event": "x", "filters": [f]})
                plain.append(checked.filters[0])
            except conditions.ConditionError as exc:
                for issue in exc.issues:
                    issues.append(
                        ConditionIssue(
                            _path(at, issue.path.replace("filters[0]", f"filters[{j}]")), issue.message
                        )
                    )
        base = {"event": item.get("event"), "channel": item.get("channel", "")}
        if "window" in item:
            if i != 0:
                issues.append(ConditionIssue(f"{at}.window", "only the first step has a window; use within"))
            base["window"] = item["window"]
        try:
            event = conditions.check(base)
        except conditions.ConditionError as exc:
            issues.extend(ConditionIssue(_path(at, issue.path), issue.message) for issue in exc.issues)
            continue
        did_not = item.get("did_not", False)
        if not isinstance(did_not, bool):
            issues.append(ConditionIssue(f"{at}.did_not", "expected true or false"))
            did_not = False
        if did_not and i == 0:
            issues.append(ConditionIssue(f"{at}.did_not", "the first step cannot be 'did not'"))
        elif did_not and i != len(items) - 1:
            issues.append(ConditionIssue(f"{at}.did_not", "only the last step can be 'did not'"))
        within = None
        if item.get("within") is not None:
            spec = item["within"]
            if i == 0:
                issues.append(
                    ConditionIssue(f"{at}.within", "the first step has no previous step; use window")
                )
            elif not isinstance(spec, dict) or spec.get("unit", "days") not in UNITS:
                issues.append(ConditionIssue(f"{at}.within.unit", f"expected one of: {', '.join(UNITS)}"))
            elif (
                isinstance(spec.get("value"), bool)
                or not isinstance(spec.get("value"), int)
                or spec["value"] < 1
            ):
                issues.append(ConditionIssue(f"{at}.within.value", "expected a whole number ≥ 1"))
            else:
                within = spec["value"] * UNITS[spec.get("unit", "days")]
        event = EventCondition(
            name=event.name, filters=tuple(plain), window=event.window, channel=event.channel
        )
        steps.append(Step(event, did_not, within, tuple(refs)))
    if issues:
        return None, issues
    return Funnel(tuple(steps)), []


# ---------------------------------------------------------------- SQL


def _ts_le_plus(vendor: str, left: str, right: str, seconds: int) -> tuple[str, list]:
    """``left <= right + seconds`` for two timestamp expressions."""
    if vendor == "postgresql":
        return f"{left} <= {right} + %s * INTERVAL '1 second'", [seconds]
    # SQLite stores text times: compare Julian days (events carry whole-microsecond times).
    return f"julianday({left}) <= julianday({right}) + %s + 1e-10", [seconds / 86400.0]


def _same_sql(
    vendor: str, e: str, p: str, mine: tuple[str, ...], theirs: tuple[str, ...]
) -> tuple[str, list]:
    if vendor == "postgresql":
        return (
            f"({e}.properties #> %s) = ({p}.properties #> %s) "
            f"AND jsonb_typeof({e}.properties #> %s) <> 'null'",
            [list(mine), list(theirs), list(mine)],
        )
    a, b = sqlite_path(mine), sqlite_path(theirs)
    kind = (
        "CASE json_type({0}.properties, %s) WHEN 'integer' THEN 'real' ELSE json_type({0}.properties, %s) END"
    )
    return (
        f"json_extract({e}.properties, %s) = json_extract({p}.properties, %s) "
        f"AND json_type({e}.properties, %s) <> 'null' AND {kind.format(e)} = {kind.format(p)}",
        [a, b, a, a, a, b, b],
    )


def _step_events(step: Step, *, now: datetime, tz, person_ids=None) -> tuple[str, list]:
    q = event_q(step.event, now=now, tz=tz)
    events = Event.objects.filter(q)
    if person_ids is not None:
        events = events.filter(person_id__in=list(person_ids))
    return events.order_by().values("id", "person_id", "timestamp", "properties").query.sql_with_params()


def person_ids_sql(funnel: Funnel, *, now: datetime, tz, person_ids=None) -> tuple[str, list]:
    """``SELECT person_id`` of the people in the funnel at ``now`` (one statement with CTEs)."""
    vendor = connection.vendor
    ctes: list[str] = []
    params: list = []
    last = len(funnel.steps) - 1
    for k, step in enumerate(funnel.steps):
        sql, p = _step_events(step, now=now, tz=tz, person_ids=person_ids)
        if k == 0:
            ctes.append(f"s0 AS ({sql})")
            params += list(p)
            continue
        link = ['p.person_id = e.person_id AND p."timestamp" < e."timestamp"']
        link_params: list = []
        if step.within is not None:
            s, sp = _ts_le_plus(vendor, 'e."timestamp"', 'p."timestamp"', step.within)
            link.append(s)
            link_params += sp
        for mine, theirs in step.same_as:
            s, sp = _same_sql(vendor, "e", "p", mine, theirs)
            link.append(s)
            link_params += sp
        condition = " AND ".join(link)
        if k == last and step.did_not:
            passed, passed_params = "", []
            if step.within is not None:
                passed = f" AND {_passed(vendor)}"
                passed_params = _passed_params(vendor, now, step.within)
            final = (
                f"SELECT p.person_id FROM s{k - 1} p "
                f"WHERE NOT EXISTS (SELECT 1 FROM ({sql}) e WHERE {condition}){passed}"
            )
            return "WITH " + ", ".join(ctes) + " " + final, [*params, *p, *link_params, *passed_params]
        ctes.append(
            f"s{k} AS (SELECT e.* FROM ({sql}) e WHERE EXISTS (SELECT 1 FROM s{k - 1} p WHERE {condition}))"
        )
        params += [*p, *link_params]
    return "WITH " + ", ".join(ctes) + f" SELECT person_id FROM s{last}", params


def _passed(vendor: str) -> str:
    """The instance's time limit has passed: ``p.timestamp + within <= now``."""
    if vendor == "postgresql":
        return "p.\"timestamp\" + %s * INTERVAL '1 second' <= %s"
    return 'julianday(p."timestamp") + %s <= julianday(%s) + 1e-10'


def _passed_params(vendor: str, now: datetime, seconds: int) -> list:
    if vendor == "postgresql":
        return [seconds, now]
    return [seconds / 86400.0, connection.ops.adapt_datetimefield_value(now)]


# ---------------------------------------------------------------- Python


def _read(properties: Any, path: tuple[str, ...]) -> Any:
    node = properties
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def same_value(a: Any, b: Any) -> bool:
    return a is not None and b is not None and _kind(a) == _kind(b) and a == b


def _follows(step: Step, e: dict, p: dict) -> bool:
    if not p["timestamp"] < e["timestamp"]:
        return False
    if step.within is not None and e["timestamp"] > p["timestamp"] + timedelta(seconds=step.within):
        return False
    return all(same_value(_read(e["properties"], m), _read(p["properties"], t)) for m, t in step.same_as)


def evaluate(funnel: Funnel, ev: Evaluation) -> tuple[bool, list[dict]]:
    """Whether the person is in the funnel, and per step the instances (event ids) that met it."""
    steps_out: list[dict] = []
    previous: list[dict] = []
    matched = True
    for k, step in enumerate(funnel.steps):
        rows = matching_event_rows(step.event, ev)
        if k == 0:
            instances = rows
        elif step.did_not:
            open_instances = [
                p
                for p in previous
                if (step.within is None or p["timestamp"] + timedelta(seconds=step.within) <= ev.now)
                and not any(_follows(step, e, p) for e in rows)
            ]
            matched = bool(open_instances)
            steps_out.append(_explain(step, k, open_instances, matched, did_not=True))
            return matched, steps_out
        else:
            instances = [e for e in rows if any(_follows(step, e, p) for p in previous)]
        matched = bool(instances)
        steps_out.append(_explain(step, k, instances, matched))
        previous = instances
        if not instances:
            for j in range(k + 1, len(funnel.steps)):
                steps_out.append(_explain(funnel.steps[j], j, [], False, did_not=funnel.steps[j].did_not))
            return False, steps_out
    return matched, steps_out


def _explain(step: Step, k: int, instances: list[dict], matched: bool, *, did_not: bool = False) -> dict:
    return {
        "kind": "funnel_step",
        "step": k + 1,
        "event": step.event.name,
        "did_not": did_not,
        "within_seconds": step.within,
        "matched": matched,
        "count": len(instances),
        # For a "did not" step: the instances of the previous step left without a follow-up.
        "matched_event_ids": [r["pk"] for r in instances[:50]],
    }


__all__ = ["Funnel", "Step", "check", "evaluate", "person_ids_sql", "same_value"]
