"""Merging profiles, undoing a merge, and previewing one (dry run).

A merge moves the child's identifiers, events, channel contacts and group links to the parent;
per attribute the most recently updated value wins; counters add up; the child row is kept with
``merged_into`` set and a ``Merge`` row records a snapshot of both profiles, so the merge can be
undone. Rows are locked in primary-key order, so two merges touching the same profiles never
deadlock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import psycopg
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Count, Max, Min
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from identity.bulk import insert_instances
from identity.models import GroupMembership, Identity, Merge
from people.attributes import STANDARD_ATTRIBUTES, is_empty, meta_time, read_attribute, write_attribute
from people.bulk import bulk_update
from people.models import AttributeChange, Event, Person, PersonChannelContact, Source
from people.services import notify_people_changed

SYSTEM_FIELDS = [
    "created_at",
    "first_seen_at",
    "last_activity_at",
    "event_count",
    "session_count",
    "last_contacted_at",
]


@dataclass(frozen=True)
class AttributeOutcome:
    key: str
    parent_value: Any
    child_value: Any
    result: Any

    @property
    def changes(self) -> bool:
        return self.parent_value != self.result


def attribute_keys(*people: Person) -> list[str]:
    keys = list(STANDARD_ATTRIBUTES)
    for person in people:
        keys += [key for key in person.custom if key not in keys]
    return keys


def merge_attributes(parent: Person, child: Person) -> list[AttributeOutcome]:
    """Per key, the most recently updated value wins; an empty parent value is filled."""
    outcomes = []
    for key in attribute_keys(parent, child):
        parent_value, child_value = read_attribute(parent, key), read_attribute(child, key)
        if is_empty(child_value) or parent_value == child_value:
            result = parent_value
        elif is_empty(parent_value):
            result = child_value
        else:
            parent_at = meta_time(parent.attribute_meta.get(key))
            child_at = meta_time(child.attribute_meta.get(key))
            newer = child_at is not None and (parent_at is None or child_at > parent_at)
            result = child_value if newer else parent_value
        outcomes.append(AttributeOutcome(key, parent_value, child_value, result))
    return outcomes


def _snapshot(person: Person) -> dict:
    data: dict[str, Any] = {key: read_attribute(person, key) for key in STANDARD_ATTRIBUTES}
    data["custom"] = dict(person.custom)
    data["attribute_meta"] = dict(person.attribute_meta)
    data["kind"] = person.kind
    for name in SYSTEM_FIELDS:
        value = getattr(person, name)
        data[name] = value.isoformat() if isinstance(value, datetime) else value
    return data


def _lock(*pks: int) -> dict[int, Person]:
    return {
        p.pk: p for p in Person.objects.select_for_update().filter(pk__in=sorted(set(pks))).order_by("pk")
    }


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    return max((t for t in (a, b) if t is not None), default=None)


def _earlier(a: datetime | None, b: datetime | None) -> datetime | None:
    return min((t for t in (a, b) if t is not None), default=None)


def _merge_attributes_into(
    parent: Person, child: Person, *, audit: list[AttributeChange], source, actor, at
) -> dict:
    """Move the child's attribute values into the parent in memory (latest update wins per key),
    appending one audit row per changed key; returns the snapshot's ``changed`` section."""
    changed = {}
    for outcome in merge_attributes(parent, child):
        if not outcome.changes:
            continue
        changed[outcome.key] = {
            "old": outcome.parent_value,
            "old_meta": parent.attribute_meta.get(outcome.key),
            "new": outcome.result,
            "new_meta": child.attribute_meta.get(outcome.key),
        }
        write_attribute(parent, outcome.key, outcome.result)
        if child.attribute_meta.get(outcome.key):
            parent.attribute_meta[outcome.key] = child.attribute_meta[outcome.key]
        audit.append(
            AttributeChange(
                person=parent,
                key=outcome.key,
                old_value=outcome.parent_value,
                new_value=outcome.result,
                operation="merge",
                source=source,
                actor=actor,
                effective_at=at,
            )
        )
    return changed


