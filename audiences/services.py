"""Writes of the audiences app: definitions and their lifecycle, refreshes, real time.

The Python API (the benchmark calls it):

- ``audience_create(...)``, ``audience_update``, ``audience_duplicate``, ``audience_delete``,
  ``audience_disable``; ``audience_activate`` (a job) or ``activate`` (synchronously);
- ``refresh(audience)``: recompute the whole membership now (see ``audiences.membership``);
- ``refresh_people(person_ids)``: real time for a few people;
- ``reevaluate_sliding()``: the scheduled refresh of audiences whose windows slide.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audiences import definition as definitions
from audiences import membership
from audiences.models import Audience, AudienceMembership, RetiredAudienceKey
from people import conditions
from people.definitions import DefinitionWrites
from people.models import Job, key_validator
from people.services import copy_field_values, job_start

State = Audience.State


# ---------------------------------------------------------------- checking


def _audience_paths(data: Any, key: str, path: str = "condition") -> list[str]:
    """Where in a rules condition an ``audience:<key>`` attribute is named."""
    if isinstance(data, dict):
        if data.get("attribute") == f"{definitions.AUDIENCE_PREFIX}{key}":
            return [f"{path}.attribute"]
        out = []
        for kind in ("and", "or"):
            if isinstance(data.get(kind), list):
                for i, child in enumerate(data[kind]):
                    out += _audience_paths(child, key, f"{path}.{kind}[{i}]")
        if "not" in data:
            out += _audience_paths(data["not"], key, f"{path}.not")
        return out
    return []


def _uses_transitively(start: Iterable[int]) -> dict[int, list[str]]:
    """Every audience reachable through ``uses`` from ``start``, with the chain of keys to it."""
    chains: dict[int, list[str]] = {}
    frontier = list(Audience.objects.filter(pk__in=list(start)).values_list("pk", "key"))
    for pk, key in frontier:
        chains[pk] = [key]
    while frontier:
        nxt = []
        for pk, _key in frontier:
            for child_pk, child_key in Audience.objects.filter(used_by=pk).values_list("pk", "key"):
                if child_pk not in chains:
                    chains[child_pk] = [*chains[pk], child_key]
                    nxt.append((child_pk, child_key))
        frontier = nxt
    return chains


def _unstorable(data: Any, path: str) -> list[tuple[str, str]]:
    """Values PostgreSQL cannot hold (NUL, lone surrogates, non-finite numbers), with their paths."""
    if isinstance(data, str):
        if "\x00" in data:
            return [(path, "text may not contain NUL characters")]
        try:
            data.encode("utf-8")
        except UnicodeEncodeError:
            return [(path, "text must be valid Unicode (no lone surrogates)")]
        return []
    if isinstance(data, float) and not math.isfinite(data):
        return [(path, "expected a finite number")]
    if isinstance(data, dict):
        return [issue for k, v in data.items() for issue in _unstorable(v, f"{path}.{k}")] + [
            issue for k in data if isinstance(k, str) for issue in _unstorable(k, path)
        ]
    if isinstance(data, list):
        return [issue for i, v in enumerate(data) for issue in _unstorable(v, f"{path}[{i}]")]
    return []


def validate(
    *,
    audience_type: str,
    definition: Any,
    include_anonymous: bool = False,
    key: str = "",
    pk: int | None = None,
) -> definitions.Compiled:
    """Check a definition (and the audiences it names: known, no cycle); ``ValidationError`` by path."""
    bad = _unstorable(definition, "definition")
    if bad:
        errors: dict[str, list[str]] = {}
        for path, message in bad:
            errors.setdefault(path, []).append(message)
        raise ValidationError(errors)
    try:
        compiled = definitions.check(audience_type, definition, include_anonymous=include_anonymous)
    except definitions.DefinitionError as exc:
        raise ValidationError(
            {f"definition.{p}" if p != "definition" else p: m for p, m in exc.as_dict().items()}
        ) from None
    used = Audience.objects.filter(key__in=compiled.audience_keys())
    errors: dict[str, list[str]] = {}
    for other in used:
        paths = _audience_paths(definition.get("condition"), other.key) or ["condition"]
        if other.key == key or (pk is not None and other.pk == pk):
            for p in paths:
                errors.setdefault(f"definition.{p}", []).append("an audience cannot use itself")
            continue
        if other.state == State.DISABLED:
            for p in paths:
                errors.setdefault(f"definition.{p}", []).append(f"audience {other.key!r} is disabled")
        if pk is not None:
            chains = _uses_transitively([other.pk])
            if pk in chains:
                cycle = " → ".join([key, *chains[pk]])
                for p in paths:
                    errors.setdefault(f"definition.{p}", []).append(f"cycle: {cycle}")
    if errors:
        raise ValidationError(errors)
    return compiled


def _validate_stored(audience: Audience) -> definitions.Compiled:
    """Check an audience row's definition (as set on the row; its key and pk for cycles)."""
    fields = {"definition": audience.definition, "include_anonymous": audience.include_anonymous}
    return validate(audience_type=audience.type, key=audience.key, pk=audience.pk, **fields)


