"""Reads of the computed app: checking a definition, where an attribute is used, values of a person,
evaluation of a plan (or an unsaved definition) on one profile."""

from __future__ import annotations

import functools
import math
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db.models import FilteredRelation, Q
from django.utils import timezone

from computed import extensions
from computed.aggregates import compute as compute_aggregate
from computed.lang.evaluator import evaluate_explained
from computed.models import VALUE_COLUMNS, ComputedAttribute, ComputedValue, stored_in_range
from computed.plans import Plan, build_plan
from people import conditions
from people.conditions.attributes import attribute_values
from people.models import AttributeType, Event, Person
from people.rawsql import CompiledOnce
from people.selectors import organization_tz

State = ComputedAttribute.State
SHOWN_STATES = (State.ACTIVE, State.DISABLED, State.PROCESSING)


def check_definition(*, key: str, kind: str, definition: Any, exclude_pk: int | None = None) -> Plan:
    """The checked plan of a definition under ``key``; raises ``ValidationError`` keyed by field
    (``key``, ``definition.<path>``): key free among all attributes, definition valid, no self-use."""
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


def where_used(attribute: ComputedAttribute) -> list[str]:
    """Everything that uses this attribute: other computed attributes, audiences, actions ..."""
    uses = [
        f"computed attribute {d.key!r} ({d.get_state_display().lower()})"
        for d in attribute.dependents.order_by("key")
    ]
    for finder in extensions.usage_finders:
        uses.extend(finder(attribute))
    return uses


def run_profile_test(*, kind: str, definition: Any, person: Person, now: datetime | None = None) -> dict:
    """Evaluate a (possibly unsaved, draft) definition for one person, with how the result was reached.

    Returns ``{"value": ..., "output_type": ..., "explanation": {...}}``; raises ``ValidationError``
    for an invalid definition.
    """
    plan = build_plan(kind, definition)
    value, explanation = evaluate_plan(plan, person, now=now or timezone.now(), tz=organization_tz())
    return {"value": value, "output_type": plan.output_type, "explanation": explanation}


def to_json(output_type: str, value: Any) -> Any:
    """A value as shown and returned by the API (whole numbers as int, dates ISO)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    if (
        output_type == AttributeType.INTEGER
        and isinstance(value, int | float)
        and not isinstance(value, bool)
    ):
        return int(value)
    if output_type == AttributeType.BOOLEAN:
        return bool(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def evaluate_plan(plan: Plan, person: Person, *, now: datetime, tz: ZoneInfo) -> tuple[Any, dict]:
    """A plan's value for one person, computed in Python, with an explanation."""
    if plan.formula is not None:
        refs = list(plan.formula.refs.values())
        values = attribute_values(person, refs)
        value, out_of_range = evaluate_explained(plan.formula, values, now=now, tz=tz)
        explanation = {
            "kind": "formula",
            "inputs": {key: to_json_any(v) for key, v in values.items()},
            "empty_inputs": sorted(k for k, v in values.items() if v is None),
        }
        if out_of_range:
            explanation["out_of_range"] = out_of_range
        return to_json(plan.output_type, value), explanation
    if plan.aggregate is not None:
        agg = plan.aggregate
        rows = list(
            Event.objects.filter(person_id=person.pk, name=agg.event)
            .order_by("timestamp", "pk")
            .values("pk", "timestamp", "properties")
        )
        value, used = compute_aggregate(agg, rows, now=now, tz=tz)
        low, high = agg.period.bounds(now, tz)
        return to_json(plan.output_type, value), {
            "kind": "aggregate",
            "function": agg.function,
            "event": agg.event,
            "period": {"from": to_json_any(low), "until": to_json_any(high)},
            "events_of_that_name": len(rows),
            "matched_events": len(used),
            "matched_event_ids": [r["pk"] for r in used[:100]],
        }
    total = 0
    fired = []
    for rule in plan.rules:
        result = conditions.explain(rule.condition, person, now=now, tz=tz)
        if result["matched"]:
            total += rule.points
        fired.append({"label": rule.label, "points": rule.points, **result})
    return total, {"kind": "score", "rules": fired}