@transaction.atomic
def person_merge(
    *,
    parent: Person,
    child: Person,
    reason: str = Merge.Reason.RESOLUTION,
    message_id: str = "",
    source: Source | None = None,
    actor=None,
    notify: bool = True,
) -> Merge:
    """Merge ``child`` into ``parent`` (the caller picks the oldest as parent)."""
    locked = _lock(parent.pk, child.pk)
    if parent.pk == child.pk or len(locked) != 2:
        raise ValidationError("Merge needs two different, existing profiles.")
    parent, child = locked[parent.pk], locked[child.pk]
    if parent.merged_into_id or child.merged_into_id:
        raise ValidationError("A merged profile cannot be merged again; use its parent.")

    now = timezone.now()
    audit: list[AttributeChange] = []
    related = _related_rows([child.pk], [parent.pk])
    related = related._replace(events=_move_events({child.pk: parent.pk}))
    merge = _merge_in_memory(
        parent,
        child,
        related,
        audit=audit,
        source=source,
        actor=actor,
        at=now,
        reason=reason,
        message_id=message_id,
    )

    Identity.objects.filter(person=child).update(person=parent)
    Person.objects.filter(merged_into=child).update(merged_into=parent)
    _move_links(parent, child, merge.snapshot["contacts"])
    parent.save()
    Person.objects.filter(pk=child.pk).update(merged_into=parent, modified_at=now)
    AttributeChange.objects.bulk_create(audit)
    merge.save()
    if notify:
        notify_people_changed([parent.pk, child.pk], reason="merge")
    return merge


def persons_merge_many(
    merges: list[tuple[int, int, str, str]],
    *,
    source: Source | None = None,
    counters: dict[int, tuple] | None = None,
) -> list[int]:
    """Merges planned by one ingested batch: ``(parent pk, child pk, reason, message id)``, in order.

    Independent merges (no profile in two of them, a single merge too) run set-based: one locking
    SELECT, one statement for the snapshot reads, one for the moves, one UPDATE of the parents' changed
    columns and the children's link, and one INSERT each of the audit and merge rows for all of
    them, instead of ~25 statements each.
    Chains (a parent later merged again) go through ``person_merge`` one at a time. The result is
    the same as calling ``person_merge(..., notify=False)`` for each. Returns the children's pks.
    ``counters``, when given, receives each parent's counters after the merges
    (``pk → (first_seen_at, last_activity_at, event_count, session_count)``).
    """
    pks = [pk for parent, child, _, _ in merges for pk in (parent, child)]
    if len(set(pks)) != len(pks):
        for parent, child, reason, message_id in merges:
            merge = person_merge(
                parent=Person(pk=parent),
                child=Person(pk=child),
                reason=reason,
                message_id=message_id,
                source=source,
                notify=False,
            )
            if counters is not None:
                counters[parent] = _counters(merge.parent)
        return [child for _, child, _, _ in merges]
    with transaction.atomic(savepoint=False):  # inside the batch's transaction: no savepoint round trips
        parents = _merge_independent(merges, source)
    if counters is not None:
        counters.update((p.pk, _counters(p)) for p in parents)
    return [child for _, child, _, _ in merges]


def _counters(person: Person) -> tuple:
    return (person.first_seen_at, person.last_activity_at, person.event_count, person.session_count)


def _merge_independent(merges: list[tuple[int, int, str, str]], source: Source | None) -> list[Person]:
    locked = _lock(*[pk for parent, child, _, _ in merges for pk in (parent, child)])
    if len(locked) != 2 * len(merges):
        raise ValidationError("Merge needs two different, existing profiles.")
    if any(p.merged_into_id for p in locked.values()):
        raise ValidationError("A merged profile cannot be merged again; use its parent.")
    children = [child for _, child, _, _ in merges]
    parent_of = {child: parent for parent, child, _, _ in merges}
    now = timezone.now()

    related = _related_rows(children, list(parent_of.values()))
    related = related._replace(events=_move_events(parent_of))
    identities, _, grandchildren, contacts, companies, members = related
    audit: list[AttributeChange] = []
    merge_rows: list[Merge] = []
    parents: list[Person] = []
    for parent_pk, child_pk, reason, message_id in merges:
        parent, child = locked[parent_pk], locked[child_pk]
        merge_rows.append(
            _merge_in_memory(
                parent,
                child,
                related,
                audit=audit,
                source=source,
                actor=None,
                at=now,
                reason=reason,
                message_id=message_id,
            )
        )
        parents.append(parent)
        child.merged_into_id = parent_pk
        child.modified_at = now

    # Move rows (the events moved above): one UPDATE per table for all the children (one statement on
    # PostgreSQL).
    if connection.vendor == "postgresql":
        _move_all(parent_of, identities, grandchildren)
    else:
        _move(Identity, "person_id", parent_of, identities)
        _move(Person, "merged_into_id", parent_of, grandchildren)
    for parent_pk, child_pk, _, _ in merges:
        if contacts.get(child_pk) or companies.get(child_pk) or members.get(child_pk):
            _move_links(locked[parent_pk], locked[child_pk], contacts.get(child_pk, []))

    # Parents and children in one UPDATE; a child's other columns are written back as locked.
    bulk_update(parents + [locked[pk] for pk in children], [*_merged_fields(merge_rows), "merged_into"])
    insert_instances(audit)
    insert_instances(merge_rows)
    return parents


