"""Writes to the people data model. Views, admin actions, importers and tasks call these."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Model, Q
from django.utils import timezone
from django.utils.module_loading import import_string

from people.attributes import (
    STANDARD_ATTRIBUTES,
    AttributeSpec,
    attribute_spec,
    cast_attribute,
    is_empty,
    meta_time,
    read_attribute,
    write_attribute,
)
from people.bulk import bulk_update
from people.jobrunner import get_handler
from people.models import (
    AttributeChange,
    AttributeDefinition,
    AttributeType,
    Channel,
    ContextDefinition,
    EventDefinition,
    Job,
    OrganizationSettings,
    PendingChange,
    Person,
    PersonChannelContact,
    Source,
)
from people.rawsql import array_literal, execute_prepared
from people.schema import definitions_changed

log = logging.getLogger(__name__)
Operation = Literal["set", "set_once", "unset"]
MANUAL_RANK = Source.Priority.SDK


@dataclass(frozen=True)
class AttributeWrite:
    key: str
    value: Any = None
    op: Operation = "set"


@dataclass
class WriteResult:
    changed: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    ignored: dict[str, str] = field(default_factory=dict)

    @property
    def any_changed(self) -> bool:
        return bool(self.changed)


def _write_allowed(
    meta: dict | None, *, rank: int, at: datetime, source_id: int | None, manual: bool, op: str = ""
) -> str:
    """Why a write may not apply ("" when it may). See docs/attributes.md, "Writing attributes".

    - A manual write (an operator in the admin or API) skips the source-priority rules.
    - A higher-priority source class (lower rank) always wins over a lower one; a lower one never
      overwrites a value a higher one set.
    - Otherwise event time decides: an older write never overwrites a newer value (manual ones too).
    - Partner feeds: once one partner feed set a key, another partner feed cannot change it.
    """
    if not meta:
        return ""
    if not manual:
        stored_rank = meta.get("rank", MANUAL_RANK)
        if rank < stored_rank:
            return ""
        if rank > stored_rank:
            return "lower source priority"
        if (
            rank == Source.Priority.PARTNER_FEED
            and meta.get("source") is not None
            and meta.get("source") != source_id
        ):
            return "set by another partner feed"
    stored_at = meta_time(meta)
    if stored_at is not None and at < stored_at:
        return "older than the stored value"
    return ""


def _set_once_allowed(meta: dict | None, current: Any, at: datetime) -> bool | None:
    """Set once on a non-empty value: only an earlier set once replaces a value set once later
    (event time, not arrival order). ``None`` when the value is empty (the normal rules apply)."""
    if is_empty(current):
        return None
    stored_at = meta_time(meta)
    return bool(meta and meta.get("op") == "set_once" and stored_at is not None and at < stored_at)


def validate_attribute_writes(
    writes: Iterable[AttributeWrite], definitions: dict[str, AttributeDefinition] | None = None
) -> list[tuple[AttributeWrite, AttributeSpec, Any]]:
    """Cast every write first, so a bad value fails the whole call before anything is written."""
    writes = list(writes)
    if definitions is None:
        keys = [w.key for w in writes if w.key not in STANDARD_ATTRIBUTES]
        definitions = {d.key: d for d in AttributeDefinition.objects.filter(key__in=keys)}
    cast = []
    for write in writes:
        if write.op == "unset" and write.key not in STANDARD_ATTRIBUTES and write.key not in definitions:
            # Unsetting a key whose definition was deleted cleans the leftover value up.
            cast.append((write, AttributeSpec(write.key, write.key, AttributeType.TEXT, False), None))
            continue
        spec = attribute_spec(write.key, definitions)
        value = None if write.op == "unset" else cast_attribute(spec, write.value)
        cast.append((write, spec, value))
    return cast


@dataclass
class AppliedWrites:
    changed: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    ignored: dict[str, str] = field(default_factory=dict)
    audit: list[AttributeChange] = field(default_factory=list)
    fields: set[str] = field(default_factory=set)  # Person fields to save
    meta_changed: bool = False


def apply_attribute_writes(
    person: Person,
    cast_writes: Sequence[tuple[AttributeWrite, AttributeSpec, Any]],
    *,
    source: Source | None,
    at: datetime,
    actor=None,
) -> AppliedWrites:
    """Apply already-cast writes to a loaded (and locked) person in memory: the per-key rules of
    docs/attributes.md in one place. Saves nothing; the caller writes ``fields`` and the ``audit`` rows.
    Batch writers (ingestion) call it per person and write every person in bulk."""
    manual = source is None
    rank = MANUAL_RANK if manual else source.priority
    source_id = source.pk if source else None
    applied = AppliedWrites()
    for write, spec, value in cast_writes:
        meta = person.attribute_meta.get(spec.key)
        current = read_attribute(person, spec.key)
        once = _set_once_allowed(meta, current, at) if write.op == "set_once" else None
        if once is False:
            applied.ignored[spec.key] = "already set"
            continue
        reason = "" if once else _write_allowed(meta, rank=rank, at=at, source_id=source_id, manual=manual)
        if reason:
            applied.ignored[spec.key] = reason
            continue
        new_meta = {"at": at.isoformat(), "source": source_id, "rank": int(rank), "op": write.op}
        if current == value:
            # Unchanged: no audit row; only remember the newer time so an older write cannot win.
            stored_at = meta_time(meta)
            if stored_at is not None and stored_at < at:
                person.attribute_meta[spec.key] = new_meta
                applied.meta_changed = True
                applied.fields.add("attribute_meta")
            continue
        write_attribute(person, spec.key, value)
        person.attribute_meta[spec.key] = new_meta
        applied.changed[spec.key] = (current, value)
        applied.fields.update(("attribute_meta", "modified_at", spec.key if spec.standard else "custom"))
        applied.audit.append(
            AttributeChange(
                person_id=person.pk,
                key=spec.key,
                old_value=current,
                new_value=value,
                operation=write.op,
                source=source,
                actor=actor,
                effective_at=at,
            )
        )
    return applied


@transaction.atomic
def person_write_attributes(
    *,
    person: Person,
    writes: Sequence[AttributeWrite],
    source: Source | None = None,
    at: datetime | None = None,
    actor=None,
    definitions: dict[str, AttributeDefinition] | None = None,
    notify: bool = True,
) -> WriteResult:
    """Set, set once or unset attributes of one person: the only path that changes attribute values.

    ``at`` is the event time of the write (defaults to now). Values are validated and cast first;
    an invalid value raises ``AttributeValueError`` and nothing is written. A write from a Read Only
    source writes nothing. A changed value writes an ``AttributeChange`` audit row; an unchanged
    value writes no audit row.
    """
    at = at or timezone.now()
    result = WriteResult()
    cast_writes = validate_attribute_writes(writes, definitions)
    if source is not None and source.protection == Source.Protection.READ_ONLY:
        result.ignored = {w.key: "read-only source" for w, _, _ in cast_writes}
        return result

    locked = Person.objects.select_for_update().get(pk=person.pk)
    applied = apply_attribute_writes(locked, cast_writes, source=source, at=at, actor=actor)
    result.changed, result.ignored = applied.changed, applied.ignored
    audit, meta_changed = applied.audit, applied.meta_changed

    if result.changed:
        locked.modified_at = timezone.now()
        locked.save()
        AttributeChange.objects.bulk_create(audit)
        if notify:
            notify_people_changed([locked.pk], reason="attributes")
    elif meta_changed:
        locked.save(update_fields=["attribute_meta"])
    copy_field_values(locked, into=person)  # keep the caller's instance current
    return result


@dataclass(frozen=True)
class TraitWrite:
    """The attribute writes of one message, for ``people_write_traits``."""

    person_id: int
    writes: Sequence[AttributeWrite]
    at: datetime  # the message's event time


@transaction.atomic(savepoint=False)
def people_write_traits(
    items: Sequence[TraitWrite],
    *,
    source: Source,
    definitions: dict[str, AttributeDefinition] | None = None,
) -> dict[int, dict[str, tuple]]:
    """The batch form of ``person_write_attributes(notify=False)``: an ingested batch's identify
    (and group) traits in three statements instead of three per message.

    One locking SELECT of every person concerned (primary-key order), the same per-key decisions
    (``apply_attribute_writes``) applied in ``items`` order on the loaded rows, one UPDATE of the
    changed people and one INSERT of the audit rows. Returns the changed keys per person:
    ``{person_id: {key: (old, new)}}``. Values are validated first; an invalid value raises
    ``AttributeValueError`` and nothing is written. Read Only sources write nothing. The caller
    notifies (``notify_people_changed``) once for its whole batch.
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


