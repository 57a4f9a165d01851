"""The ingestion pipeline: a batch of tracking messages in, profiles, identities and events out.

``ingest_batch`` is the one entry point (the HTTP endpoints, the mParticle adapter and ``bench/``
call it). Per batch, whatever its size, it reads definitions, identifier types, suppressions and
identities with a constant number of queries, resolves every message in memory
(``identity.resolution``), and writes with bulk statements: one INSERT for the dedupe keys, one for
new profiles, one for new identities, one for events, one UPDATE for the profiles' counters.
Identify traits go through ``people.services.person_write_attributes`` (one call per message that
carries traits). Merges are rare and go through ``identity.merging.person_merge``.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import psycopg
from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import Count, F
from django.utils import timezone

from identity.bulk import bulk_insert
from identity.merging import persons_merge_many
from identity.models import (
    GroupMembership,
    IdentifierType,
    Identity,
    SeenMessage,
    SeenUndefined,
    SourceDailyStat,
    SuppressedIdentifier,
)
from identity.normalize import Message, Rejection, message_size, normalize_message
from identity.policy import InvalidIdentifier, Policy, custom_type_defaults
from identity.resolution import Ident, Outcome, Resolver
from identity.schemas import SchemaChecker, Undefined
from identity.traits import TraitWrite, people_write_traits
from people.attributes import AttributeValueError, UnknownAttributeError
from people.models import Channel, Event, EventDefinition, Person, RejectedMessage, Source
from people.services import (
    AttributeWrite,
    contact_record,
    notify_people_changed,
    validate_attribute_writes,
)

logger = logging.getLogger(__name__)

SESSION_GAP = timedelta(minutes=30)
MAX_ATTEMPTS = 6


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    dropped: int = 0
    suppressed: int = 0
    rejected: list[dict] = field(default_factory=list)
    person_ids: set[int] = field(default_factory=set)
    outcomes: dict[int, str] = field(default_factory=dict)  # message index → resolution action

    def body(self) -> dict:
        """The tracking response body: exactly ``{"success": true}`` plus any rejections."""
        data: dict[str, Any] = {"success": True}
        if self.rejected:
            data["rejected"] = self.rejected
        return data


@dataclass
class _Prepared:
    message: Message
    idents: list[Ident]
    writes: list[AttributeWrite]
    company_writes: list[AttributeWrite]
    alias_previous: str | None = None


class _Retry(Exception):
    pass


def _reject(
    result: IngestResult, rejects: list, index: int, raw: Any, rejection: Rejection, received_at: datetime
) -> None:
    message_id = raw.get("messageId") if isinstance(raw, dict) else None
    message_type = raw.get("type") if isinstance(raw, dict) else None
    result.rejected.append(
        {
            "index": index,
            "messageId": message_id if isinstance(message_id, str) else None,
            "code": rejection.code,
            "message": rejection.reason,
        }
    )
    rejects.append((index, raw, rejection, message_id, message_type, received_at))


@dataclass
class Part:
    """One request's messages with its batch-level fields (a stored ``InboundBatch`` is one part)."""

    messages: list[Any]
    received_at: datetime
    sent_at: datetime | None = None
    context: dict | None = None
    integrations: dict | None = None
    path_type: str | None = None
    body_bytes: int | None = None


def ingest_batch(
    *,
    source: Source,
    messages: list[Any],
    received_at: datetime | None = None,
    sent_at: datetime | None = None,
    context: dict | None = None,
    integrations: dict | None = None,
    path_type: str | None = None,
    body_bytes: int | None = None,
    require_user_or_anonymous_id: bool = True,
    dedupe_keys: list[str] = (),
) -> IngestResult:
    """Accept a batch of Segment-spec messages from ``source``.

    Bad messages are quarantined (``RejectedMessage``) and listed in the result; they never fail
    the batch. Duplicate messageIds (and ``dedupe_keys``, e.g. mParticle's source_request_id) are
    ignored. Messages for unknown people from Update Only / Read Only sources are dropped and
    counted; messages carrying a suppressed identifier are dropped silently.
    """
    part = Part(
        messages=messages,
        received_at=received_at or timezone.now(),
        sent_at=sent_at,
        context=context,
        integrations=integrations,
        path_type=path_type,
        body_bytes=body_bytes,
    )
    return ingest_parts(
        source=source,
        parts=[part],
        require_user_or_anonymous_id=require_user_or_anonymous_id,
        dedupe_keys=dedupe_keys,
    )


