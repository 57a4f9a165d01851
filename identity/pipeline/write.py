"""The write step: one transaction per batch, with bulk statements whatever its size.

Dedupe, look up and lock, plan (``identity.pipeline.resolve``), then: merges between stored
profiles (``identity.merging.persons_merge_many``), one INSERT of new profiles, one of new identities,
one of group links, one ``COPY`` of the events (PostgreSQL; ``bulk_create`` on SQLite), the traits of
the whole batch (``people.services.people_write_traits``: one locking SELECT, the per-key decisions of
``people.services`` in message order, one UPDATE, one audit INSERT), one UPDATE of the counters
(``identity.pipeline.counters``), contacts, the batch's quarantine rows, and the change notification
after commit.
"""

from __future__ import annotations

from datetime import datetime

from django.db import connection

from identity.bulk import bulk_insert
from identity.merging import persons_merge_many
from identity.models import GroupMembership, Identity
from identity.pipeline import resolve
from identity.pipeline.counters import record_contacts, update_counters
from identity.pipeline.quarantine import store_rejects
from identity.pipeline.state import (
    EVENT_COLUMNS,
    EVENT_JSON,
    IDENTITY_COLUMNS,
    EventRow,
    IngestResult,
    Prepared,
    Reject,
)
from identity.policy import Policy
from identity.resolution import Ident, Outcome
from identity.schemas import SchemaChecker
from people.models import Event, Person, Source
from people.services import EVENTS_REASON, TraitWrite, notify_people_changed, people_write_traits