def copy_field_values(loaded: Model, *, into: Model) -> None:
    """Bring a caller's instance up to date with a row a service loaded (and locked) and saved,
    without another query: every concrete field's value, nothing else."""
    for f in loaded._meta.concrete_fields:
        setattr(into, f.attname, getattr(loaded, f.attname))


# The drain of pending changes: at most one is enqueued per KICK_SECONDS while one is waiting (a
# shared flag in the default cache); the drain clears the flag, then looks again.
KICK_KEY = "attune:people-changed:drain"
KICK_SECONDS = 2
DRAIN_CHUNK = 1000


EVENTS_REASON = "events"
# A contact was recorded and nothing else changed: refreshes re-read only what reads last contacted.
CONTACT_REASON = "contact"


def notify_people_changed(
    person_ids: Iterable[int], *, reason: str, events: dict[int, Iterable[str]] | None = None
) -> None:
    """Record that people changed, in the caller's transaction; after it commits, the higher apps'
    refresh tasks (``ATTUNE_PERSON_CHANGED_TASKS``, by path: people imports none of them) run for them.

    The record is a row per person (``PendingChange``) written with the change itself, so a commit
    never loses its refreshes. After commit one drain task is enqueued unless one is already waiting:
    it takes every pending change, of every transaction and process, and calls each task path once
    per chunk of people. Under load many transactions share one refresh (one set-based statement for
    a thousand people instead of one per batch); a quiet change is refreshed at once.

    ``events`` (with ``reason="events"``): per person, the names of the events that are all that
    changed about them (with the counters events move: event and session counts, first seen, last
    activity). The tasks then refresh only what reads those events or counters.
    """
    ids = sorted(set(person_ids))
    if not ids or not getattr(settings, "ATTUNE_PERSON_CHANGED_TASKS", []):
        return
    reason = reason[:32]
    names = [sorted(set(events.get(pk, ()))) if events is not None else None for pk in ids]
    if connection.vendor == "postgresql":
        # prepared: ingestion runs it in every batch, and planning it cost more than the insert
        table = PendingChange._meta.db_table
        if events is None:
            execute_prepared(
                f"INSERT INTO {table} (person_id, reason) SELECT unnest(%s::bigint[]), %s",
                [array_literal(ids), reason],
            )
        else:
            execute_prepared(
                f"INSERT INTO {table} (person_id, reason, events) "
                "SELECT p, %s, e::jsonb FROM unnest(%s::bigint[], %s::text[]) AS v(p, e)",
                [reason, array_literal(ids), array_literal([json.dumps(n) for n in names])],
            )
    else:
        PendingChange.objects.bulk_create(
            [PendingChange(person_id=pk, reason=reason, events=n) for pk, n in zip(ids, names, strict=True)]
        )
    transaction.on_commit(kick_changes)


