"""Writes of the computed app: definitions and their lifecycle, and computing values.

The Python API (stable; the benchmark calls it):

- ``activate(attribute, *, user=None)``: process every profile now (synchronously), then active.
- ``activate_many(attributes, *, user=None)``: the same for several at once (aggregates over the
  same event share one pass).
- ``refresh_person(person_id)`` / ``refresh_people(person_ids)``: recompute every active attribute
  for those people, in dependency order.
- ``reevaluate_sliding(now=None)``: recompute everything whose value can change with time alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from computed import refresh, sql
from computed.lang.compiler import compile_formula
from computed.models import ComputedAttribute, ComputedValue
from computed.plans import Plan, build_plan, plan_of
from people import conditions
from people.models import Person
from people.selectors import organization_tz
from people.services import job_start

log = logging.getLogger(__name__)
State = ComputedAttribute.State

# Higher apps (audiences, actions) register ``finder(attribute) -> list[str]`` describing their uses.
_usage_finders: list[Callable[[ComputedAttribute], list[str]]] = []


def register_usage_finder(finder: Callable[[ComputedAttribute], list[str]]) -> None:
    _usage_finders.append(finder)


# ---------------------------------------------------------------- definitions


def _validate(*, key: str, kind: str, definition: Any, exclude_pk: int | None = None) -> Plan:
    errors: dict[str, Any] = {}
    existing = conditions.resolve(key)
    if existing is not None and not (existing.kind == "computed" and existing.ref_id == exclude_pk):
        errors["key"] = f"{key!r} is already the key of a {existing.kind} attribute"
    elif ComputedAttribute.objects.filter(key=key).exclude(pk=exclude_pk).exists():
        errors["key"] = f"{key!r} is already the key of a computed attribute"
    try:
        plan = build_plan(kind, definition)
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            for field, messages in exc.message_dict.items():
                errors[f"definition.{field}"] = messages
        else:
            errors["definition"] = exc.messages
        raise ValidationError(errors) from exc
    if errors:
        raise ValidationError(errors)
    if key in plan.references:
        raise ValidationError({"definition": f"{key!r} cannot refer to itself"})
    return plan


def _set_dependencies(attribute: ComputedAttribute, plan: Plan) -> None:
    keys = plan.references
    attribute.dependencies.set(ComputedAttribute.objects.filter(key__in=keys).exclude(pk=attribute.pk))


@transaction.atomic
def computed_attribute_create(
    *,
    key: str,
    name: str,
    kind: str,
    definition: Any,
    description: str = "",
    group: str = "",
    created_by=None,
) -> ComputedAttribute:
    """A new draft (checked: key free among all attributes, definition valid)."""
    attribute = ComputedAttribute(
        key=key, name=name, kind=kind, definition=definition, description=description, group=group
    )
    attribute.created_by = created_by
    attribute.full_clean(exclude=["output_type", "definition"])
    plan = _validate(key=key, kind=kind, definition=definition)
    attribute.output_type = plan.output_type
    attribute.save()
    _set_dependencies(attribute, plan)
    return attribute


@transaction.atomic
def computed_attribute_update(*, attribute: ComputedAttribute, **fields) -> ComputedAttribute:
    """Change a draft (key, name, description, definition). Active or processing ones: duplicate."""
    locked = ComputedAttribute.objects.select_for_update().get(pk=attribute.pk)
    if not locked.is_editable:
        raise ValidationError(
            f"{locked.get_state_display()} computed attributes cannot be edited; duplicate it to change it."
        )
    allowed = {"key", "name", "description", "definition", "group"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValidationError(f"cannot change {', '.join(sorted(unknown))}")
    for name, value in fields.items():
        setattr(locked, name, value)
    locked.full_clean(exclude=["output_type", "definition"])
    plan = _validate(key=locked.key, kind=locked.kind, definition=locked.definition, exclude_pk=locked.pk)
    locked.output_type = plan.output_type
    locked.save()
    _set_dependencies(locked, plan)
    attribute.__dict__.update({k: v for k, v in locked.__dict__.items() if not k.startswith("_")})
    return locked


@transaction.atomic
def computed_attribute_duplicate(
    *, attribute: ComputedAttribute, key: str | None = None, name: str | None = None, created_by=None
) -> ComputedAttribute:
    """An editable draft copy (the way to change an active attribute)."""
    if key is None:
        base = f"{attribute.key}_copy"[:60]
        key, n = base, 2
        while ComputedAttribute.objects.filter(key=key).exists() or conditions.resolve(key) is not None:
            key, n = f"{base}{n}", n + 1
    return computed_attribute_create(
        key=key,
        name=name or f"{attribute.name} (copy)",
        kind=attribute.kind,
        definition=attribute.definition,
        description=attribute.description,
        created_by=created_by,
    )


def where_used(attribute: ComputedAttribute) -> list[str]:
    """Everything that uses this attribute: other computed attributes, audiences, actions ..."""
    uses = [
        f"computed attribute {d.key!r} ({d.get_state_display().lower()})"
        for d in attribute.dependents.order_by("key")
    ]
    for finder in _usage_finders:
        uses.extend(finder(attribute))
    return uses


@transaction.atomic
def computed_attribute_delete(*, attribute: ComputedAttribute) -> None:
    """Delete the definition and its values from every profile; refused while anything uses it."""
    locked = ComputedAttribute.objects.select_for_update().get(pk=attribute.pk)
    if locked.state == State.PROCESSING:
        raise ValidationError(
            "This computed attribute is processing; wait until it is active, then disable it."
        )
    uses = where_used(locked)
    if uses:
        raise ValidationError(f"{locked.key!r} is in use and cannot be deleted. Used by: " + "; ".join(uses))
    ComputedValue.objects.filter(attribute=locked).delete()
    sql.drop_partition(locked.pk)
    locked.delete()


@transaction.atomic
def computed_attribute_disable(*, attribute: ComputedAttribute) -> ComputedAttribute:
    """Stop updating; values stay on the profiles."""
    locked = ComputedAttribute.objects.select_for_update().get(pk=attribute.pk)
    if locked.state != State.ACTIVE:
        raise ValidationError(f"Only active attributes can be disabled; this one is {locked.state}.")
    locked.state = State.DISABLED
    locked.save(update_fields=["state"])
    attribute.state = locked.state
    return locked


def _check_activatable(attribute: ComputedAttribute, together: Sequence[int] = ()) -> Plan:
    """Draft or disabled, valid, and everything it uses active (or activated together with it)."""
    if attribute.state not in (State.DRAFT, State.DISABLED):
        raise ValidationError(
            f"Only draft or disabled attributes can be activated; this one is {attribute.state}."
        )
    plan = build_plan(attribute.kind, attribute.definition)
    inactive = (
        ComputedAttribute.objects.filter(key__in=plan.references)
        .exclude(state=State.ACTIVE)
        .exclude(pk__in=together)
    )
    if inactive.exists():
        keys = ", ".join(inactive.values_list("key", flat=True))
        raise ValidationError(f"Activate the attributes it uses first: {keys}.")
    return plan


@transaction.atomic
def computed_attribute_activate(*, attribute: ComputedAttribute, user=None):
    """Start activation as a job (processing with a progress bar); returns the job."""
    locked = ComputedAttribute.objects.select_for_update().get(pk=attribute.pk)
    _check_activatable(locked)
    job = job_start(
        kind="computed.activate",
        params={"attribute_ids": [locked.pk]},
        created_by=user,
        total=1,
    )
    locked.state = State.PROCESSING
    locked.job = job
    locked.activated_by = user
    locked.save(update_fields=["state", "job", "activated_by"])
    attribute.__dict__.update({k: v for k, v in locked.__dict__.items() if not k.startswith("_")})
    return job


def activate(attribute: ComputedAttribute, *, user=None) -> ComputedAttribute:
    """Process every profile now, synchronously, then mark the attribute active (benchmark API)."""
    return activate_many([attribute], user=user)[0]


def activate_many(
    attributes: Sequence[ComputedAttribute], *, user=None, progress=None
) -> list[ComputedAttribute]:
    """Activate several attributes: compute all profiles (grouped statements), then active."""
    with transaction.atomic():
        locked = list(ComputedAttribute.objects.select_for_update().filter(pk__in=[a.pk for a in attributes]))
        for attribute in locked:
            if attribute.state != State.PROCESSING:
                _check_activatable(attribute, [a.pk for a in locked])
        ComputedAttribute.objects.filter(pk__in=[a.pk for a in locked]).update(
            state=State.PROCESSING, activated_by=user
        )
    return run_activation([a.pk for a in attributes], user=user, progress=progress)


def run_activation(attribute_ids: Sequence[int], *, user=None, progress=None) -> list[ComputedAttribute]:
    """Compute every profile for processing attributes, then mark them active (safe to run twice)."""
    attributes = list(ComputedAttribute.objects.filter(pk__in=attribute_ids, state=State.PROCESSING))
    if not attributes:
        return list(ComputedAttribute.objects.filter(pk__in=attribute_ids))
    now = timezone.now()
    try:
        compute(attributes, person_ids=None, now=now, progress=progress, raise_errors=True)
    except Exception as exc:
        ComputedAttribute.objects.filter(pk__in=[a.pk for a in attributes]).update(
            state=State.DRAFT,
            error_count=F("error_count") + 1,
            last_error=f"Activation failed: {type(exc).__name__}: {exc}"[:4000],
            last_error_at=timezone.now(),
        )
        raise
    ComputedAttribute.objects.filter(pk__in=[a.pk for a in attributes]).update(
        state=State.ACTIVE,
        activated_at=timezone.now(),
        last_computed_at=now,
        error_count=0,
        last_error="",
    )
    return list(ComputedAttribute.objects.filter(pk__in=attribute_ids).order_by("pk"))


# ---------------------------------------------------------------- computing values


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


def _steps(
    attributes: Sequence[ComputedAttribute], *, one_pass: bool = False
) -> list[list[ComputedAttribute]]:
    """Statements to run, in order: simple aggregates over one event share a step (``one_pass``, for
    a few people: all simple aggregates share one step, whatever their event)."""
    steps: list[list[ComputedAttribute]] = []
    simple: dict[str, list[ComputedAttribute]] = {}
    for attribute in dependency_order(attributes):
        plan = plan_of(attribute)
        if plan.aggregate is not None and not plan.aggregate.windowed:
            event = "" if one_pass else plan.aggregate.event
            if event not in simple:
                simple[event] = []
                steps.append(simple[event])
            simple[event].append(attribute)
        else:
            steps.append([attribute])
    return steps


def _rows_for(step: list[ComputedAttribute], *, person_ids, now: datetime, tz):
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
        expression = compile_formula(
            plan.formula, alias="p", vendor=connection.vendor, now=now, tz=tz, joins=joins
        )
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
    steps = _steps(attributes)
    if progress is not None:
        progress.set_total(len(steps))
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
                return sum(_run_step(step, person_ids, now, tz, existing) for step in steps)
        except Exception:
            log.warning("refresh of %s people failed; retrying step by step", len(person_ids), exc_info=True)
    written = 0
    for step in steps:
        ids = [a.pk for a in step]
        try:
            with transaction.atomic():
                written += _run_step(step, person_ids, now, tz, existing)
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


def _run_step(step: list[ComputedAttribute], person_ids, now: datetime, tz, existing: set[int]) -> int:
    ids = [a.pk for a in step]
    if person_ids is None and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL work_mem = '256MB'")
            cursor.execute("SET LOCAL jit = off")
    rows = _rows_for(step, person_ids=person_ids, now=now, tz=tz)
    fresh = person_ids is None and not existing.intersection(ids)
    if fresh and sql.partitioned() and sql.worth_a_partition():
        return sql.load_partitions(rows, attribute_ids=ids, computed_at=now)
    return sql.write_rows(
        rows,
        attribute_ids=ids,
        person_ids=person_ids,
        computed_at=now,
        fresh=fresh,
    )


def refresh_people(person_ids: Iterable[int], *, now: datetime | None = None) -> int:
    """Recompute every active attribute for these people (after their events or attributes changed).

    A few people at a time go through the cached refresh program (``computed.refresh``): one query
    for the active definitions, then every statement pipelined in one transaction.
    """
    ids = sorted(set(person_ids))
    if not ids:
        return 0
    now = now or timezone.now()
    snapshot = refresh.active_snapshot()
    if not snapshot.attributes:
        return 0
    if len(ids) <= refresh.PROGRAM_PEOPLE:
        try:
            return refresh.run(snapshot, ids, now=now)
        except Exception:
            log.warning("refresh of %s people failed; retrying step by step", len(ids), exc_info=True)
            return compute(snapshot.attributes, person_ids=ids, now=now)
    written = 0
    for start in range(0, len(ids), 1000):
        written += compute(snapshot.attributes, person_ids=ids[start : start + 1000], now=now)
    return written


def refresh_person(person_id: int, *, now: datetime | None = None) -> int:
    return refresh_people([person_id], now=now)


def reevaluate_sliding(*, now: datetime | None = None) -> list[str]:
    """Daily: recompute, over everyone, the active attributes that time alone can change
    (windows, now()/today(), and whatever depends on them)."""
    active = list(ComputedAttribute.objects.filter(state=State.ACTIVE))
    sliding = {a.key for a in active if plan_of(a).slides}
    changed = True
    while changed:
        changed = False
        for a in active:
            if a.key not in sliding and plan_of(a).references & sliding:
                sliding.add(a.key)
                changed = True
    chosen = [a for a in active if a.key in sliding]
    if chosen:
        now = now or timezone.now()
        compute(chosen, person_ids=None, now=now)
        ComputedAttribute.objects.filter(pk__in=[a.pk for a in chosen]).update(last_computed_at=now)
    return sorted(sliding)


# ---------------------------------------------------------------- test on a profile


def run_profile_test(*, kind: str, definition: Any, person: Person, now: datetime | None = None) -> dict:
    """Evaluate a (possibly unsaved, draft) definition for one person, with how the result was reached.

    Returns ``{"value": ..., "output_type": ..., "explanation": {...}}``; raises ``ValidationError``
    for an invalid definition.
    """
    from computed.selectors import evaluate_plan

    plan = build_plan(kind, definition)
    value, explanation = evaluate_plan(plan, person, now=now or timezone.now(), tz=organization_tz())
    return {"value": value, "output_type": plan.output_type, "explanation": explanation}


# ---------------------------------------------------------------- purchase statistics (DFINERY)

PURCHASE_PERIODS = (("3m", "3 months", 3), ("6m", "6 months", 6), ("1y", "1 year", 12))
PURCHASE_GROUP = "purchase_statistics"


def purchase_statistics_definitions(
    *, event: str, amount: str, category: str, product: str, prefix: str = "purchase_"
) -> list[dict]:
    """The set's definitions: counts, amounts and averages per period (as of the previous day), most
    purchased weekday and hour, first and last purchase, top 3 categories and products per period."""
    items: list[dict] = []

    def add(key: str, name: str, definition: dict) -> None:
        items.append({"key": f"{prefix}{key}", "name": name, "kind": "aggregate", "definition": definition})

    for suffix, label, months in PURCHASE_PERIODS:
        period = {"type": "full_months", "value": months}
        add(f"count_{suffix}", f"Purchases, {label}", {"function": "count", "event": event, "period": period})
        add(
            f"amount_{suffix}",
            f"Purchase amount, {label}",
            {"function": "sum", "event": event, "property": amount, "period": period},
        )
        add(
            f"average_{suffix}",
            f"Average purchase amount, {label}",
            {"function": "average", "event": event, "property": amount, "period": period},
        )
    before_today = {"type": "before_today"}
    add(
        "top_weekday",
        "Most purchased weekday",
        {"function": "most_common", "event": event, "property": "$weekday", "period": before_today},
    )
    add(
        "top_hour",
        "Most purchased hour",
        {"function": "most_common", "event": event, "property": "$hour", "period": before_today},
    )
    add(
        "first_at",
        "First purchase",
        {"function": "min", "event": event, "property": "$timestamp", "period": before_today},
    )
    add(
        "last_at",
        "Last purchase",
        {"function": "max", "event": event, "property": "$timestamp", "period": before_today},
    )
    for prop, prop_key, prop_label in ((category, "category", "category"), (product, "product", "product")):
        for suffix, label, months in PURCHASE_PERIODS:
            for rank in (1, 2, 3):
                add(
                    f"top_{prop_key}_{rank}_{suffix}",
                    f"Top {prop_label} #{rank}, {label}",
                    {
                        "function": "top",
                        "event": event,
                        "property": prop,
                        "rank": rank,
                        "amount_property": amount,
                        "period": {"type": "full_months", "value": months},
                    },
                )
    return items


@transaction.atomic
def purchase_statistics_create(
    *,
    event: str = "Order Completed",
    amount: str = "amount",
    category: str = "category",
    product: str = "product",
    prefix: str = "purchase_",
    created_by=None,
) -> list[ComputedAttribute]:
    """Create the purchase-statistics set as drafts (activate them with ``activate_many``)."""
    created = []
    for item in purchase_statistics_definitions(
        event=event, amount=amount, category=category, product=product, prefix=prefix
    ):
        created.append(
            computed_attribute_create(
                key=item["key"],
                name=item["name"],
                kind=item["kind"],
                definition=item["definition"],
                group=PURCHASE_GROUP,
                created_by=created_by,
            )
        )
    return created


@transaction.atomic
def computed_attributes_activate(*, attributes: Sequence[ComputedAttribute], user=None):
    """Start activating several attributes as one job (e.g. the purchase-statistics set)."""
    locked = list(ComputedAttribute.objects.select_for_update().filter(pk__in=[a.pk for a in attributes]))
    for attribute in locked:
        _check_activatable(attribute, [a.pk for a in locked])
    job = job_start(
        kind="computed.activate",
        params={"attribute_ids": [a.pk for a in locked]},
        created_by=user,
        total=len(locked),
    )
    ComputedAttribute.objects.filter(pk__in=[a.pk for a in locked]).update(
        state=State.PROCESSING, job=job, activated_by=user
    )
    return job