def _validate_key(key: str, *, pk: int | None = None) -> None:
    try:
        key_validator(key)
    except ValidationError as exc:
        raise ValidationError({"key": exc.messages}) from None
    if Audience.objects.filter(key=key).exclude(pk=pk).exists():
        raise ValidationError({"key": f"{key!r} is already the key of an audience"})
    if RetiredAudienceKey.objects.filter(key=key).exists():
        raise ValidationError({"key": f"{key!r} was the key of a deleted audience and cannot be reused"})
    existing = conditions.resolve(key)
    if existing is not None:
        raise ValidationError({"key": f"{key!r} is already the key of a {existing.kind} attribute"})


def _set_uses(audience: Audience, compiled: definitions.Compiled) -> None:
    audience.uses.set(Audience.objects.filter(key__in=compiled.audience_keys()))


# ---------------------------------------------------------------- definitions


@transaction.atomic
def audience_create(
    *,
    key: str,
    name: str,
    audience_type: str = Audience.Type.RULES,
    definition: Any,
    include_anonymous: bool = False,
    description: str = "",
    user=None,
    duplicated_from: Audience | None = None,
) -> Audience:
    _validate_key(key)
    if not name or not str(name).strip():
        raise ValidationError({"name": "expected a name"})
    compiled = validate(
        audience_type=audience_type, definition=definition, include_anonymous=include_anonymous, key=key
    )
    audience = Audience.objects.create(
        key=key,
        name=name,
        description=description,
        type=audience_type,
        include_anonymous=include_anonymous,
        definition=definition,
        sliding=compiled.has_sliding_window(),
        created_by=user,
        duplicated_from=duplicated_from,
    )
    _set_uses(audience, compiled)
    return audience


EDITABLE = ("name", "description", "definition")


@transaction.atomic
def audience_update(*, audience: Audience, **fields) -> Audience:
    """Edit a draft (name, description, definition). Type and include_anonymous are fixed at creation."""
    locked = Audience.objects.select_for_update().get(pk=audience.pk)
    fixed = {"type", "include_anonymous", "key"} & set(fields)
    for field in fixed:
        if fields[field] != getattr(locked, field):
            raise ValidationError({field: "cannot change after creation"})
    unknown = set(fields) - set(EDITABLE) - fixed
    if unknown:
        raise ValidationError({sorted(unknown)[0]: "not an editable field"})
    changes_definition = "definition" in fields and fields["definition"] != locked.definition
    if changes_definition and not locked.is_editable:
        raise ValidationError(
            {"definition": f"a {locked.get_state_display().lower()} audience cannot be edited; duplicate it"}
        )
    if "name" in fields and not str(fields["name"] or "").strip():
        raise ValidationError({"name": "expected a name"})
    for field in EDITABLE:
        if field in fields:
            setattr(locked, field, fields[field])
    if changes_definition:
        compiled = _validate_stored(locked)
        locked.sliding = compiled.has_sliding_window()
        _set_uses(locked, compiled)
    locked.save()
    copy_field_values(locked, into=audience)
    return audience


def free_key(base: str) -> str:
    for n in range(2, 1000):
        candidate = f"{base[:58]}_{n}"
        if not (
            Audience.objects.filter(key=candidate).exists()
            or RetiredAudienceKey.objects.filter(key=candidate).exists()
            or conditions.resolve(candidate) is not None
        ):
            return candidate
    raise ValidationError({"key": "no free key"})


@transaction.atomic
def audience_duplicate(*, audience: Audience, key: str = "", name: str = "", user=None) -> Audience:
    """A draft copy (same type, anonymous choice and definition) to edit; remembers its origin."""
    return audience_create(
        key=key or free_key(audience.key),
        name=name or f"{audience.name} (copy)",
        audience_type=audience.type,
        definition=audience.definition,
        include_anonymous=audience.include_anonymous,
        description=audience.description,
        user=user,
        duplicated_from=audience,
    )


def where_used(audience: Audience) -> list[str]:
    """Where an audience is used: other audiences, and whatever higher apps report."""
    uses = [f"audience {a.key!r}" for a in audience.used_by.all().order_by("key")]
    for finder in _usage_finders:
        uses += finder(audience)
    return uses


_usage_finders: list = []


def register_usage_finder(finder) -> None:
    """Higher apps (actions) register ``finder(audience) -> list[str]`` describing their uses."""
    _usage_finders.append(finder)


@transaction.atomic
def audience_delete(*, audience: Audience) -> None:
    locked = Audience.objects.select_for_update().get(pk=audience.pk)
    uses = where_used(locked)
    if uses:
        raise ValidationError(f"{locked.key!r} is used by {', '.join(uses)}; remove it there first.")
    RetiredAudienceKey.objects.get_or_create(key=locked.key)
    AudienceMembership.objects.filter(audience_id=locked.pk).delete()
    locked.history.all().delete()
    locked.delete()