def grouped_by_what_events_move(
    person_ids: Iterable[int], events: Mapping[int, Iterable[str]], moved: Callable[[frozenset], Sequence]
) -> dict[tuple, list[int]]:
    """For a refresh task given ``events`` (``{person id: event names}``): the people by what their
    events move, ``moved(names)`` asked once per distinct set of names (the definitions to refresh,
    as a tuple of their ids); people whose events move nothing are left out."""
    seen: dict[frozenset, tuple] = {}
    groups: dict[tuple, list[int]] = {}
    for pk in person_ids:
        names = frozenset(events.get(pk, ()))
        if names not in seen:
            seen[names] = tuple(d.pk for d in moved(names))
        if seen[names]:
            groups.setdefault(seen[names], []).append(pk)
    return groups


def kick_changes() -> None:
    """Enqueue a drain of the pending changes unless one is already waiting."""
    from django_q.tasks import async_task

    try:
        waiting = not cache.add(KICK_KEY, 1, timeout=KICK_SECONDS)
    except Exception:  # noqa: BLE001 - without the shared flag, enqueue: a second drain only finds less
        log.warning("the pending-changes flag could not be read; enqueueing a drain", exc_info=True)
        waiting = False
    if not waiting:
        async_task("people.tasks.drain_changes", task_name="refresh changed people")