def precheck(
    part: Part, *, require_user_or_anonymous_id: bool = True, offset: int = 0
) -> tuple[list[Message], list[tuple[int, Any, Rejection]]]:
    """The checks that need no database: size, shape, types, times, userId/anonymousId.

    Returns the normalised messages and the rejections as ``(index, raw, rejection)``. Pure (the
    queued accept path runs it inside the request).
    """
    max_message = settings.INGEST_MAX_MESSAGE_BYTES
    check_size = part.body_bytes is None or part.body_bytes > max_message
    parsed: list[Message] = []
    rejected: list[tuple[int, Any, Rejection]] = []
    for position, raw in enumerate(part.messages):
        index = offset + position
        try:
            if check_size and message_size(raw) > max_message:
                raise Rejection("message_too_large", f"The message is larger than {max_message} bytes.")
            message = normalize_message(
                raw,
                index=index,
                received_at=part.received_at,
                batch_sent_at=part.sent_at,
                batch_context=part.context,
                batch_integrations=part.integrations,
                path_type=part.path_type,
            )
            if require_user_or_anonymous_id and not (message.user_id or message.anonymous_id):
                raise Rejection("no_user_anon_id", "A message needs a userId or an anonymousId.")
        except Rejection as rejection:
            rejected.append((index, raw, rejection))
            continue
        parsed.append(message)
    return parsed, rejected


def ingest_parts(
    *,
    source: Source,
    parts: list[Part],
    require_user_or_anonymous_id: bool = True,
    dedupe_keys: list[str] = (),
) -> IngestResult:
    """``ingest_batch`` for several requests of one source at once (the queued worker's path).

    Message indexes run across the parts (part 2 starts after part 1's last index).
    """
    result = IngestResult()
    rejects: list = []
    channel = source.channel
    received_at = max(part.received_at for part in parts)

    parsed: list[Message] = []
    seen_ids: set[str] = set()
    offset = 0
    for part in parts:
        messages, rejected = precheck(
            part, require_user_or_anonymous_id=require_user_or_anonymous_id, offset=offset
        )
        offset += len(part.messages)
        for index, raw, rejection in rejected:
            _reject(result, rejects, index, raw, rejection, part.received_at)
        for message in messages:
            if message.message_id in seen_ids:
                result.duplicates += 1
                continue
            seen_ids.add(message.message_id)
            parsed.append(message)
    parsed.sort(key=lambda m: m.index)

    checker = SchemaChecker.load(channel=channel, messages=parsed)
    policy = Policy.load()
    prepared: list[_Prepared] = []
    for message in parsed:
        try:
            checker.check_event(message)
            checker.check_context(message)
            writes: list[AttributeWrite] = []
            company_writes: list[AttributeWrite] = []
            if message.type == "identify" and (message.traits or message.unset_traits):
                writes = checker.trait_writes(message.traits, unset=message.unset_traits)
                _validate_writes(writes, checker)
            elif message.type == "group" and message.traits:
                company_writes = checker.trait_writes(message.traits)
                _validate_writes(company_writes, checker)
            idents = _identifiers(message, policy)
        except Rejection as rejection:
            _reject(result, rejects, message.index, message.raw, rejection, message.received_at)
            continue
        prepared.append(_Prepared(message, idents, writes, company_writes))

    prepared = _drop_suppressed(prepared, policy, result)
    in_batch_duplicates = result.duplicates
    if rejects and not prepared:
        # Nothing to resolve: only quarantine.
        _store_rejects(source, rejects)
    elif prepared or rejects:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                with transaction.atomic():
                    _write(source, prepared, rejects, received_at, policy, result, dedupe_keys, checker)
                break
            except (_Retry, IntegrityError, OperationalError) as exc:
                # A unique race (two batches creating the same person) or a changed identity:
                # everything rolled back; resolve again against what the other batch committed.
                if attempt == MAX_ATTEMPTS:
                    raise
                logger.info("ingest batch retry %s after %s", attempt, exc.__class__.__name__)
                result.accepted = result.dropped = 0
                result.duplicates = in_batch_duplicates
                result.person_ids.clear()
                result.outcomes.clear()
                time.sleep(0.01 * attempt)
    result.rejected.sort(key=lambda r: r["index"])
    _after_commit_bookkeeping(source, checker.undefined, result, received_at)
    return result


def _validate_writes(writes: list[AttributeWrite], checker: SchemaChecker) -> None:
    try:
        validate_attribute_writes(writes, checker.attributes)
    except (AttributeValueError, UnknownAttributeError) as exc:
        raise Rejection("invalid_trait", exc.messages[0]) from exc