def to_json_any(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def person_values(*, person_id: int, states=SHOWN_STATES) -> dict[str, dict]:
    """``{key: {"value", "computed_at", "state", ...}}`` for every shown attribute (empty values included)."""
    attributes = list(ComputedAttribute.objects.filter(state__in=states).order_by("group", "key"))
    stored = {
        row.attribute_id: row
        for row in ComputedValue.objects.filter(
            stored_in_range(), person_id=person_id, attribute__in=attributes
        )
    }
    out = {}
    for attribute in attributes:
        row = stored.get(attribute.pk)
        raw = getattr(row, VALUE_COLUMNS[attribute.output_type]) if row else attribute.empty_value
        out[attribute.key] = {
            "key": attribute.key,
            "name": attribute.name,
            "kind": attribute.kind,
            "group": attribute.group,
            "state": attribute.state,
            "output_type": attribute.output_type,
            "value": to_json(attribute.output_type, raw),
            "computed_at": row.computed_at if row else None,
            "pk": attribute.pk,
        }
    return out


def person_computed_rows(*, person_id: int, exclude_group: str = "") -> list[dict]:
    return [
        row
        for row in person_values(person_id=person_id).values()
        if not exclude_group or row["group"] != exclude_group
    ]


def person_purchase_statistics(*, person_id: int) -> list[dict]:
    return [
        row for row in person_values(person_id=person_id).values() if row["group"] == "purchase_statistics"
    ]


@functools.lru_cache(maxsize=64)
def _empty_value(kind: str, function: Any) -> Any:
    """``ComputedAttribute.empty_value`` by what it depends on (no model built per request)."""
    return ComputedAttribute(kind=kind, definition={"function": function}).empty_value


_SENTINEL_PERSON = -7_340_318_977  # stands for the person id in the statement built once


def _traits_queryset(person_id: int):
    low, high = datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)
    in_range = (
        Q(values__person_id=person_id)
        & ~Q(values__day__gt=date.max)
        & ~Q(values__day__lt=date.min)
        & ~Q(values__moment__gt=high)
        & ~Q(values__moment__lt=low)
    )
    return (
        ComputedAttribute.objects.filter(state=State.ACTIVE)
        .annotate(stored=FilteredRelation("values", condition=in_range))
        .order_by("group", "key")
        .values_list(
            "key",
            "kind",
            "output_type",
            "definition__function",
            "stored__attribute_id",
            "stored__number",
            "stored__text",
            "stored__flag",
            "stored__day",
            "stored__moment",
            "stored__computed_at",
        )
    )


# The traits query, compiled once per process (people.rawsql.CompiledOnce).
traits_rows = CompiledOnce(_traits_queryset, _SENTINEL_PERSON)


def person_traits(person: Person) -> dict[str, dict]:
    """Active computed attributes of one person as Profile API traits (``class=computed_trait``).

    One query (the Profile API runs it per request, within its identifier lookup), compiled once
    per process: the active attributes left-joined with this person's stored values, as tuples (no
    model instances, no definitions decoded); an attribute without a stored value gives its empty
    value, as in ``person_values``.
    """
    return traits_from_rows(traits_rows.rows(person.pk), person)


def traits_from_rows(rows: list, person: Person) -> dict[str, dict]:
    """``person_traits`` from the rows of ``traits_rows``."""
    out = {}
    for key, kind, output_type, function, stored, number, text, flag, day, moment, computed_at in rows:
        if stored is None:
            raw = _empty_value(kind, function)
        else:
            raw = {"number": number, "text": text, "flag": flag, "day": day, "moment": moment}[
                VALUE_COLUMNS[output_type]
            ]
        out[key] = {"value": to_json(output_type, raw), "updated_at": computed_at}
    return out