def drain_changes(*, chunk: int = DRAIN_CHUNK) -> int:
    """Run the higher apps' refresh tasks for every pending change; returns the people refreshed.

    A chunk of changes is taken (and deleted) at a time; concurrent drains take disjoint chunks. The
    people of a chunk are grouped by their reasons (an attribute-only change lets audiences skip
    funnels), and each task path is called once per group as ``task(ids, reason, events=...)``,
    ``events`` being, for people who only got events, their names per person (else None; the tasks
    refresh only what those events can move), in the order of the setting: computed
    attributes before the audiences that may read them. A task that fails is logged and the others
    still run; the drain then fails, so django-q2 records it. Changes taken by a drain that dies are
    not run again; the scheduled re-evaluations still catch up with windows and computed values.
    """
    tasks = [(path, import_string(path)) for path in settings.ATTUNE_PERSON_CHANGED_TASKS]
    refreshed, failed = 0, None
    try:
        while rows := _take_changes(chunk):
            groups = _grouped_changes(rows)
            for reason, ids, events in groups:
                for path, task in tasks:
                    try:
                        task(ids, reason, events=events)
                    except Exception as exc:  # noqa: BLE001 - the other tasks and people still run
                        log.exception("%s failed for %d people (%s)", path, len(ids), reason)
                        failed = failed or exc
            refreshed += sum(len(ids) for _, ids, _ in groups)
    finally:
        cache.delete(KICK_KEY)
        if PendingChange.objects.exists():  # changes committed while the flag was still set
            kick_changes()
    if failed is not None:
        raise failed
    return refreshed


Change = tuple[int, str, list | None]  # person id, reason, event names


def _grouped_changes(rows: list[Change]) -> list[tuple[str, list[int], dict[int, frozenset] | None]]:
    """``(reasons, people, events)`` groups: people who only got events (named), with the events'
    names per person; everyone else by all their reasons, to be refreshed in full (events None)."""
    reasons: dict[int, set[str]] = {}
    names: dict[int, set[str]] = {}
    full: set[int] = set()
    for person_id, reason, events in rows:
        reasons.setdefault(person_id, set()).add(reason)
        if reason == EVENTS_REASON and events is not None:
            names.setdefault(person_id, set()).update(events)
        else:
            full.add(person_id)
    groups: dict[tuple[str, bool], tuple[list[int], dict[int, frozenset] | None]] = {}
    for person_id, kinds in sorted(reasons.items()):
        named = person_id not in full
        ids, events = groups.setdefault((", ".join(sorted(kinds)), named), ([], {} if named else None))
        ids.append(person_id)
        if events is not None:
            events[person_id] = frozenset(names[person_id])
    return [(reason, ids, events) for (reason, _), (ids, events) in groups.items()]


def _take_changes(limit: int) -> list[Change]:
    """Delete and return up to ``limit`` pending changes, oldest first, skipping those another drain
    holds."""
    table = PendingChange._meta.db_table
    if connection.vendor == "postgresql":
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} ORDER BY id LIMIT %s "
                "FOR UPDATE SKIP LOCKED) RETURNING person_id, reason, events",
                [limit],
            )
            return [
                (pk, reason, json.loads(events) if isinstance(events, str) else events)
                for pk, reason, events in cursor.fetchall()
            ]
    with transaction.atomic():
        rows = list(
            PendingChange.objects.order_by("pk").values_list("pk", "person_id", "reason", "events")[:limit]
        )
        PendingChange.objects.filter(pk__in=[pk for pk, *_ in rows]).delete()
    return [(person_id, reason, events) for _, person_id, reason, events in rows]