def _identifiers(message: Message, policy: Policy) -> list[Ident]:
    """The message's identifiers, normalised by type; blocked values are left out."""
    found: list[Ident] = []
    blocked: list[str] = []
    for key, raw in message.identifiers:
        type_policy = policy.get(key)
        if type_policy is None:
            row, _ = IdentifierType.objects.get_or_create(key=key, defaults=custom_type_defaults(key))
            type_policy = policy.add(row)
        try:
            value = type_policy.normalize(raw)
        except InvalidIdentifier:
            continue
        if type_policy.is_blocked(value):
            blocked.append(f"{type_policy.key}:{value}")
            continue
        found.append((type_policy.key, value))
    if message.type == "alias" and message.previous_id:
        user_ids = [ident for ident in found if ident[0] == "user_id"]
        if not user_ids:
            raise Rejection("blocked_identifier", "The alias userId is blocked or invalid.")
        for key in ("user_id", "anonymous_id"):
            if policy.get(key).is_blocked(message.previous_id):
                raise Rejection("blocked_identifier", f"previousId {message.previous_id!r} is blocked.")
    if not found:
        if blocked:
            raise Rejection(
                "blocked_identifier", "Every identifier of the message is blocked: " + ", ".join(blocked)
            )
        raise Rejection("no_identifier", "The message carries no usable identifier.")
    return found


def _drop_suppressed(prepared: list[_Prepared], policy: Policy, result: IngestResult) -> list[_Prepared]:
    values = {value for p in prepared for _, value in p.idents}
    if not values:
        return prepared
    if connection.vendor == "postgresql":
        type_key = {p.id: p.key for p in policy.by_key.values()}
        suppressed = {
            (type_key.get(type_id, "?"), value)
            for type_id, value in _fetch(
                "SELECT type_id, value FROM identity_suppressedidentifier WHERE value = ANY(%s::text[])",
                [sorted(values)],
            )
        }
    else:
        suppressed = {
            (policy_key, value)
            for policy_key, value in SuppressedIdentifier.objects.filter(value__in=values).values_list(
                "type__key", "value"
            )
        }
    if not suppressed:
        return prepared
    kept = []
    for item in prepared:
        if any(ident in suppressed for ident in item.idents):
            result.suppressed += 1
        else:
            kept.append(item)
    return kept


def _insert_dedupe(keys: list[str], received_at: datetime) -> set[str]:
    """Insert messageIds; returns those that were new (the rest are duplicates)."""
    fresh: set[str] = set()
    table = connection.ops.quote_name(SeenMessage._meta.db_table)
    keys = sorted(keys)
    if connection.vendor == "postgresql":
        rows = _fetch(
            f"INSERT INTO {table} (message_id, received_at) SELECT unnest(%s::text[]), %s "  # noqa: S608
            "ON CONFLICT (message_id) DO NOTHING RETURNING message_id",
            [keys, received_at],
        )
        return {row[0] for row in rows}
    for start in range(0, len(keys), 5000):
        chunk = keys[start : start + 5000]
        placeholders = ", ".join(["(%s, %s)"] * len(chunk))
        params: list[Any] = []
        for key in chunk:
            params += [key, received_at]
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (message_id, received_at) VALUES {placeholders} "  # noqa: S608
                "ON CONFLICT (message_id) DO NOTHING RETURNING message_id",
                params,
            )
            fresh.update(row[0] for row in cursor.fetchall())
    return fresh


def _fetch(sql: str, params: list, *, rows: bool = True) -> list[tuple]:
    """Run raw SQL (PostgreSQL paths that pass arrays instead of long IN lists).

    Server-side binding on a plain psycopg cursor: array parameters travel in binary instead of
    being quoted into the SQL text by Django's client-side cursor (that quoting was ~10% of a
    batch), and psycopg prepares the statements a worker repeats.
    """
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql.replace("%s", "%b"), params)
        return cursor.fetchall() if rows else []


def _lock_people(person_ids: list[int]) -> dict[int, dict]:
    """Lock the batch's known people in primary-key order (no deadlocks between batches)."""
    if not person_ids:
        return {}
    if connection.vendor == "postgresql":
        rows = _fetch(
            "SELECT id, created_at, merged_into_id, kind FROM people_person "
            "WHERE id = ANY(%s::bigint[]) ORDER BY id FOR UPDATE",
            [person_ids],
        )
        return {
            pk: {"pk": pk, "created_at": created_at, "merged_into_id": merged_into_id, "kind": kind}
            for pk, created_at, merged_into_id, kind in rows
        }
    return {
        row["pk"]: row
        for row in Person.objects.select_for_update()
        .filter(pk__in=person_ids)
        .order_by("pk")
        .values("pk", "created_at", "merged_into_id", "kind")
    }