@transaction.atomic
def audience_disable(*, audience: Audience) -> Audience:
    """Stop evaluating it (members are kept, but it no longer counts anywhere); cannot be undone."""
    locked = Audience.objects.select_for_update().get(pk=audience.pk)
    users = [a.key for a in locked.used_by.exclude(state=State.DISABLED)]
    if users:
        raise ValidationError(
            f"{locked.key!r} is used by audience(s) {', '.join(users)}; disable those first."
        )
    locked.state = State.DISABLED
    locked.save(update_fields=["state"])
    audience.state = locked.state
    return audience


def _check_activatable(audience: Audience) -> definitions.Compiled:
    if audience.state not in (State.DRAFT, State.PROCESSING):
        raise ValidationError(f"a {audience.get_state_display().lower()} audience cannot be activated")
    compiled = _validate_stored(audience)
    inactive = audience.uses.exclude(state=State.ACTIVE).values_list("key", flat=True)
    if inactive:
        raise ValidationError(f"Activate the audiences it uses first: {', '.join(inactive)}.")
    return compiled


@transaction.atomic
def audience_activate(*, audience: Audience, user=None) -> Job:
    """Start activation as a job (processing with a progress bar); returns the job."""
    locked = Audience.objects.select_for_update().get(pk=audience.pk)
    _check_activatable(locked)
    job = job_start(kind="audiences.activate", params={"audience_id": locked.pk}, created_by=user, total=100)
    locked.state = State.PROCESSING
    locked.job = job
    locked.activated_by = user
    locked.save(update_fields=["state", "job", "activated_by"])
    copy_field_values(locked, into=audience)
    return job


def activate(audience: Audience, *, user=None, now: datetime | None = None) -> Audience:
    """Compute the membership now, synchronously, then mark the audience active (benchmark API)."""
    with transaction.atomic():
        locked = Audience.objects.select_for_update().get(pk=audience.pk)
        _check_activatable(locked)
        Audience.objects.filter(pk=locked.pk).update(state=State.PROCESSING, activated_by=user)
    return run_activation(audience.pk, now=now)


def run_activation(audience_id: int, *, now: datetime | None = None, progress=None) -> Audience:
    """Compute every profile for a processing audience, then mark it active (safe to run twice)."""
    audience = Audience.objects.get(pk=audience_id)
    if audience.state != State.PROCESSING:
        return audience
    result = membership.refresh(audience_id, now=now, progress=progress)
    if result.error or not result.ran:
        Audience.objects.filter(pk=audience_id, state=State.PROCESSING).update(state=State.DRAFT)
        raise RuntimeError(f"Activation failed: {result.error}")
    Audience.objects.filter(pk=audience_id, state=State.PROCESSING).update(
        state=State.ACTIVE, activated_at=timezone.now(), error_count=0, last_error=""
    )
    return Audience.objects.get(pk=audience_id)


# ---------------------------------------------------------------- refreshing


def refresh(audience: Audience, *, now: datetime | None = None, progress=None) -> membership.RefreshResult:
    """Recompute an active audience's whole membership now; then the active audiences that use it."""
    result = membership.refresh(audience.pk, now=now, progress=progress)
    if result.ran and not result.error and (result.entered or result.exited):
        for dependent in audience.used_by.filter(state=State.ACTIVE):
            refresh_later(audience=dependent)
    return result


def refresh_later(*, audience: Audience, user=None) -> Job:
    return job_start(
        kind="audiences.refresh", params={"audience_id": audience.pk}, created_by=user, total=100
    )


@transaction.atomic
def audience_refresh(*, audience: Audience, user=None) -> Job:
    """Start a full refresh of an active audience as a job."""
    if audience.state != State.ACTIVE:
        raise ValidationError("only an active audience can be refreshed")
    job = refresh_later(audience=audience, user=user)
    Audience.objects.filter(pk=audience.pk).update(job=job)
    return job


refresh_people = membership.refresh_people  # real time: a few people against the active audiences


def reevaluate_sliding(*, now: datetime | None = None) -> list[str]:
    """Refresh every active audience whose membership can change with time alone."""
    keys = []
    for audience in Audience.objects.filter(state=State.ACTIVE, sliding=True).order_by("pk"):
        result = refresh(audience, now=now)
        if result.ran and not result.error:
            keys.append(audience.key)
    return keys


__all__ = [
    "activate",
    "audience_activate",
    "audience_create",
    "audience_delete",
    "audience_disable",
    "audience_duplicate",
    "audience_refresh",
    "audience_update",
    "refresh",
    "refresh_people",
    "reevaluate_sliding",
    "validate",
    "where_used",
]


# The services the management API and the admin write audiences with.
WRITES = DefinitionWrites(
    definition="audience",
    user="user",
    create=audience_create,
    update=audience_update,
    delete=audience_delete,
    duplicate=audience_duplicate,
    disable=audience_disable,
    activate=audience_activate,
)