@transaction.atomic(savepoint=False)
def contact_record(*, person: Person, channel: Channel | None, at: datetime) -> None:
    """Record that a person was contacted (overall, and on a channel when given).

    Only ever moves the time forward, so late or replayed contacts are harmless. When a time moved,
    the higher apps are notified after commit (computed attributes over last contacted follow).
    ``person.last_contacted_at`` is set to the stored time. One statement on PostgreSQL
    (``contacts_record``).
    """
    stored = contacts_record(contacts=[(person.pk, channel.pk if channel is not None else None, at)])
    person.last_contacted_at = stored.get(person.pk)


@transaction.atomic(savepoint=False)
def contacts_record(*, contacts: Sequence[tuple[int, int | None, datetime]]) -> dict[int, datetime | None]:
    """Record many contacts at once: ``(person_id, channel_id or None, at)`` each, set-based.

    The semantics of ``contact_record`` for every row (times only move forward, overall and per
    channel; the latest of several rows for the same person or channel wins); one notification after
    commit for the people whose time moved. Returns each person's stored overall time. On PostgreSQL
    one statement (``contacts_sql``: an ``UPDATE`` of the people, an ``INSERT … ON CONFLICT DO
    UPDATE … WHERE`` of the channel contacts and the pending-refresh rows); elsewhere the ORM, per row.
    """
    if not contacts:
        return {}
    if connection.vendor != "postgresql":
        moved, stored = _contacts_record_orm(contacts)
        if moved:
            notify_people_changed(moved, reason=CONTACT_REASON)
        return stored
    from people import rawsql

    # A prepared statement (planned once per connection): ingestion's tracked sends run it.
    statement = _contacts_statement(contacts_notify())
    rows = rawsql.select_prepared(
        statement, [[c[0] for c in contacts], [c[1] for c in contacts], [c[2] for c in contacts]]
    )
    return contacts_recorded(rows)


def contacts_sql(given: str, *, notify: bool) -> str:
    """The data-modifying CTEs of a contact record, for a statement of another app that records
    contacts along with its own write (the client API's deliveries) without a transaction: ``given``
    is a query of ``(person_id, channel_id, at)`` rows (its ``%s`` parameters are the caller's; no
    row, no write). The CTEs end with ``contacted``: one row per given person, its id, stored overall
    time and whether a time moved (three columns), which the caller selects and passes to
    ``contacts_recorded``. With ``notify`` (``contacts_notify()``) the people whose time moved get
    their pending-refresh rows in the same statement. Times only move forward, as in
    ``contacts_record``."""
    person = connection.ops.quote_name(Person._meta.db_table)
    contact = connection.ops.quote_name(PersonChannelContact._meta.db_table)
    pending = connection.ops.quote_name(PendingChange._meta.db_table)
    notified = (
        f", contact_pending AS (INSERT INTO {pending} (person_id, reason) "
        f"SELECT person_id, '{CONTACT_REASON}' FROM contacted WHERE moved)"
        if notify
        else ""
    )
    return f"""
        contact_given(person_id, channel_id, at) AS ({given}
        ), contact_overall AS (
            UPDATE {person} p SET last_contacted_at = g.at
            FROM (SELECT person_id, max(at) AS at FROM contact_given GROUP BY person_id) g
            WHERE p.id = g.person_id AND (p.last_contacted_at IS NULL OR p.last_contacted_at < g.at)
            RETURNING p.id, p.last_contacted_at
        ), contact_channel AS (
            INSERT INTO {contact} AS c (person_id, channel_id, last_contacted_at)
            SELECT person_id, channel_id, max(at) FROM contact_given WHERE channel_id IS NOT NULL
            GROUP BY person_id, channel_id
            ON CONFLICT (person_id, channel_id) DO UPDATE SET last_contacted_at = EXCLUDED.last_contacted_at
            WHERE c.last_contacted_at < EXCLUDED.last_contacted_at
            RETURNING c.person_id
        ), contacted AS (
            SELECT p.id AS person_id, COALESCE(o.last_contacted_at, p.last_contacted_at) AS last_contacted_at,
                   o.id IS NOT NULL OR EXISTS (SELECT 1 FROM contact_channel m WHERE m.person_id = p.id)
                   AS moved
            FROM {person} p LEFT JOIN contact_overall o ON o.id = p.id
            WHERE p.id IN (SELECT person_id FROM contact_given)
        ){notified}"""