def _lookup(idents: set[Ident], policy: Policy) -> dict[Ident, tuple[int, int]]:
    """identifier → (identity pk, person pk) for the identifiers that exist: one query."""
    if not idents:
        return {}
    type_keys = {policy.by_key[key].id: key for key, _ in idents}
    if connection.vendor == "postgresql":
        wanted = sorted((policy.by_key[key].id, value) for key, value in idents)
        rows = _fetch(
            "SELECT i.id, i.type_id, i.value, i.person_id FROM identity_identity i "
            "JOIN unnest(%s::bigint[], %s::text[]) AS w(type_id, value) "
            "ON i.type_id = w.type_id AND i.value = w.value",
            [[t for t, _ in wanted], [v for _, v in wanted]],
        )
        return {(type_keys[type_id], value): (pk, person_id) for pk, type_id, value, person_id in rows}
    rows = Identity.objects.filter(
        type_id__in=list(type_keys), value__in=list({value for _, value in idents})
    ).values_list("pk", "type_id", "value", "person_id")
    found = {}
    for pk, type_id, value, person_id in rows:
        ident = (type_keys[type_id], value)
        if ident in idents:
            found[ident] = (pk, person_id)
    return found


_LOOKUP_AND_LOCK = (
    "WITH w(type_id, value) AS MATERIALIZED (SELECT * FROM unnest(%s::bigint[], %s::text[])), "
    "found AS MATERIALIZED (SELECT i.id, i.type_id, i.value, i.person_id, p.xmin::text AS seen "
    "FROM identity_identity i JOIN w ON i.type_id = w.type_id AND i.value = w.value "
    "JOIN people_person p ON p.id = i.person_id), "
    "locked AS MATERIALIZED (SELECT id, xmin::text AS x, created_at, merged_into_id, kind, first_seen_at, "
    "last_activity_at, event_count, session_count FROM people_person "
    "WHERE id IN (SELECT person_id FROM found) ORDER BY id FOR UPDATE) "
    "SELECT 'f', id, type_id, person_id, NULL::bigint, value, seen, NULL::timestamptz, NULL::timestamptz, "
    "NULL::timestamptz FROM found "
    "UNION ALL SELECT 'p', id, merged_into_id, event_count, session_count, kind, x, created_at, "
    "first_seen_at, last_activity_at FROM locked "
    "UNION ALL SELECT 'c', person_id, type_id, count(*), NULL, NULL, NULL, NULL, NULL, NULL "
    "FROM identity_identity WHERE person_id IN (SELECT id FROM locked) GROUP BY person_id, type_id"
)
_RECHECK_AND_COUNT = (
    "SELECT 'i', i.id, i.person_id, i.type_id, i.value FROM identity_identity i "
    "JOIN unnest(%s::bigint[], %s::text[]) AS w(type_id, value) "
    "ON i.type_id = w.type_id AND i.value = w.value "
    "UNION ALL "
    "SELECT 'c', person_id, type_id, count(*), NULL FROM identity_identity "
    "WHERE person_id = ANY(%s::bigint[]) GROUP BY person_id, type_id"
)


def _wanted_arrays(idents: set[Ident], policy: Policy) -> list[list]:
    wanted = sorted((policy.by_key[key].id, value) for key, value in idents)
    return [[t for t, _ in wanted], [v for _, v in wanted]]