def _merged_fields(merge_rows: list[Merge]) -> list[str]:
    """The parents' columns a set of merges can change: the counters and times, the attribute
    metadata and custom values, and the standard attributes that changed in one of them."""
    changed = {key for merge in merge_rows for key in merge.snapshot["changed"] if key in STANDARD_ATTRIBUTES}
    return [*SYSTEM_FIELDS, "modified_at", "attribute_meta", "custom", *sorted(changed)]


class _Related(NamedTuple):
    """Rows that point at the merged profiles, read before anything else moves (the events: as they
    move): ``{person pk: [...]}`` per part, each in its rows' primary-key order (the merge snapshot
    keeps them for an undo)."""

    identities: dict[int, list]
    events: dict[int, list]
    grandchildren: dict[int, list]
    contacts: dict[int, list]  # of children and parents
    companies: dict[int, list]
    members: dict[int, list]


def _merge_in_memory(
    parent: Person,
    child: Person,
    related: _Related,
    *,
    audit: list[AttributeChange],
    source: Source | None,
    actor,
    at: datetime,
    reason: str,
    message_id: str,
) -> Merge:
    """Both merge paths: the child's attributes and counters move into the parent in memory;
    returns the (unsaved) ``Merge`` row with the snapshot that makes the merge reversible. The
    caller saves the people, the audit rows and the merge, and moves the related rows."""
    parent_before = _snapshot(parent)
    changed = _merge_attributes_into(parent, child, audit=audit, source=source, actor=actor, at=at)
    snapshot = {
        "parent": parent_before,
        "child": _snapshot(child),
        "changed": changed,
        "identities": related.identities.get(child.pk, []),
        "events": related.events.get(child.pk, []),
        "grandchildren": related.grandchildren.get(child.pk, []),
        "contacts": related.contacts.get(child.pk, []),
        "parent_contacts": related.contacts.get(parent.pk, []),
        "companies": related.companies.get(child.pk, []),
        "members": related.members.get(child.pk, []),
    }
    parent.event_count += child.event_count
    parent.session_count += child.session_count
    parent.first_seen_at = _earlier(parent.first_seen_at, child.first_seen_at)
    parent.last_activity_at = _later(parent.last_activity_at, child.last_activity_at)
    parent.last_contacted_at = _later(parent.last_contacted_at, child.last_contacted_at)
    parent.created_at = min(parent.created_at, child.created_at)
    parent.modified_at = at
    return Merge(
        parent=parent,
        child=child,
        reason=reason,
        message_id=message_id[:128],
        source=source,
        snapshot=snapshot,
        created_by=actor,
        created_at=at,
    )


def _related_rows(children: list[int], parents: list[int]) -> _Related:
    """The snapshot reads of a set of merges: one statement on PostgreSQL, six elsewhere."""
    if connection.vendor == "postgresql":
        return _snapshot_rows(children, parents)

    def grouped(rows) -> dict[int, list]:
        out: dict[int, list] = {}
        for key, value in rows:
            out.setdefault(key, []).append(value)
        return out

    def pairs(queryset, *fields: str):
        return queryset.order_by("pk").values_list(*fields)

    return _Related(
        grouped(pairs(Identity.objects.filter(person_id__in=children), "person_id", "pk")),
        {},
        grouped(pairs(Person.objects.filter(merged_into_id__in=children), "merged_into_id", "pk")),
        grouped(
            (person_id, {"channel": channel_id, "at": at.isoformat()})
            for person_id, channel_id, at in pairs(
                PersonChannelContact.objects.filter(person_id__in=children + parents),
                "person_id",
                "channel_id",
                "last_contacted_at",
            )
        ),
        grouped(pairs(GroupMembership.objects.filter(person_id__in=children), "person_id", "company_id")),
        grouped(pairs(GroupMembership.objects.filter(company_id__in=children), "company_id", "person_id")),
    )