def contacts_notify() -> bool:
    """Whether contacts record pending refreshes (``contacts_sql``'s ``notify``): some higher app
    refreshes changed people (``ATTUNE_PERSON_CHANGED_TASKS``)."""
    return bool(getattr(settings, "ATTUNE_PERSON_CHANGED_TASKS", []))


def contacts_recorded(rows: Iterable[Sequence]) -> dict[int, datetime | None]:
    """Finish a contact record run through ``contacts_sql``: ``rows`` are its ``contacted`` rows (a
    notifying statement wrote the pending refreshes; the drain is enqueued after commit). Returns
    each person's stored overall time."""
    rows = list(rows)
    if contacts_notify() and any(moved for _, _, moved in rows):
        transaction.on_commit(kick_changes)
    return {pk: at for pk, at, _ in rows}


@functools.cache
def _contacts_statement(notify: bool) -> str:
    given = "SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::timestamptz[])"
    return f"WITH {contacts_sql(given, notify=notify)} SELECT * FROM contacted"


def _contacts_record_orm(contacts) -> tuple[set[int], dict[int, datetime | None]]:
    moved: set[int] = set()
    for person_id, channel_id, at in contacts:
        if (
            Person.objects.filter(pk=person_id)
            .filter(Q(last_contacted_at__isnull=True) | Q(last_contacted_at__lt=at))
            .update(last_contacted_at=at)
        ):
            moved.add(person_id)
        if channel_id is not None:
            found, created = PersonChannelContact.objects.get_or_create(
                person_id=person_id, channel_id=channel_id, defaults={"last_contacted_at": at}
            )
            if created or PersonChannelContact.objects.filter(pk=found.pk, last_contacted_at__lt=at).update(
                last_contacted_at=at
            ):
                moved.add(person_id)
    ids = {c[0] for c in contacts}
    return moved, dict(Person.objects.filter(pk__in=ids).values_list("pk", "last_contacted_at"))


@transaction.atomic
def channel_create(*, key: str, name: str, schema_enforcement: str = "permissive") -> Channel:
    channel = Channel(key=key, name=name, schema_enforcement=schema_enforcement)
    channel.full_clean()
    channel.save()
    return channel


@transaction.atomic
def organization_settings_update(
    *, organization: OrganizationSettings, **fields: Any
) -> OrganizationSettings:
    """Change the organization's settings (validated). The cached copy (``people.selectors.
    organization``) is dropped now and after commit (a read in between may have kept the old row):
    at once in every process that shares Django's cache, within a minute in the others."""
    for name, value in fields.items():
        setattr(organization, name, value)
    organization.full_clean()
    organization.save()
    key = OrganizationSettings.objects.CACHE_KEY
    cache.delete(key)
    transaction.on_commit(lambda: cache.delete(key))
    return organization


CSV_SOURCE_NAME = "CSV import"


@transaction.atomic
def csv_import_source() -> Source:
    """The source CSV imports write through ("CSV import", CSV priority), created on first use
    together with its "import" channel."""
    source = Source.objects.filter(name=CSV_SOURCE_NAME, priority=Source.Priority.CSV).first()
    if source is None:
        channel = Channel.objects.filter(key="import").first() or channel_create(key="import", name="Import")
        source = source_create(name=CSV_SOURCE_NAME, channel=channel, priority=Source.Priority.CSV).source
    return source


@dataclass(frozen=True)
class SourceCredentials:
    source: Source
    write_key: str

    @property
    def basic_pair(self) -> str:
        """``key:secret`` as mParticle-style clients send it."""
        return f"{self.source.key}:{self.write_key}"


