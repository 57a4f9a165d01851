"""The resolve step, inside the batch's transaction: dedupe, look up and lock, plan.

- ``dedupe``: one INSERT of the client-chosen messageIds (and the caller's dedupe keys); what the
  database already held is a duplicate.
- ``look_up``: every identifier the batch mentions, their people locked in primary-key order (no
  deadlocks between batches) and their identifiers counted per type. On PostgreSQL one statement
  does all three (``sql.LOOKUP_AND_LOCK``); the lookup and counts come from the statement's snapshot,
  taken before the locks were granted. Every writer that moves or adds a person's identities also
  updates that person's row, so when each locked row is still the version the lookup saw (same
  ``xmin``), they are current; otherwise a second statement looks again under the locks, and a
  changed identity rolls the batch back to resolve it again (``Retry``).
- ``plan``: ``identity.resolution.Resolver`` decides per message (create, attach, merge, drop) in memory.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count

from identity.models import Identity
from identity.pipeline import sql
from identity.pipeline.state import IngestResult, Prepared, Retry
from identity.policy import Policy
from identity.resolution import Ident, Outcome, Resolver
from people.models import Person, Source


def dedupe(
    prepared: list[Prepared], dedupe_keys: list[str], received_at: datetime, result: IngestResult
) -> tuple[list[Prepared], bool]:
    """The messages not seen before, and whether one of ``dedupe_keys`` was (then none is kept)."""
    # Only messageIds the client chose (generated ones can never repeat).
    keys = [p.message.message_id for p in prepared if not p.message.message_id_generated] + list(dedupe_keys)
    if not keys:
        return prepared, False
    fresh = sql.insert_dedupe(keys, received_at)
    if any(key not in fresh for key in dedupe_keys):
        result.duplicates += len(prepared)
        return [], True
    kept = [p for p in prepared if p.message.message_id_generated or p.message.message_id in fresh]
    result.duplicates += len(prepared) - len(kept)
    return kept, False


@dataclass
class Lookup:
    found: dict[Ident, tuple[int, int]]  # identifier → (identity pk, person pk)
    people: dict[int, dict]  # locked person pk → pk, created_at, merged_into_id, kind (+ counters)
    counts: dict[int, Counter] = field(default_factory=lambda: defaultdict(Counter))


def wanted_identifiers(prepared: list[Prepared]) -> set[Ident]:
    """Every identifier the batch mentions (alias previousIds as either type, groupIds)."""
    wanted: set[Ident] = set()
    for item in prepared:
        wanted.update(item.idents)
        if item.message.type == "alias" and item.message.previous_id:
            wanted.add(("user_id", item.message.previous_id))
            wanted.add(("anonymous_id", item.message.previous_id))
        if item.message.type == "group" and item.message.group_id:
            wanted.add(("group_id", item.message.group_id.strip()))
    return wanted


def look_up(wanted: set[Ident], policy: Policy) -> Lookup:
    type_key = {p.id: p.key for p in policy.by_key.values()}
    if sql.postgres():
        # One round trip looks the identifiers up, locks their people and counts their identifiers;
        # only when another transaction changed one of those people meanwhile, a second one looks
        # them up again under the locks and counts again.
        found, people, rows = _lookup_and_lock(wanted, policy)
        lookup = Lookup(found, people)
        person_ids = sorted({person_id for _, person_id in found.values()})
        if person_ids:
            if rows is None:
                again, rows = _recheck_and_count(wanted, policy, person_ids)
                if again != found:
                    raise Retry()
            if any(row["merged_into_id"] for row in people.values()):
                raise Retry()
            for person_id, type_id, n in rows:
                lookup.counts[person_id][type_key.get(type_id, "?")] = n
        return lookup
    found = _lookup(wanted, policy)
    person_ids = sorted({person_id for _, person_id in found.values()})
    lookup = Lookup(found, _lock_people(person_ids))
    if person_ids:
        rows = (
            Identity.objects.filter(person_id__in=person_ids)
            .values("person_id", "type_id")
            .annotate(n=Count("pk"))
            .values_list("person_id", "type_id", "n")
        )
        for person_id, type_id, n in rows:
            lookup.counts[person_id][type_key.get(type_id, "?")] = n
    return lookup


def _wanted_arrays(idents: set[Ident], policy: Policy) -> list[list]:
    wanted = sorted((policy.by_key[key].id, value) for key, value in idents)
    return [[t for t, _ in wanted], [v for _, v in wanted]]


def _lookup_and_lock(
    idents: set[Ident], policy: Policy
) -> tuple[dict[Ident, tuple[int, int]], dict[int, dict], list[tuple[int, int, int]] | None]:
    """PostgreSQL: lookup, locks and identifier counts in one statement (see the module docstring).

    The counts are ``None`` when a locked row changed since the lookup's snapshot."""
    if not idents:
        return {}, {}, []
    type_keys = {policy.by_key[key].id: key for key, _ in idents}
    found: dict[Ident, tuple[int, int]] = {}
    seen: dict[int, str] = {}
    people: dict[int, dict] = {}
    counts: list[tuple[int, int, int]] = []
    for tag, a, b, c, d, text, x, created_at, first_seen_at, last_activity_at in sql.fetch(
        sql.LOOKUP_AND_LOCK, _wanted_arrays(idents, policy)
    ):
        if tag == "f":
            found[(type_keys[b], text)] = (a, c)
            seen[c] = x
        elif tag == "p":
            people[a] = {
                "pk": a,
                "created_at": created_at,
                "merged_into_id": b,
                "kind": text,
                "counters": (first_seen_at, last_activity_at, c, d),
                "xmin": x,
            }
        else:
            counts.append((a, b, c))
    current = all(pk in people and people[pk]["xmin"] == x for pk, x in seen.items())
    return found, people, counts if current else None