_SNAPSHOT_ROWS = (
    "SELECT 'i', person_id, id, NULL::timestamptz, id FROM identity_identity WHERE person_id = ANY(%(c)b) "
    "UNION ALL SELECT 'g', merged_into_id, id, NULL, id FROM people_person WHERE merged_into_id = ANY(%(c)b) "
    "UNION ALL SELECT 'c', person_id, channel_id, last_contacted_at, id "
    "FROM people_personchannelcontact WHERE person_id = ANY(%(cp)b) "
    "UNION ALL SELECT 'm', person_id, company_id, NULL, id FROM identity_groupmembership "
    "WHERE person_id = ANY(%(c)b) "
    "UNION ALL SELECT 'b', company_id, person_id, NULL, id FROM identity_groupmembership "
    "WHERE company_id = ANY(%(c)b) "
    "ORDER BY 1, 5"
)


def _snapshot_rows(children: list[int], parents: list[int]) -> _Related:
    """PostgreSQL: the snapshot reads in one statement (each part in its own rows' primary-key order,
    as the ORM reads); the events come from their move (``_move_events``)."""
    out: dict[str, dict[int, list]] = {tag: {} for tag in "igcmb"}
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(_SNAPSHOT_ROWS, {"c": children, "cp": children + parents})
        for tag, owner, value, at, _ in cursor:
            item = {"channel": value, "at": at.isoformat()} if tag == "c" else value
            out[tag].setdefault(owner, []).append(item)
    return _Related(out["i"], {}, out["g"], out["c"], out["m"], out["b"])


_MOVE_EVENTS = (
    "UPDATE people_event AS t SET person_id = m.parent "
    "FROM unnest(%b::bigint[], %b::bigint[]) AS m(child, parent) WHERE t.person_id = m.child "
    "RETURNING m.child, t.id"
)


def _move_events(parent_of: dict[int, int]) -> dict[int, list[int]]:
    """Move every child's events to its parent; returns the moved event ids per child, in primary-key
    order, for the merge snapshot. On PostgreSQL one UPDATE ... RETURNING: the child's events are read
    once, by the move itself (reading them for the snapshot first doubled a merge's page reads, the
    largest part of its database time at 10M events)."""
    if not parent_of:
        return {}
    moved: dict[int, list[int]] = {}
    if connection.vendor == "postgresql":
        children = sorted(parent_of)
        connection.ensure_connection()
        with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(_MOVE_EVENTS, [children, [parent_of[c] for c in children]])
            for child, pk in cursor:
                moved.setdefault(child, []).append(pk)
        return {child: sorted(pks) for child, pks in moved.items()}
    for child, pk in (
        Event.objects.filter(person_id__in=parent_of).order_by("pk").values_list("person_id", "pk")
    ):
        moved.setdefault(child, []).append(pk)
    _move(Event, "person_id", parent_of, moved)
    return moved


def _move_all(parent_of: dict[int, int], identities: dict[int, list], grandchildren: dict[int, list]) -> None:
    """PostgreSQL: the identity and grandchild moves as one statement (a data-modifying CTE)."""
    parts: list[str] = []
    params: list[Any] = []
    for table, column, rows in (
        ("identity_identity", "person_id", identities),
        ("people_person", "merged_into_id", grandchildren),
    ):
        pairs = sorted((pk, parent_of[child]) for child, pks in rows.items() for pk in pks)
        if not pairs:
            continue
        parts.append(
            f"UPDATE {table} AS t SET {column} = v.target "
            "FROM unnest(%s::bigint[], %s::bigint[]) AS v(id, target) WHERE t.id = v.id"
        )
        params += [[pk for pk, _ in pairs], [target for _, target in pairs]]
    if not parts:
        return
    sql = parts[-1]
    if len(parts) > 1:
        sql = (
            "WITH "
            + ", ".join(f"m{k} AS ({part} RETURNING 1)" for k, part in enumerate(parts[:-1]))
            + " "
            + sql
        )
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql.replace("%s", "%b"), params)  # binary parameters


