"""Funnel audiences: ordered event steps, checked, compiled to one SQL statement and evaluated in Python.

JSON::

    {"steps": [
        {"event": "Product Added", "filters": [...], "window": {"type": "within", "value": 30}},
        {"event": "Order Completed", "did_not": true, "within": {"value": 1, "unit": "hours"},
         "filters": [{"property": "product_id", "same_as": "product_id"}]}
    ]}

Semantics (over *all* instances of the parent step, never just the first). Each instance has an
event (whose properties ``same_as`` reads) and a time (when the step was met):

- an instance of step 1 is any event matching it (in its window, if given); its time is the event's;
- an instance of step k is an event matching step k strictly after the time of an instance of step
  k−1 (and within ``within`` of that time when given) whose ``same_as`` properties equal that
  instance's event's properties; its time is the event's;
- an instance of a "did not" step k is an instance of step k−1 with no such matching event; with
  ``within`` only once that time has passed since the instance (a cart is abandoned after the hour,
  not during it). It carries the previous instance's event, and its time is the end of the ``within``
  (or, without ``within``, the previous instance's time): the step after "viewed, then did not add to
  cart within 1 hour" counts from the moment the hour ran out.

So an instance's time is its event's time plus a fixed shift per step (the sum of the ``within`` of
the "did not" steps since the last positive step), which is how the SQL compares times.

A person is in the funnel when the last step has an instance.
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

    def shifts(self) -> list[int]:
        """Per step, the seconds from an instance's event to the instance's time (see the module)."""
        out: list[int] = []
        for step in self.steps:
            out.append(out[-1] + (step.within or 0) if step.did_not and out else 0)
        return out

    def has_sliding_window(self) -> bool:
        return self.steps[0].event.window.type not in ("any", "since") or any(
            s.did_not and s.within for s in self.steps
        )


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
            issues.append(
                ConditionIssue(
                    f"{at}.did_not", "the first step cannot be 'did not': it needs a previous step to follow"
                )
            )
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


def _ts_after(vendor: str, left: str, right: str, seconds: int) -> tuple[str, list]:
    """``left > right + seconds`` (strictly later than an instance's time)."""
    if not seconds:
        return f"{right} < {left}", []
    if vendor == "postgresql":
        return f"{right} + %s * INTERVAL '1 second' < {left}", [seconds]
    return f"julianday({right}) + %s + 1e-10 < julianday({left})", [seconds / 86400.0]


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


def _link(vendor: str, step: Step, shift: int) -> tuple[str, list]:
    """Event ``e`` follows the previous step's instance ``p`` (whose time is ``p.timestamp + shift``)."""
    after, params = _ts_after(vendor, 'e."timestamp"', 'p."timestamp"', shift)
    link = ["p.person_id = e.person_id", after]
    if step.within is not None:
        s, sp = _ts_le_plus(vendor, 'e."timestamp"', 'p."timestamp"', shift + step.within)
        link.append(s)
        params += sp
    for mine, theirs in step.same_as:
        s, sp = _same_sql(vendor, "e", "p", mine, theirs)
        link.append(s)
        params += sp
    return " AND ".join(link), params


def person_ids_sql(funnel: Funnel, *, now: datetime, tz, person_ids=None) -> tuple[str, list]:
    """``SELECT person_id`` of the people in the funnel at ``now`` (one statement with CTEs).

    ``s<k>`` holds the instances of step k as event rows (a "did not" step: the previous step's rows
    left without a follow-up); an instance's time is its row's timestamp plus the step's shift."""
    vendor = connection.vendor
    ctes: list[str] = []
    params: list = []
    shifts = funnel.shifts()
    for k, step in enumerate(funnel.steps):
        sql, p = _step_events(step, now=now, tz=tz, person_ids=person_ids)
        if k == 0:
            ctes.append(f"s0 AS ({sql})")
            params += list(p)
            continue
        condition, link_params = _link(vendor, step, shifts[k - 1])
        if step.did_not:
            passed, passed_params = "", []
            if step.within is not None:
                passed = f" AND {_passed(vendor)}"
                passed_params = _passed_params(vendor, now, shifts[k])
            ctes.append(
                f"s{k} AS (SELECT p.* FROM s{k - 1} p "
                f"WHERE NOT EXISTS (SELECT 1 FROM ({sql}) e WHERE {condition}){passed})"
            )
            params += [*p, *link_params, *passed_params]
        else:
            ctes.append(
                f"s{k} AS (SELECT e.* FROM ({sql}) e "
                f"WHERE EXISTS (SELECT 1 FROM s{k - 1} p WHERE {condition}))"
            )
            params += [*p, *link_params]
    return "WITH " + ", ".join(ctes) + f" SELECT person_id FROM s{len(funnel.steps) - 1}", params


def _passed(vendor: str) -> str:
    """The instance's time limit has passed: ``p.timestamp + shift <= now``."""
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


def _follows(step: Step, e: dict, p: dict, shift: int) -> bool:
    """Event ``e`` follows instance ``p`` (whose time is its event's plus ``shift`` seconds)."""
    at = p["timestamp"] + timedelta(seconds=shift)
    if not at < e["timestamp"]:
        return False
    if step.within is not None and e["timestamp"] > at + timedelta(seconds=step.within):
        return False
    return all(same_value(_read(e["properties"], m), _read(p["properties"], t)) for m, t in step.same_as)


def evaluate(funnel: Funnel, ev: Evaluation) -> tuple[bool, list[dict]]:
    """Whether the person is in the funnel, and per step the instances (event ids) that met it."""
    steps_out: list[dict] = []
    previous: list[dict] = []
    shifts = funnel.shifts()
    for k, step in enumerate(funnel.steps):
        rows = matching_event_rows(step.event, ev)
        if k == 0:
            instances = rows
        elif step.did_not:
            deadline = timedelta(seconds=shifts[k])
            instances = [
                p
                for p in previous
                if (step.within is None or p["timestamp"] + deadline <= ev.now)
                and not any(_follows(step, e, p, shifts[k - 1]) for e in rows)
            ]
        else:
            instances = [e for e in rows if any(_follows(step, e, p, shifts[k - 1]) for p in previous)]
        steps_out.append(_explain(step, k, instances, bool(instances), shifts[k]))
        previous = instances
        if not instances:
            for j in range(k + 1, len(funnel.steps)):
                steps_out.append(_explain(funnel.steps[j], j, [], False, shifts[j]))
            return False, steps_out
    return True, steps_out


def _explain(step: Step, k: int, instances: list[dict], matched: bool, shift: int) -> dict:
    out = {
        "kind": "funnel_step",
        "step": k + 1,
        "event": step.event.name,
        "did_not": step.did_not,
        "within_seconds": step.within,
        "matched": matched,
        "count": len(instances),
        # For a "did not" step: the events of the previous step's instances left without a follow-up.
        "matched_event_ids": [r["pk"] for r in instances[:50]],
    }
    if step.did_not:
        # When each instance met the step: where the next step starts counting.
        out["met_at"] = [(r["timestamp"] + timedelta(seconds=shift)).isoformat() for r in instances[:50]]
    return out


__all__ = ["Funnel", "Step", "check", "evaluate", "person_ids_sql", "same_value"]