def source_issue_write_key(*, source: Source) -> str:
    """Give a (new or existing, unsaved) source a fresh write key; returns it for showing once."""
    write_key = Source.new_write_key()
    if not source.key:
        source.key = Source.new_public_key()
    source.write_key_hash = Source.hash_write_key(write_key)
    source.write_key_hint = write_key[-4:]
    return write_key


@transaction.atomic
def source_create(
    *,
    name: str,
    channel: Channel,
    protection: str = Source.Protection.CREATE_UPDATE,
    priority: int = Source.Priority.SDK,
) -> SourceCredentials:
    """Create a source; the returned write key is shown once and only its hash is stored."""
    source = Source(name=name, channel=channel, protection=protection, priority=priority)
    write_key = source_issue_write_key(source=source)
    source.full_clean()
    source.save()
    return SourceCredentials(source=source, write_key=write_key)


@transaction.atomic
def source_rotate_write_key(*, source: Source) -> SourceCredentials:
    """Replace the write key: the old one stops working at once."""
    write_key = source_issue_write_key(source=source)
    source.key_rotated_at = timezone.now()
    source.save(update_fields=["write_key_hash", "write_key_hint", "key_rotated_at"])
    return SourceCredentials(source=source, write_key=write_key)


@transaction.atomic
def attribute_definition_create(
    *,
    key: str,
    label: str,
    type: str,
    description: str = "",
    item_schema: list | None = None,
    created_by=None,
) -> AttributeDefinition:
    from people.validation import validate_attribute_definition

    definition = AttributeDefinition(
        key=key,
        label=label,
        type=type,
        description=description,
        item_schema=item_schema or [],
        created_by=created_by,
    )
    validate_attribute_definition(definition)
    definition.save()
    return definition


def _schema_write(
    definition: EventDefinition | ContextDefinition, fields: dict[str, Any], properties: Sequence[dict] | None
) -> EventDefinition | ContextDefinition:
    """Save an event or context schema; ``properties``, when given, replace its properties."""
    for name, value in fields.items():
        setattr(definition, name, value)
    definition.save()
    if properties is not None:
        definition.properties.all().delete()
        model = definition.properties.model
        model.objects.bulk_create(model(definition=definition, **p) for p in properties)
    return definition


@transaction.atomic
def schema_create(
    *, model: type[EventDefinition | ContextDefinition], properties: Sequence[dict] = (), **fields: Any
) -> EventDefinition | ContextDefinition:
    """An event definition or a channel's context schema, with its properties (``key``, ``type``,
    ``regex``, ``required``, ``description``)."""
    return _schema_write(model(), fields, properties)


@transaction.atomic
def schema_update(
    *,
    definition: EventDefinition | ContextDefinition,
    properties: Sequence[dict] | None = None,
    **fields: Any,
) -> EventDefinition | ContextDefinition:
    """Change an event definition or a context schema; ``properties``, when given, replace its
    properties as a whole."""
    return _schema_write(definition, fields, properties)


def job_start(*, kind: str, params: dict | None = None, created_by=None, total: int = 0) -> Job:
    """Create a job and run it on django-q2 after the current transaction commits."""
    get_handler(kind)  # fail now for an unknown kind, not in the worker
    job = Job.objects.create(kind=kind, params=params or {}, created_by=created_by, progress_total=total)
    from django_q.tasks import async_task

    transaction.on_commit(
        lambda: async_task("people.tasks.run_job", job.pk, task_name=f"job {job.pk} {kind}"[:100])
    )
    return job


BULK_BATCH_SIZE = 2000