def _move(model, column: str, parent_of: dict[int, int], rows_by_child: dict[int, list]) -> None:
    """``UPDATE model SET column = parent WHERE pk IN (child's rows)``, for every child at once
    (databases other than PostgreSQL, which uses ``_move_all``)."""
    pairs = sorted((pk, parent_of[child]) for child, pks in rows_by_child.items() for pk in pks)
    if not pairs:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    col = connection.ops.quote_name(column)
    with connection.cursor() as cursor:
        for start in range(0, len(pairs), 400):
            chunk = pairs[start : start + 400]
            cursor.execute(
                f"WITH v(id, target) AS (VALUES {', '.join(['(%s, %s)'] * len(chunk))}) "
                f"UPDATE {table} SET {col} = (SELECT target FROM v WHERE v.id = {table}.id) "
                f"WHERE id IN (SELECT id FROM v)",
                [value for pair in chunk for value in pair],
            )


def _move_links(parent: Person, child: Person, contacts: list[dict]) -> None:
    """Move one child's channel contacts (latest time wins) and group links to its parent."""
    for contact in contacts:
        at = parse_datetime(contact["at"])
        row, created = PersonChannelContact.objects.get_or_create(
            person=parent, channel_id=contact["channel"], defaults={"last_contacted_at": at}
        )
        if not created and row.last_contacted_at < at:
            PersonChannelContact.objects.filter(pk=row.pk).update(last_contacted_at=at)
    PersonChannelContact.objects.filter(person=child).delete()
    have = set(GroupMembership.objects.filter(person=parent).values_list("company_id", flat=True))
    GroupMembership.objects.filter(person=child, company_id__in=have | {parent.pk}).delete()
    GroupMembership.objects.filter(person=child).update(person=parent)
    members = set(GroupMembership.objects.filter(company=parent).values_list("person_id", flat=True))
    GroupMembership.objects.filter(company=child, person_id__in=members | {parent.pk}).delete()
    GroupMembership.objects.filter(company=child).update(company=parent)


@transaction.atomic
def merge_undo(*, merge: Merge, actor=None) -> None:
    """Restore a merge from its snapshot: identifiers, events and attributes go back to the child.

    Identifiers and events the parent gained after the merge stay with the parent; an attribute of
    the parent is restored only if nothing wrote it after the merge.
    """
    locked = _lock(merge.parent_id, merge.child_id)
    parent, child = locked[merge.parent_id], locked[merge.child_id]
    merge = Merge.objects.select_for_update().get(pk=merge.pk)
    if merge.undone_at is not None:
        raise ValidationError("This merge was already undone.")
    if child.merged_into_id != parent.pk:
        raise ValidationError("The child is no longer merged into this parent.")
    if parent.merged_into_id:
        raise ValidationError("The parent was merged into another profile since; undo that merge first.")
    snap = merge.snapshot
    now = timezone.now()

    Identity.objects.filter(pk__in=snap["identities"], person=parent).update(person=child)
    Event.objects.filter(pk__in=snap["events"], person=parent).update(person=child)
    Person.objects.filter(pk__in=snap["grandchildren"], merged_into=parent).update(merged_into=child)
    audit = []
    for key, change in snap["changed"].items():
        if (
            parent.attribute_meta.get(key) != change["new_meta"]
            or read_attribute(parent, key) != change["new"]
        ):
            continue  # written again since the merge: keep the newer value
        write_attribute(parent, key, change["old"])
        if change["old_meta"]:
            parent.attribute_meta[key] = change["old_meta"]
        else:
            parent.attribute_meta.pop(key, None)
        audit.append(
            AttributeChange(
                person=parent,
                key=key,
                old_value=change["new"],
                new_value=change["old"],
                operation="unmerge",
                actor=actor,
                effective_at=now,
            )
        )
    for contact in snap["contacts"]:
        PersonChannelContact.objects.update_or_create(
            person=child,
            channel_id=contact["channel"],
            defaults={"last_contacted_at": parse_datetime(contact["at"])},
        )
    parent_contacts = {c["channel"]: parse_datetime(c["at"]) for c in snap.get("parent_contacts", [])}
    for row in PersonChannelContact.objects.filter(person=parent):
        if row.channel_id in parent_contacts:
            if row.last_contacted_at != parent_contacts[row.channel_id]:
                moved = {c["channel"]: c["at"] for c in snap["contacts"]}
                if moved.get(row.channel_id) == row.last_contacted_at.isoformat():
                    row.last_contacted_at = parent_contacts[row.channel_id]
                    row.save(update_fields=["last_contacted_at"])
        elif any(c["channel"] == row.channel_id for c in snap["contacts"]):
            row.delete()
    GroupMembership.objects.filter(person=parent, company_id__in=snap["companies"]).update(person=child)
    GroupMembership.objects.filter(company=parent, person_id__in=snap["members"]).update(company=child)

    # Counters: the child gets its own back; the parent's are recomputed from its events.
    child_snap = snap["child"]
    Person.objects.filter(pk=child.pk).update(
        merged_into=None,
        modified_at=now,
        event_count=Event.objects.filter(person=child).count(),
        session_count=child_snap["session_count"],
        first_seen_at=parse_datetime(child_snap["first_seen_at"]) if child_snap["first_seen_at"] else None,
        last_activity_at=parse_datetime(child_snap["last_activity_at"])
        if child_snap["last_activity_at"]
        else None,
        last_contacted_at=parse_datetime(child_snap["last_contacted_at"])
        if child_snap["last_contacted_at"]
        else None,
    )
    stats = Event.objects.filter(person=parent).aggregate(
        n=Count("pk"), first=Min("timestamp"), last=Max("timestamp")
    )
    parent_snap = snap["parent"]
    parent.event_count = stats["n"]
    parent.session_count = max(0, parent.session_count - child_snap["session_count"])
    parent.first_seen_at = _earlier(
        parse_datetime(parent_snap["first_seen_at"]) if parent_snap["first_seen_at"] else None, stats["first"]
    )
    parent.last_activity_at = _later(
        parse_datetime(parent_snap["last_activity_at"]) if parent_snap["last_activity_at"] else None,
        stats["last"],
    )
    parent.created_at = parse_datetime(parent_snap["created_at"])
    parent.modified_at = now
    parent.save()
    AttributeChange.objects.bulk_create(audit)
    merge.undone_at = now
    merge.undone_by = actor
    merge.save(update_fields=["undone_at", "undone_by"])
    notify_people_changed([parent.pk, child.pk], reason="unmerge")


