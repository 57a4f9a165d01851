"""Writes of the computed app: definitions and their lifecycle, and (re)computing stored values.

The Python API (stable; the benchmark calls it):

- ``activate(attribute, *, user=None)``: process every profile now (synchronously), then active.
- ``activate_many(attributes, *, user=None)``: the same for several at once (aggregates over the
  same event share one pass).
- ``refresh_person(person_id)`` / ``refresh_people(person_ids)``: recompute every active attribute
  for those people, in dependency order.
- ``reevaluate_sliding(now=None)``: recompute everything whose value can change with time alone.

The statements themselves come from ``computed.engine``; checks, test-on-a-profile and where-used
are reads (``computed.selectors``); preset definition sets live in ``computed.presets``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from computed import engine, presets, refresh, sql
from computed.models import ComputedAttribute, ComputedValue
from computed.plans import Plan, build_plan, moved_by_contact, moved_by_events, plan_of
from computed.selectors import check_definition, where_used
from people import conditions
from people.definitions import DefinitionWrites
from people.services import CONTACT_REASON, copy_field_values, grouped_by_what_events_move, job_start

log = logging.getLogger(__name__)
State = ComputedAttribute.State


# ---------------------------------------------------------------- definitions


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
    plan = check_definition(key=key, kind=kind, definition=definition)
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
    plan = check_definition(
        key=locked.key, kind=locked.kind, definition=locked.definition, exclude_pk=locked.pk
    )
    locked.output_type = plan.output_type
    locked.save()
    _set_dependencies(locked, plan)
    copy_field_values(locked, into=attribute)
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
    """Start activation as a job (processing with a progress bar); returns the job. The caller's
    ``attribute`` shows it processing."""
    job = computed_attributes_activate(attributes=[attribute], user=user)
    attribute.refresh_from_db()
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
        engine.compute(attributes, person_ids=None, now=now, progress=progress, raise_errors=True)
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


# ---------------------------------------------------------------- updates


def refresh_people(
    person_ids: Iterable[int],
    *,
    now: datetime | None = None,
    events: Mapping[int, Iterable[str]] | None = None,
    reason: str = "",
) -> int:
    """Recompute every active attribute for these people (after their events or attributes changed).

    ``events``: all that changed about these people is new events, named per person; each is
    refreshed only for the attributes those events can change (``plans.moved_by_events``), people
    with the same such attributes together, none at all for events no attribute reads. ``reason``
    ``contact`` (only a contact was recorded): only the attributes reading last contacted and their
    dependants (``plans.moved_by_contact``).

    A few people at a time go through the cached refresh program (``computed.refresh``): one query
    for the active definitions, then every statement pipelined in one transaction.
    """
    ids = sorted(set(person_ids))
    if not ids:
        return 0
    now = now or timezone.now()
    snapshot = refresh.active_snapshot()
    if reason == CONTACT_REASON and events is None:
        snapshot = refresh.narrowed(snapshot, moved_by_contact(snapshot.attributes))
    if not snapshot.attributes:
        return 0
    if events is None:
        return _refresh(snapshot, ids, now)
    groups = grouped_by_what_events_move(
        ids, events, lambda names: moved_by_events(snapshot.attributes, names)
    )
    written = 0
    for attribute_ids, people in groups.items():
        kept = [a for a in snapshot.attributes if a.pk in attribute_ids]
        written += _refresh(refresh.narrowed(snapshot, kept), people, now)
    return written


def _refresh(snapshot: refresh.Snapshot, ids: list[int], now: datetime) -> int:
    if len(ids) <= refresh.PROGRAM_PEOPLE:
        try:
            return refresh.run(snapshot, ids, now=now)
        except Exception:
            log.warning("refresh of %s people failed; retrying step by step", len(ids), exc_info=True)
            return engine.compute(snapshot.attributes, person_ids=ids, now=now)
    written = 0
    for start in range(0, len(ids), 1000):
        written += engine.compute(snapshot.attributes, person_ids=ids[start : start + 1000], now=now)
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
        engine.compute(chosen, person_ids=None, now=now)
        ComputedAttribute.objects.filter(pk__in=[a.pk for a in chosen]).update(last_computed_at=now)
    return sorted(sliding)


# ---------------------------------------------------------------- presets


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
    for item in presets.purchase_statistics_definitions(
        event=event, amount=amount, category=category, product=product, prefix=prefix
    ):
        created.append(
            computed_attribute_create(
                key=item["key"],
                name=item["name"],
                kind=item["kind"],
                definition=item["definition"],
                group=presets.PURCHASE_GROUP,
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


# The services the management API and the admin write computed attributes with.
WRITES = DefinitionWrites(
    definition="attribute",
    create=computed_attribute_create,
    update=computed_attribute_update,
    delete=computed_attribute_delete,
    duplicate=computed_attribute_duplicate,
    disable=computed_attribute_disable,
    activate=computed_attribute_activate,
)
