"""Identify (and group) traits of a whole batch in three statements.

``people.services.person_write_attributes`` costs a locking SELECT, an UPDATE and an audit INSERT
per call, i.e. per message with traits. The pipeline instead calls ``people_write_traits`` once per
batch: one locking SELECT of every person concerned (primary-key order), the same per-key
decisions as ``person_write_attributes`` (casting, set/set_once/unset, source priority, event time,
partner feeds: ``people.services.apply_attribute_writes``) applied in message order on the loaded
rows, one UPDATE of the changed people and one INSERT of the audit rows.

It may belong in ``people.services`` as a batch variant of ``person_write_attributes``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from identity.bulk import bulk_update
from people.models import AttributeChange, AttributeDefinition, Person, Source
from people.services import AttributeWrite, apply_attribute_writes, validate_attribute_writes


@dataclass(frozen=True)
class TraitWrite:
    person_id: int
    writes: Sequence[AttributeWrite]
    at: datetime  # the message's event time


def people_write_traits(
    items: Sequence[TraitWrite],
    *,
    source: Source,
    definitions: dict[str, AttributeDefinition] | None = None,
) -> dict[int, dict[str, tuple]]:
    """Apply ``items`` in order (as ``person_write_attributes(notify=False)`` one by one would).

    Returns the changed keys per person: ``{person_id: {key: (old, new)}}``. Values are validated
    first; an invalid value raises ``AttributeValueError`` and nothing is written. Call inside a
    transaction. Read Only sources write nothing.
    """
    cast = [(item, validate_attribute_writes(item.writes, definitions)) for item in items]
    if source.protection == Source.Protection.READ_ONLY or not items:
        return {}
    people = {
        p.pk: p
        for p in Person.objects.select_for_update()
        .filter(pk__in=sorted({item.person_id for item in items}))
        .order_by("pk")
    }
    changed: dict[int, dict[str, tuple]] = {}
    fields: set[str] = set()
    dirty: set[int] = set()
    audit: list[AttributeChange] = []
    now = timezone.now()
    for item, cast_writes in cast:
        person = people.get(item.person_id)
        if person is None:
            continue
        applied = apply_attribute_writes(person, cast_writes, source=source, at=item.at)
        if applied.changed:
            person.modified_at = now
            changed.setdefault(person.pk, {}).update(applied.changed)
        if applied.fields:
            fields |= applied.fields
            dirty.add(person.pk)
        audit += applied.audit
    if dirty:
        bulk_update([people[pk] for pk in sorted(dirty)], sorted(fields))
    if audit:
        AttributeChange.objects.bulk_create(audit)
    return changed