@dataclass(frozen=True)
class MergePreview:
    parent: Person
    children: list[Person]
    attributes: list[AttributeOutcome]
    identifiers: list[tuple[str, str]]
    events: int


def merge_preview(*, people: list[Person]) -> MergePreview:
    """What merging these profiles would do (nothing is written): the dry run."""
    ordered = sorted(people, key=lambda p: (p.created_at, p.pk))
    parent, children = ordered[0], ordered[1:]
    merged = Person(**{f.attname: getattr(parent, f.attname) for f in Person._meta.concrete_fields})
    merged.custom = dict(parent.custom)
    merged.attribute_meta = dict(parent.attribute_meta)
    for child in children:
        for outcome in merge_attributes(merged, child):
            if outcome.changes:
                write_attribute(merged, outcome.key, outcome.result)
                if child.attribute_meta.get(outcome.key):
                    merged.attribute_meta[outcome.key] = child.attribute_meta[outcome.key]
    attributes = []
    for key in attribute_keys(parent, *children):
        before, after = read_attribute(parent, key), read_attribute(merged, key)
        child_values = [read_attribute(c, key) for c in children]
        if before != after or any(not is_empty(v) for v in child_values):
            attributes.append(AttributeOutcome(key, before, child_values[0] if child_values else None, after))
    identifiers = list(
        Identity.objects.filter(person__in=children)
        .order_by("type__priority", "value")
        .values_list("type__key", "value")
    )
    events = Event.objects.filter(person__in=children).count()
    return MergePreview(parent, children, attributes, identifiers, events)


def people_merge_manual(*, people: list[Person], actor=None) -> list[Merge]:
    """Merge the selected profiles into the oldest one (an operator's decision: no limits apply)."""
    live = [p for p in people if p.merged_into_id is None]
    if len(live) < 2:
        raise ValidationError("Select at least two profiles that are not merged already.")
    ordered = sorted(live, key=lambda p: (p.created_at, p.pk))
    parent = ordered[0]
    with transaction.atomic():
        _lock(*[p.pk for p in ordered])
        return [
            person_merge(parent=parent, child=child, reason=Merge.Reason.MANUAL, actor=actor)
            for child in ordered[1:]
        ]