def _lookup_and_lock(
    idents: set[Ident], policy: Policy
) -> tuple[dict[Ident, tuple[int, int]], dict[int, dict], list[tuple[int, int, int]] | None]:
    """PostgreSQL: ``_lookup``, ``_lock_people`` and the identifier counts in one statement.

    The people are locked in primary-key order and carry their counters (locked, so
    ``_update_counters`` needs no SELECT). The lookup and the counts come from the statement's
    snapshot, taken before the locks were granted: every writer that moves or adds a person's
    identities (merge, unmerge, attach) also updates that person's row, so when each locked row is
    still the version the lookup saw (same ``xmin``), they are current. Otherwise the counts are
    ``None`` and the caller looks again under the locks (``_recheck_and_count``).
    """
    if not idents:
        return {}, {}, []
    type_keys = {policy.by_key[key].id: key for key, _ in idents}
    found: dict[Ident, tuple[int, int]] = {}
    seen: dict[int, str] = {}
    people: dict[int, dict] = {}
    counts: list[tuple[int, int, int]] = []
    for tag, a, b, c, d, text, x, created_at, first_seen_at, last_activity_at in _fetch(
        _LOOKUP_AND_LOCK, _wanted_arrays(idents, policy)
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
    for tag, a, b, c, value in _fetch(_RECHECK_AND_COUNT, [*_wanted_arrays(idents, policy), person_ids]):
        if tag == "i":
            found[(type_keys[c], value)] = (a, b)
        else:
            counts.append((a, b, c))
    return found, counts


def _write(
    source: Source,
    prepared: list[_Prepared],
    rejects: list,
    received_at: datetime,
    policy: Policy,
    result: IngestResult,
    dedupe_keys: list[str],
    checker: SchemaChecker,
) -> None:
    # Dedupe: only messageIds the client chose (generated ones can never repeat).
    keys = [p.message.message_id for p in prepared if not p.message.message_id_generated] + list(dedupe_keys)
    if dedupe_keys or keys:
        fresh = _insert_dedupe(keys, received_at)
        if any(key not in fresh for key in dedupe_keys):
            result.duplicates += len(prepared)
            prepared = []
        else:
            kept = [p for p in prepared if p.message.message_id_generated or p.message.message_id in fresh]
            result.duplicates += len(prepared) - len(kept)
            prepared = kept

    # Every identifier the batch mentions (alias previousIds as either type).
    wanted: set[Ident] = set()
    for item in prepared:
        wanted.update(item.idents)
        if item.message.type == "alias" and item.message.previous_id:
            wanted.add(("user_id", item.message.previous_id))
            wanted.add(("anonymous_id", item.message.previous_id))
        if item.message.type == "group" and item.message.group_id:
            wanted.add(("group_id", item.message.group_id.strip()))
    counts: dict = defaultdict(Counter)
    type_key = {p.id: p.key for p in policy.by_key.values()}
    if connection.vendor == "postgresql":
        # One round trip looks the identifiers up, locks their people and counts their identifiers;
        # only when another transaction changed one of those people meanwhile, a second one looks
        # them up again under the locks and counts again.
        found, people, rows = _lookup_and_lock(wanted, policy)
        person_ids = sorted({person_id for _, person_id in found.values()})
        if person_ids:
            if rows is None:
                again, rows = _recheck_and_count(wanted, policy, person_ids)
                if again != found:
                    raise _Retry()
            if any(row["merged_into_id"] for row in people.values()):
                raise _Retry()
            for person_id, type_id, n in rows:
                counts[person_id][type_key.get(type_id, "?")] = n
    else:
        found = _lookup(wanted, policy)
        person_ids = sorted({person_id for _, person_id in found.values()})
        people = _lock_people(person_ids)
        if person_ids:
            rows = (
                Identity.objects.filter(person_id__in=person_ids)
                .values("person_id", "type_id")
                .annotate(n=Count("pk"))
                .values_list("person_id", "type_id", "n")
            )
            for person_id, type_id, n in rows:
                counts[person_id][type_key.get(type_id, "?")] = n

    resolver = Resolver(
        priority={key: (p.priority, key) for key, p in policy.by_key.items()},
        limits={key: p.limit for key, p in policy.by_key.items()},
        owner={ident: person_id for ident, (_, person_id) in found.items()},
        counts=counts,
        age={pk: (0, row["created_at"], pk) for pk, row in people.items()},
        kinds={pk: row["kind"] for pk, row in people.items()},
    )
    create = source.protection == Source.Protection.CREATE_UPDATE
    attach = source.protection != Source.Protection.READ_ONLY
    accepted: list[tuple[_Prepared, Outcome]] = []
    memberships: list[tuple] = []
    company_writes: list[tuple] = []
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
        accepted.append((item, outcome))
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
                memberships.append((outcome.person, company.person))
                if item.company_writes:
                    company_writes.append((company.person, item.company_writes, message))

    # Merges between stored profiles (profiles this batch creates merge in memory).
    message_id_of = {p.message.index: p.message.message_id for p in prepared}
    stored_merges = [
        (planned.parent, planned.child, planned.reason, message_id_of.get(planned.message_index, ""))
        for planned in resolver.merges
        if isinstance(planned.child, int) and isinstance(planned.parent, int)
    ]
    # Counters as locked (PostgreSQL), then as the merges left the parents.
    counters = {pk: row["counters"] for pk, row in people.items() if "counters" in row}
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

    # New identities: one INSERT, in a stable order (no deadlocks between concurrent batches).
    message_of = {p.message.index: p.message for p in prepared}
    identities = []
    for (key, value), (ref, index) in sorted(resolver.new_identities.items()):
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
    used = _used(accepted)
    seen_again = sorted(pk for ident, (pk, _) in found.items() if ident in used)
    if seen_again and connection.vendor != "postgresql":
        Identity.objects.filter(pk__in=seen_again).update(last_seen_at=received_at)
    if memberships:
        GroupMembership.objects.bulk_create(
            [
                GroupMembership(person_id=resolve_pk(p), company_id=resolve_pk(c), created_at=received_at)
                for p, c in memberships
            ],
            ignore_conflicts=True,
        )

    # Events: one COPY (PostgreSQL) or one INSERT.
    events = [
        _EventRow(
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
        for item, outcome in accepted
    ]
    bulk_insert(Event, EVENT_COLUMNS, events, json_columns=EVENT_JSON)
    result.accepted = len(events)

    # Attributes: identify traits (and group traits on the company): one locking SELECT of the
    # people concerned, the per-key decisions of people.services in message order, one UPDATE,
    # one audit INSERT.
    if attach:
        trait_items = [
            TraitWrite(resolve_pk(outcome.person), item.writes, item.message.timestamp)
            for item, outcome in accepted
            if item.writes
        ]
        trait_items += [
            TraitWrite(resolve_pk(ref), writes, message.timestamp) for ref, writes, message in company_writes
        ]
        if trait_items:
            people_write_traits(trait_items, source=source, definitions=checker.attributes)

    # PostgreSQL: the identities' last seen travel with the counters UPDATE (one statement).
    touched = _update_counters(
        events, counters, last_seen=(received_at, seen_again) if connection.vendor == "postgresql" else None
    )
    _record_contacts(events, {name for name, d in checker.events.items() if d.is_contact})
    if rejects:
        _store_rejects(source, rejects)
    result.person_ids = touched | {resolve_pk(ref) for ref, _, _ in company_writes}
    notify_people_changed(result.person_ids | merged_children, reason="ingest")


class _EventRow(NamedTuple):
    person_id: int
    type: str
    name: str
    channel_id: int | None
    source_id: int
    timestamp: datetime
    original_timestamp: datetime | None
    sent_at: datetime | None
    received_at: datetime
    properties: dict
    context: dict
    message_id: str


EVENT_COLUMNS = _EventRow._fields
EVENT_JSON = ("properties", "context")
IDENTITY_COLUMNS = (
    "type_id",
    "value",
    "person_id",
    "channel_id",
    "source_id",
    "anonymous",
    "first_seen_at",
    "last_seen_at",
    "first_message_id",
)


def _used(accepted: list[tuple[_Prepared, Outcome]]) -> set[Ident]:
    return {ident for _, outcome in accepted for ident in outcome.used}


def _update_counters(
    events: list[_EventRow],
    known: dict[int, tuple] | None = None,
    last_seen: tuple[datetime, list[int]] | None = None,
) -> set[int]:
    """System attributes: event count, sessions (30 min inactivity), first seen, last activity.

    ``known``: ``pk → (first_seen_at, last_activity_at, event_count, session_count)`` of locked
    rows whose values this transaction already holds (no SELECT for them).
    ``last_seen``: ``(at, identity pks)`` to stamp in the same statement (PostgreSQL).
    """
    times: dict[int, list[datetime]] = defaultdict(list)
    for event in events:
        times[event.person_id].append(event.timestamp)
    if not times:
        if last_seen and last_seen[1]:
            _write_counters([], last_seen)
        return set()
    known = known or {}
    if connection.vendor == "postgresql":
        missing = sorted(pk for pk in times if pk not in known)
        rows = [(pk, *known[pk]) for pk in times if pk in known]
        if missing:
            rows += _fetch(
                "SELECT id, first_seen_at, last_activity_at, event_count, session_count FROM people_person "
                "WHERE id = ANY(%s::bigint[])",
                [missing],
            )
    else:
        rows = Person.objects.filter(pk__in=list(times)).values_list(
            "pk", "first_seen_at", "last_activity_at", "event_count", "session_count"
        )
    updated = []
    for pk, first_seen_at, last, event_count, session_count in rows:
        stamps = sorted(times[pk])
        sessions = 0
        for stamp in stamps:
            if last is None or stamp - last > SESSION_GAP:
                sessions += 1
            if last is None or stamp > last:
                last = stamp
        if first_seen_at is None or stamps[0] < first_seen_at:
            first_seen_at = stamps[0]
        updated.append((pk, first_seen_at, last, event_count + len(stamps), session_count + sessions))
    _write_counters(updated, last_seen)
    return set(times)


def _write_counters(rows: list[tuple], last_seen: tuple[datetime, list[int]] | None = None) -> None:
    """One UPDATE for the whole batch (Django's bulk_update CASE is slow): arrays on PostgreSQL,
    where ``last_seen`` (``(at, identity pks)``) rides along as a data-modifying CTE."""
    table = connection.ops.quote_name(Person._meta.db_table)
    rows = sorted(rows)
    if connection.vendor == "postgresql":
        sql = (
            f"UPDATE {table} AS p SET first_seen_at = v.first_seen_at, "  # noqa: S608
            "last_activity_at = v.last_activity_at, event_count = v.event_count, "
            "session_count = v.session_count "
            "FROM unnest(%s::bigint[], %s::timestamptz[], %s::timestamptz[], %s::integer[], %s::integer[]) "
            "AS v(id, first_seen_at, last_activity_at, event_count, session_count) WHERE p.id = v.id"
        )
        params: list[Any] = [[row[i] for row in rows] for i in range(5)]
        if last_seen and last_seen[1]:
            sql = (
                "WITH seen AS (UPDATE identity_identity SET last_seen_at = %s "
                "WHERE id = ANY(%s::bigint[]) RETURNING 1) " + sql
            )
            params = [last_seen[0], last_seen[1], *params]
        _fetch(sql, params, rows=False)
        return
    adapt = connection.ops.adapt_datetimefield_value
    for start in range(0, len(rows), 2000):
        chunk = rows[start : start + 2000]
        params: list[Any] = []
        for pk, first_seen_at, last_activity_at, event_count, session_count in chunk:
            params += [pk, adapt(first_seen_at), adapt(last_activity_at), event_count, session_count]
        with connection.cursor() as cursor:
            cursor.execute(
                f"WITH v(id, first_seen_at, last_activity_at, event_count, session_count) AS "  # noqa: S608
                f"(VALUES {', '.join(['(%s, %s, %s, %s, %s)'] * len(chunk))}) "
                f"UPDATE {table} SET first_seen_at = v.first_seen_at, last_activity_at = v.last_activity_at, "
                f"event_count = v.event_count, session_count = v.session_count "
                f"FROM v WHERE {table}.id = v.id",
                params,
            )


def _record_contacts(events: list[_EventRow], contact_names: set[str] | None = None) -> None:
    """``contact_names``: the batch's contact event names, as the schema checker loaded them."""
    names = {event.name for event in events if event.type in ("track", "page", "screen")}
    if not names:
        return
    if contact_names is None:
        contact_names = set(
            EventDefinition.objects.filter(name__in=names, is_contact=True).values_list("name", flat=True)
        )
    contact_names &= names
    if not contact_names:
        return
    latest: dict[tuple[int, int], tuple[datetime, _EventRow]] = {}
    for event in events:
        if event.name in contact_names:
            key = (event.person_id, event.channel_id)
            if key not in latest or latest[key][0] < event.timestamp:
                latest[key] = (event.timestamp, event)
    for (person_id, _), (at, event) in sorted(latest.items()):
        channel = Channel(pk=event.channel_id) if event.channel_id else None
        contact_record(person=Person(pk=person_id), channel=channel, at=at)


def _store_rejects(source: Source, rejects: list) -> None:
    RejectedMessage.objects.bulk_create(
        [
            RejectedMessage(
                source=source,
                received_at=received_at,
                reason_code=rejection.code,
                reason=rejection.reason,
                message_id=str(message_id)[:128] if isinstance(message_id, (str, int)) else "",
                message_type=str(message_type)[:32] if isinstance(message_type, str) else "",
                payload=_storable(raw),
            )
            for _, raw, rejection, message_id, message_type, received_at in rejects
        ]
    )


def _storable(raw: Any) -> Any:
    """Keep the payload for inspection, but never more than the message limit."""
    if message_size(raw) > settings.INGEST_MAX_MESSAGE_BYTES:
        return {"truncated": True, "preview": str(raw)[:2000]}
    return raw


def _after_commit_bookkeeping(
    source: Source, undefined: list[Undefined], result: IngestResult, received_at: datetime
) -> None:
    """Per-source daily counters and the seen-but-undefined list: short statements of their own."""
    from people.selectors import organization_today

    day = organization_today(received_at)
    counts = {
        "accepted": result.accepted,
        "rejected": len(result.rejected),
        "dropped": result.dropped,
        "suppressed": result.suppressed,
        "duplicates": result.duplicates,
    }
    if connection.vendor == "postgresql":
        _bookkeeping_upsert(source, day, counts, undefined, received_at)
        return
    if any(counts.values()):
        updates = {key: F(key) + value for key, value in counts.items() if value}
        if not SourceDailyStat.objects.filter(source=source, day=day).update(**updates):
            try:
                with transaction.atomic():
                    SourceDailyStat.objects.create(source=source, day=day, **counts)
            except IntegrityError:
                SourceDailyStat.objects.filter(source=source, day=day).update(**updates)
    if undefined:
        _note_undefined(source, undefined, received_at)


_STAT_UPSERT = (
    "INSERT INTO identity_sourcedailystat AS s "
    "(source_id, day, accepted, rejected, dropped, suppressed, duplicates) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (source_id, day) DO UPDATE SET "
    "accepted = s.accepted + EXCLUDED.accepted, rejected = s.rejected + EXCLUDED.rejected, "
    "dropped = s.dropped + EXCLUDED.dropped, suppressed = s.suppressed + EXCLUDED.suppressed, "
    "duplicates = s.duplicates + EXCLUDED.duplicates"
)
_UNDEFINED_UPSERT = (
    "INSERT INTO identity_seenundefined AS u "
    "(kind, channel_id, event_name, key, example, count, first_seen_at, last_seen_at) "
    "SELECT v.kind, %s, v.event_name, v.key, v.example::jsonb, v.n, %s, %s "
    "FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::integer[]) "
    "AS v(kind, event_name, key, example, n) "
    "ON CONFLICT (kind, channel_id, event_name, key) DO UPDATE SET "
    "count = u.count + EXCLUDED.count, last_seen_at = EXCLUDED.last_seen_at"
)


def _bookkeeping_upsert(
    source: Source, day, counts: dict[str, int], undefined: list[Undefined], at: datetime
) -> None:
    """PostgreSQL: the daily counters and the seen-but-undefined list in one autocommit statement
    (the same values as the UPDATE-else-INSERT and the insert/select/update of the other path)."""
    parts: list[str] = []
    params: list[Any] = []
    if any(counts.values()):
        parts.append(_STAT_UPSERT)
        params += [source.pk, day, *counts.values()]
    if undefined:
        grouped: dict[tuple[str, str, str], list[Undefined]] = defaultdict(list)
        for item in undefined:
            grouped[(item.kind, item.event_name[:200], item.key[:200])].append(item)
        keys = sorted(grouped)
        parts.append(_UNDEFINED_UPSERT)
        params += [
            source.channel_id,
            at,
            at,
            [k for k, _, _ in keys],
            [n for _, n, _ in keys],
            [key for _, _, key in keys],
            [_json_or_none(grouped[k][0].example) for k in keys],
            [len(grouped[k]) for k in keys],
        ]
    if not parts:
        return
    if len(parts) == 1:
        _fetch(parts[0], params, rows=False)
    else:
        _fetch(f"WITH stat AS ({parts[0]} RETURNING 1) {parts[1]}", params, rows=False)


def _json_or_none(value: Any) -> str | None:
    return None if value is None else json.dumps(value, cls=SeenUndefined._meta.get_field("example").encoder)


def _note_undefined(source: Source, undefined: list[Undefined], at: datetime) -> None:
    grouped: dict[tuple[str, str, str], list[Undefined]] = defaultdict(list)
    for item in undefined:
        grouped[(item.kind, item.event_name[:200], item.key[:200])].append(item)
    channel = source.channel
    SeenUndefined.objects.bulk_create(
        [
            SeenUndefined(
                kind=kind,
                channel=channel,
                event_name=name,
                key=key,
                example=items[0].example,
                first_seen_at=at,
            )
            for (kind, name, key), items in grouped.items()
        ],
        ignore_conflicts=True,
    )
    rows = SeenUndefined.objects.filter(channel=channel, kind__in={k for k, _, _ in grouped}).filter(
        event_name__in={n for _, n, _ in grouped}, key__in={k for _, _, k in grouped}
    )
    changed = []
    for row in rows:
        items = grouped.get((row.kind, row.event_name, row.key))
        if items:
            row.count += len(items)
            row.last_seen_at = at
            changed.append(row)
    SeenUndefined.objects.bulk_update(changed, ["count", "last_seen_at"])
