"""Identify (and group) traits of a whole batch in three statements.

``people.services.person_write_attributes`` costs a locking SELECT, an UPDATE and an audit INSERT
per call, i.e. per message with traits. The pipeline instead calls ``people_write_traits`` once per
batch: one locking SELECT of every person concerned (primary-key order), the same per-key
decisions as ``person_write_attributes`` (casting, set/set_once/unset, source priority, event time,
partner feeds) applied in message order on the loaded rows, one UPDATE of the changed people and one
INSERT of the audit rows.

It reuses people's casting and decision helpers; it may belong in ``people.services`` as a batch
variant of ``person_write_attributes``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from identity.bulk import bulk_update
from people.attributes import read_attribute
from people.models import AttributeChange, AttributeDefinition, Person, Source
from people.services import (
    AttributeWrite,
    _assign,
    _is_empty,
    _write_allowed,
    validate_attribute_writes,
)


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
    rank = source.priority
    changed: dict[int, dict[str, tuple]] = {}
    fields: set[str] = set()
    dirty: set[int] = set()
    audit: list[AttributeChange] = []
    now = timezone.now()
    for item, cast_writes in cast:
        person = people.get(item.person_id)
        if person is None:
            continue
        at = item.at
        for write, spec, value in cast_writes:
            meta = person.attribute_meta.get(spec.key)
            current = read_attribute(person, spec.key)
            if write.op == "set_once" and not _is_empty(current):
                continue
            if _write_allowed(meta, op=write.op, rank=rank, at=at, source_id=source.pk, manual=False):
                continue
            new_meta = {"at": at.isoformat(), "source": source.pk, "rank": int(rank), "op": write.op}
            if current == value:
                # Unchanged: no audit row; only remember the newer time so an older write cannot win.
                if meta and meta.get("at") and parse_datetime(meta["at"]) < at:
                    person.attribute_meta[spec.key] = new_meta
                    fields.add("attribute_meta")
                    dirty.add(person.pk)
                continue
            _assign(person, spec, value)
            person.attribute_meta[spec.key] = new_meta
            person.modified_at = now
            fields.update(("attribute_meta", "modified_at", spec.key if spec.standard else "custom"))
            dirty.add(person.pk)
            changed.setdefault(person.pk, {})[spec.key] = (current, value)
            audit.append(
                AttributeChange(
                    person_id=person.pk,
                    key=spec.key,
                    old_value=current,
                    new_value=value,
                    operation=write.op,
                    source=source,
                    effective_at=at,
                )
            )
    if dirty:
        bulk_update([people[pk] for pk in sorted(dirty)], sorted(fields))
    if audit:
        AttributeChange.objects.bulk_create(audit)
    return changed