def _recheck_and_count(
    idents: set[Ident], policy: Policy, person_ids: list[int]
) -> tuple[dict[Ident, tuple[int, int]], list[tuple[int, int, int]]]:
    """PostgreSQL, under the locks: the identifiers again, and the people's identifiers per type."""
    type_keys = {policy.by_key[key].id: key for key, _ in idents}
    found: dict[Ident, tuple[int, int]] = {}
    counts: list[tuple[int, int, int]] = []
    for tag, a, b, c, value in sql.fetch(
        sql.RECHECK_AND_COUNT, [*_wanted_arrays(idents, policy), person_ids]
    ):
        if tag == "i":
            found[(type_keys[c], value)] = (a, b)
        else:
            counts.append((a, b, c))
    return found, counts


def _lookup(idents: set[Ident], policy: Policy) -> dict[Ident, tuple[int, int]]:
    """SQLite: identifier → (identity pk, person pk) for the identifiers that exist: one query."""
    if not idents:
        return {}
    type_keys = {policy.by_key[key].id: key for key, _ in idents}
    rows = Identity.objects.filter(
        type_id__in=list(type_keys), value__in=list({value for _, value in idents})
    ).values_list("pk", "type_id", "value", "person_id")
    found = {}
    for pk, type_id, value, person_id in rows:
        ident = (type_keys[type_id], value)
        if ident in idents:
            found[ident] = (pk, person_id)
    return found


def _lock_people(person_ids: list[int]) -> dict[int, dict]:
    """SQLite: lock the batch's known people in primary-key order."""
    if not person_ids:
        return {}
    return {
        row["pk"]: row
        for row in Person.objects.select_for_update()
        .filter(pk__in=person_ids)
        .order_by("pk")
        .values("pk", "created_at", "merged_into_id", "kind")
    }


@dataclass
class Plan:
    resolver: Resolver
    accepted: list[tuple[Prepared, Outcome]]
    memberships: list[tuple]  # (person ref, company ref)
    company_writes: list[tuple]  # (company ref, writes, message)


def plan(
    source: Source,
    prepared: list[Prepared],
    lookup: Lookup,
    policy: Policy,
    received_at: datetime,
    result: IngestResult,
) -> Plan:
    """Resolve every message in memory, in message order; dropped messages are counted."""
    resolver = Resolver(
        priority={key: (p.priority, key) for key, p in policy.by_key.items()},
        limits={key: p.limit for key, p in policy.by_key.items()},
        owner={ident: person_id for ident, (_, person_id) in lookup.found.items()},
        counts=lookup.counts,
        age={pk: (0, row["created_at"], pk) for pk, row in lookup.people.items()},
        kinds={pk: row["kind"] for pk, row in lookup.people.items()},
    )
    create = source.protection == Source.Protection.CREATE_UPDATE
    attach = source.protection != Source.Protection.READ_ONLY
    out = Plan(resolver, [], [], [])
    for item in prepared:
        message = item.message
        idents = list(item.idents)
        reason = "resolution"
        if message.type == "alias":
            previous = message.previous_id
            kind = "user_id" if resolver.owner_of(("user_id", previous)) is not None else "anonymous_id"
            idents.append((kind, previous))
            reason = "alias"
        outcome = resolver.plan(
            idents,
            at=message.received_at or received_at,
            message_index=message.index,
            create=create,
            attach=attach,
            reason=reason,
        )
        result.outcomes[message.index] = outcome.action
        if outcome.action == "drop":
            result.dropped += 1
            continue
        out.accepted.append((item, outcome))
        if message.type == "group" and message.group_id:
            company = resolver.plan(
                [("group_id", message.group_id.strip())],
                at=message.received_at or received_at,
                message_index=message.index,
                create=create,
                attach=attach,
                kind=Person.Kind.COMPANY,
            )
            if company.person is not None:
                out.memberships.append((outcome.person, company.person))
                if item.company_writes:
                    out.company_writes.append((company.person, item.company_writes, message))
    return out