def people_bulk_write_attribute(
    *,
    person_ids: Sequence[int],
    key: str,
    value: Any = None,
    op: Literal["set", "unset"] = "set",
    actor=None,
    on_batch=None,
) -> int:
    """Set one attribute to a value (or reset it to empty) for many people; returns how many changed.

    The same per-key rules as ``person_write_attributes`` (a manual write), applied in primary-key
    batches, each its own transaction: one locking SELECT, one bulk UPDATE and one bulk INSERT of
    audit rows per batch. Unchanged people are skipped, so running it twice is harmless.
    ``on_batch(n)`` is called after each batch (job progress).
    """
    cast_writes = validate_attribute_writes([AttributeWrite(key, value, op)])
    spec = cast_writes[0][1]
    changed_total = 0
    ids = sorted(set(person_ids))
    for start in range(0, len(ids), BULK_BATCH_SIZE):
        chunk = ids[start : start + BULK_BATCH_SIZE]
        now = timezone.now()
        with transaction.atomic():
            people = list(
                Person.objects.select_for_update()
                .filter(pk__in=chunk)
                .order_by("pk")
                .only("pk", spec.key if spec.standard else "custom", "attribute_meta")
            )
            changed: list[Person] = []
            audit: list[AttributeChange] = []
            fields: set[str] = set()
            for person in people:
                applied = apply_attribute_writes(person, cast_writes, source=None, at=now, actor=actor)
                if applied.changed:
                    person.modified_at = now
                    changed.append(person)
                    audit.extend(applied.audit)
                    fields |= applied.fields
            if changed:
                Person.objects.bulk_update(changed, sorted(fields))
                AttributeChange.objects.bulk_create(audit)
                notify_people_changed([p.pk for p in changed], reason="bulk update")
        changed_total += len(changed)
        if on_batch is not None:
            on_batch(len(chunk))
    return changed_total


@transaction.atomic
def attribute_definition_update(*, definition: AttributeDefinition, **fields: Any) -> AttributeDefinition:
    """Change label, description or item schema; the key and the type never change."""
    from people.validation import validate_attribute_definition

    for name, value in fields.items():
        setattr(definition, name, value)
    validate_attribute_definition(definition)
    definition.save()
    return definition


@transaction.atomic
def person_create(
    *, kind: str = Person.Kind.PERSON, writes: Sequence[AttributeWrite] = (), actor=None
) -> Person:
    """Create a profile (an operator in the admin, an import) with its first attribute values.

    The values go through the same rules as every attribute write (validated and cast first, an audit
    row each); an invalid value raises ``AttributeValueError`` and no profile is created. The higher
    apps learn of the new profile after commit (new profiles are scored on creation)."""
    from django.core.exceptions import ValidationError

    if kind not in Person.Kind.values:
        expected = ", ".join(Person.Kind.values)
        raise ValidationError({"kind": f"Unknown kind {kind!r}; expected one of {expected}."})
    validate_attribute_writes(writes)
    person = Person.objects.create(kind=kind)
    if writes:
        person_write_attributes(person=person, writes=writes, actor=actor, notify=False)
    notify_people_changed([person.pk], reason="created")
    return person


@transaction.atomic
def event_definition_promote(*, name: str, properties: dict[str, str] | None = None):
    """Define an event first seen without a definition, with the properties it was seen with
    (``{key: type}``, e.g. inferred from an example). An existing definition and its existing
    properties are kept as they are; only missing properties are added (running it twice is harmless).
    A bad name, key or type raises ``ValidationError`` naming it, and nothing is written."""
    from django.core.exceptions import ValidationError

    from people.models import EventDefinition, EventPropertyDefinition

    definition = EventDefinition.objects.filter(name=name).first()
    if definition is None:
        definition = EventDefinition(name=name)
        definition.full_clean()
        definition.save()
    existing = set(definition.properties.values_list("key", flat=True))
    new = []
    for key, type_ in (properties or {}).items():
        if key in existing:
            continue
        prop = EventPropertyDefinition(
            definition=definition,
            key=key,
            type=AttributeType.TEXT if type_ == AttributeType.LIST else type_,
        )
        try:
            prop.full_clean(exclude=["definition"])
        except ValidationError as exc:
            raise ValidationError(f"Property {key!r} of {name!r}: {'; '.join(exc.messages)}") from exc
        new.append(prop)
    EventPropertyDefinition.objects.bulk_create(new)
    definitions_changed()  # a bulk insert sends no post_save
    return definition