def write_batch(
    *,
    source: Source,
    prepared: list[Prepared],
    rejects: list[Reject],
    received_at: datetime,
    policy: Policy,
    result: IngestResult,
    dedupe_keys: list[str],
    checker: SchemaChecker,
) -> None:
    """Everything of one batch, inside the caller's transaction (``Retry`` or ``IntegrityError``:
    roll back and call again)."""
    prepared, repeated = resolve.dedupe(prepared, dedupe_keys, received_at, result)
    if repeated:
        return  # the caller's dedupe key was seen: a retry of a stored batch (its rejects too)
    lookup = resolve.look_up(resolve.wanted_identifiers(prepared), policy)
    planned = resolve.plan(source, prepared, lookup, policy, received_at, result)
    resolver = planned.resolver

    # Merges between stored profiles (profiles this batch creates merge in memory).
    message_id_of = {p.message.index: p.message.message_id for p in prepared}
    stored_merges = [
        (merge.parent, merge.child, merge.reason, message_id_of.get(merge.message_index, ""))
        for merge in resolver.merges
        if isinstance(merge.child, int) and isinstance(merge.parent, int)
    ]
    # Counters as locked (PostgreSQL), then as the merges left the parents.
    counters = {pk: row["counters"] for pk, row in lookup.people.items() if "counters" in row}
    merged_children = (
        set(persons_merge_many(stored_merges, source=source, counters=counters)) if stored_merges else set()
    )

    # New profiles: one INSERT.
    roots = [ref for ref in resolver.new_people if resolver.find(ref) == ref]
    new_rows = [
        Person(
            kind=resolver.new_people[ref][1],
            created_at=resolver.new_people[ref][0],
            modified_at=resolver.new_people[ref][0],
        )
        for ref in roots
    ]
    Person.objects.bulk_create(new_rows)
    pk_of: dict = {ref: row.pk for ref, row in zip(roots, new_rows, strict=True)}
    if connection.vendor == "postgresql":
        for row in new_rows:
            counters[row.pk] = (row.first_seen_at, row.last_activity_at, row.event_count, row.session_count)

    def resolve_pk(ref) -> int:
        ref = resolver.find(ref)
        return pk_of.get(ref, ref)

    seen_again = _write_identities(source, prepared, planned, lookup, policy, received_at, resolve_pk)
    if planned.memberships:
        GroupMembership.objects.bulk_create(
            [
                GroupMembership(person_id=resolve_pk(p), company_id=resolve_pk(c), created_at=received_at)
                for p, c in planned.memberships
            ],
            ignore_conflicts=True,
        )

    # Events: one COPY (PostgreSQL) or one INSERT.
    events = [
        EventRow(
            person_id=resolve_pk(outcome.person),
            type=item.message.type,
            name=item.message.name,
            channel_id=source.channel_id,
            source_id=source.pk,
            timestamp=item.message.timestamp,
            original_timestamp=item.message.original_timestamp,
            sent_at=item.message.sent_at,
            received_at=item.message.received_at or received_at,
            properties=item.message.properties,
            context=item.message.context,
            message_id=item.message.message_id,
        )
        for item, outcome in planned.accepted
    ]
    bulk_insert(Event, EVENT_COLUMNS, events, json_columns=EVENT_JSON)
    result.accepted = len(events)

    # Attributes: identify traits (and group traits on the company) of the whole batch.
    changed_traits: dict[int, dict] = {}
    if source.protection != Source.Protection.READ_ONLY:
        trait_items = [
            TraitWrite(resolve_pk(outcome.person), item.writes, item.message.timestamp)
            for item, outcome in planned.accepted
            if item.writes
        ]
        trait_items += [
            TraitWrite(resolve_pk(ref), writes, message.timestamp)
            for ref, writes, message in planned.company_writes
        ]
        if trait_items:
            changed_traits = people_write_traits(trait_items, source=source, definitions=checker.attributes)

    # PostgreSQL: the identities' last seen travel with the counters UPDATE (one statement).
    touched = update_counters(
        events, counters, last_seen=(received_at, seen_again) if connection.vendor == "postgresql" else None
    )
    record_contacts(events, {name for name, d in checker.events.items() if d.is_contact})
    store_rejects(source, rejects)
    result.person_ids = touched | {resolve_pk(ref) for ref, _, _ in planned.company_writes}
    # The refreshes: people who only got events (most of a batch) by the events' names, so computed
    # attributes and audiences that read none of them are skipped; everyone else in full.
    full = (
        merged_children
        | {pk for merge in stored_merges for pk in merge[:2]}
        | set(pk_of.values())
        | {resolve_pk(ref) for ref, _ in planned.resolver.new_identities.values()}
        | {resolve_pk(ref) for ref, _, _ in planned.company_writes}
        | set(changed_traits)
    )
    names: dict[int, set[str]] = {}
    for event in events:
        names.setdefault(event.person_id, set()).add(event.name)
    notify_people_changed((result.person_ids & full) | merged_children, reason="ingest")
    only_events = {pk: names.get(pk, ()) for pk in result.person_ids - full}
    notify_people_changed(only_events, reason=EVENTS_REASON, events=only_events)


def _write_identities(source, prepared, planned, lookup, policy, received_at, resolve_pk) -> list[int]:
    """New identities in one INSERT, in a stable order (no deadlocks between concurrent batches);
    returns the pks of known identities seen again (stamped with the counters on PostgreSQL)."""
    message_of = {p.message.index: p.message for p in prepared}
    identities = []
    for (key, value), (ref, index) in sorted(planned.resolver.new_identities.items()):
        message = message_of.get(index)
        seen = (message.received_at if message else None) or received_at
        identities.append(
            (
                policy.by_key[key].id,
                value,
                resolve_pk(ref),
                source.channel_id,
                source.pk,
                policy.by_key[key].anonymous,
                seen,
                seen,
                message.message_id if message else "",
            )
        )
    bulk_insert(Identity, IDENTITY_COLUMNS, identities)
    used = _used(planned.accepted)
    seen_again = sorted(pk for ident, (pk, _) in lookup.found.items() if ident in used)
    if seen_again and connection.vendor != "postgresql":
        Identity.objects.filter(pk__in=seen_again).update(last_seen_at=received_at)
    return seen_again


def _used(accepted: list[tuple[Prepared, Outcome]]) -> set[Ident]:
    return {ident for _, outcome in accepted for ident in outcome.used}
