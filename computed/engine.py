"""The compute engine: which statements recompute a set of attributes, in which order, and running
them for some people or everyone (set-based, no state changes to the definitions beyond recording
errors). Used by the lifecycle services (activation, refresh, daily re-evaluation) and by the
refresh fast path (``computed.refresh``), which compiles the same steps once and caches them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from computed import sql
from computed.lang.compiler import compile_formula
from computed.models import ComputedAttribute, ComputedValue
from computed.plans import plan_of
from people import conditions
from people.selectors import organization_tz

log = logging.getLogger(__name__)


def dependency_order(attributes: Iterable[ComputedAttribute]) -> list[ComputedAttribute]:
    """Aggregates first, then formulas and scores after the attributes they use."""
    items = {a.key: a for a in attributes}
    order: list[ComputedAttribute] = []
    seen: set[str] = set()

    def visit(attribute: ComputedAttribute, trail: tuple[str, ...]) -> None:
        if attribute.key in seen or attribute.key in trail:
            return
        for ref in sorted(plan_of(attribute).references):
            if ref in items:
                visit(items[ref], (*trail, attribute.key))
        seen.add(attribute.key)
        order.append(attribute)

    for attribute in sorted(items.values(), key=lambda a: (a.kind != "aggregate", a.pk)):
        visit(attribute, ())
    return order


def steps(
    attributes: Sequence[ComputedAttribute], *, one_pass: bool = False
) -> list[list[ComputedAttribute]]:
    """Statements to run, in order: simple aggregates over one event share a step (``one_pass``, for
    a few people: all simple aggregates share one step, whatever their event)."""
    out: list[list[ComputedAttribute]] = []
    simple: dict[str, list[ComputedAttribute]] = {}
    for attribute in dependency_order(attributes):
        plan = plan_of(attribute)
        if plan.aggregate is not None and not plan.aggregate.windowed:
            event = "" if one_pass else plan.aggregate.event
            if event not in simple:
                simple[event] = []
                out.append(simple[event])
            simple[event].append(attribute)
        else:
            out.append([attribute])
    return out


def rows_for(
    step: list[ComputedAttribute], *, person_ids, now: datetime, tz, after: list[sql.Rows] | None = None
) -> sql.Rows:
    """The SELECT producing one step's non-empty values for ``person_ids`` (None: everyone).

    ``after``: statements to run once the values are written are appended to it (a formula with
    steps that can leave the supported range records how many values they emptied).
    """
    first = step[0]
    plan = plan_of(first)
    if plan.aggregate is not None and not plan.aggregate.windowed:
        return sql.simple_pass(
            [(a, plan_of(a).aggregate) for a in step], now=now, tz=tz, person_ids=person_ids
        )
    if plan.aggregate is not None:
        return sql.windowed(first, plan.aggregate, now=now, tz=tz, person_ids=person_ids)
    if plan.formula is not None:
        joins: list = [] if person_ids is None or len(person_ids) > 1000 else None
        guards: list = []
        expression = compile_formula(
            plan.formula, alias="p", vendor=connection.vendor, now=now, tz=tz, joins=joins, guards=guards
        )
        if guards and after is not None:
            after.append(sql.out_of_range_statement(first, guards, person_ids, joins or (), at=now))
        return sql.formula_rows(first, expression, person_ids, joins or ())
    if person_ids is not None and len(person_ids) <= 1000:
        # A few people: correlated index probes per rule.
        rules = [(conditions.to_q(rule.condition, now=now, tz=tz), rule.points) for rule in plan.rules]
        return sql.score_rows(first, rules, person_ids)
    # Everyone: one FILTERed pass over the events for every event rule, computed inputs joined once.
    scope = conditions.set_scope(now=now, tz=tz, person_ids=person_ids)
    rules = [
        (conditions.to_q(rule.condition, now=now, tz=tz, scope=scope), rule.points) for rule in plan.rules
    ]
    return sql.score_rows(first, rules, person_ids, scope=scope)


def compute(
    attributes: Sequence[ComputedAttribute],
    *,
    person_ids: Sequence[int] | None,
    now: datetime | None = None,
    progress=None,
    raise_errors: bool = False,
) -> int:
    """Recompute ``attributes`` for ``person_ids`` (None: everyone), set-based, in dependency order."""
    now = now or timezone.now()
    tz = organization_tz()
    ordered = steps(attributes)
    if progress is not None:
        progress.set_total(len(ordered))
    existing: set[int] = set()
    if person_ids is None:
        # Attributes with stored values or (PostgreSQL) a partition are recomputed in place; the
        # others are loaded fresh (into a new partition where the table is partitioned).
        existing = {a.pk for a in attributes if ComputedValue.objects.filter(attribute_id=a.pk).exists()}
        existing |= sql.partitions_of([a.pk for a in attributes])
    if person_ids is not None and not raise_errors:
        # A few people (incremental refresh): one transaction for every step; only when one fails,
        # again step by step so the others still update and the failing one records its error.
        try:
            with transaction.atomic():
                return sum(run_step(step, person_ids, now, tz, existing) for step in ordered)
        except Exception:
            log.warning("refresh of %s people failed; retrying step by step", len(person_ids), exc_info=True)
    written = 0
    for step in ordered:
        ids = [a.pk for a in step]
        try:
            with transaction.atomic():
                written += run_step(step, person_ids, now, tz, existing)
        except Exception as exc:
            if raise_errors:
                raise
            log.exception("computing %s failed", [a.key for a in step])
            ComputedAttribute.objects.filter(pk__in=ids).update(
                error_count=F("error_count") + 1,
                last_error=f"{type(exc).__name__}: {exc}"[:4000],
                last_error_at=timezone.now(),
            )
        if progress is not None:
            progress.advance(1)
    return written


def run_step(step: list[ComputedAttribute], person_ids, now: datetime, tz, existing: set[int]) -> int:
    ids = [a.pk for a in step]
    if person_ids is None and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL work_mem = '256MB'")
            cursor.execute("SET LOCAL jit = off")
    after: list[sql.Rows] = []
    rows = rows_for(step, person_ids=person_ids, now=now, tz=tz, after=after)
    fresh = person_ids is None and not existing.intersection(ids)
    if fresh and sql.partitioned() and sql.worth_a_partition():
        written = sql.load_partitions(rows, attribute_ids=ids, computed_at=now)
    else:
        written = sql.run_writes(
            sql.write_statements(rows, attribute_ids=ids, person_ids=person_ids, computed_at=now, fresh=fresh)
        )
    if after:
        with connection.cursor() as cursor:
            for statement, params in after:
                cursor.execute(statement, params)
    return written
