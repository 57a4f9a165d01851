"""Reads of the identity app: profile lookup by any identifier, the Profile API's pages, admin views."""

from __future__ import annotations

import base64
import binascii
import functools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet, Sum
from django.utils.dateparse import parse_datetime

from identity.extensions import TRAIT_CLASS, TraitSource, trait_sources
from identity.models import Identity, Merge, SourceDailyStat
from identity.policy import InvalidIdentifier, Policy
from people.attributes import STANDARD_ATTRIBUTES, read_attribute
from people.models import Event, Person, RejectedMessage, Source
from people.rawsql import select_prepared


@functools.cache
def _person_by_identity_sql() -> str:
    person = connection.ops.quote_name(Person._meta.db_table)
    identity = connection.ops.quote_name(Identity._meta.db_table)
    return (
        f"SELECT {person}.* FROM {person} JOIN {identity} ON {identity}.person_id = {person}.id "
        f"WHERE {identity}.type_id = %s AND {identity}.value = %s"
    )


def person_by_identifier(*, type_key: str, value: str) -> Person | None:
    """The live profile holding ``type_key:value`` (a merged child's identifiers resolve the parent)."""
    key = Policy.cached().lookup_key(type_key, value)
    if key is None:
        return None
    # The Profile API runs this per request: one statement whose SQL is built once (no ORM
    # compilation per call); RawQuerySet still applies the fields' converters. (type, value) is unique.
    person = next(iter(Person.objects.raw(_person_by_identity_sql(), list(key))), None)
    if person is None:
        return None
    seen = set()
    while person.merged_into_id and person.pk not in seen:
        seen.add(person.pk)
        person = person.merged_into
    return person


class TraitsProfile:
    """What ``/traits`` reads of a profile: the person's columns it serves (``id``, ``merged_into_id``,
    the standard attributes, ``custom``, ``attribute_meta``, read like a ``Person``'s) and each
    registered trait source's traits (``registered``: class -> ``{key: {"value", "updated_at"}}``)."""

    def __init__(self, registered: dict[str, dict[str, dict[str, Any]]], **columns: Any):
        self.__dict__.update(columns)
        self.pk = columns["id"]
        self.registered = registered


PROFILE_FIELDS = ("id", "merged_into_id", *STANDARD_ATTRIBUTES, "custom", "attribute_meta")


@functools.cache
def _profile_statement(sources: tuple[TraitSource, ...]) -> tuple[str, list, list[int]]:
    """The identifier lookup with ``sources``' traits: ``(sql, params, widths)`` whose first two
    parameters are the identifier's type id and value, and ``widths`` the number of columns of each
    source's arrays; built once per set of sources (PostgreSQL).

    ``chain`` walks ``merged_into`` from the identity's person as ``person_by_identifier`` does (to a
    person not merged, or back to one already seen), and each source's query joins the live person
    as one row of arrays (``CompiledOnce.arrays``)."""
    quote = connection.ops.quote_name
    person, identity = quote(Person._meta.db_table), quote(Identity._meta.db_table)
    columns = ", ".join(f"profile.{quote(Person._meta.get_field(name).column)}" for name in PROFILE_FIELDS)
    joins, params, widths = [], [], []
    for k, source in enumerate(sources):
        sql, source_params, width = source.rows.arrays("profile.id")
        widths.append(width)
        names = ", ".join(f"s{k}_{n}" for n in range(width))
        columns += ", " + names
        joins.append(f"LEFT JOIN LATERAL ({sql}) AS s{k}({names}) ON true")
        params += source_params
    statement = (
        "WITH RECURSIVE chain(id, merged_into_id, seen, depth) AS ("
        f" SELECT p.id, p.merged_into_id, ARRAY[]::bigint[], 0 FROM {identity} i"
        f" JOIN {person} p ON p.id = i.person_id WHERE i.type_id = %s AND i.value = %s"
        " UNION ALL"
        " SELECT p.id, p.merged_into_id, c.seen || c.id, c.depth + 1 FROM chain c"
        f" JOIN {person} p ON p.id = c.merged_into_id WHERE NOT c.id = ANY(c.seen))"
        f" SELECT {columns} FROM (SELECT id FROM chain ORDER BY depth DESC LIMIT 1) live"
        f" JOIN {person} profile ON profile.id = live.id {' '.join(joins)}"
    )
    return statement, params, widths


def _sources(classes: list[str] | None) -> tuple[TraitSource, ...]:
    """The registered trait sources ``classes`` names (all without ``classes``)."""
    return tuple(source for cls, source in trait_sources.items() if not classes or cls in classes)


def _read_each(person, sources: tuple[TraitSource, ...]) -> dict[str, dict[str, dict[str, Any]]]:
    """Each source's traits of ``person``, a statement each (where there is no single statement)."""
    return {source.cls: source.read(person) for source in sources}


def profile_for_traits(*, type_key: str, value: str, classes: list[str] | None) -> TraitsProfile | None:
    """The live profile holding ``type_key:value`` (as ``person_by_identifier``) with the traits of
    the registered sources ``classes`` names (all without ``classes``), for ``profile_traits``.

    On PostgreSQL one prepared statement: the lookup, the person's columns and every source's query.
    """
    sources = _sources(classes)
    if connection.vendor != "postgresql":
        person = person_by_identifier(type_key=type_key, value=value)
        if person is None:
            return None
        return TraitsProfile(
            _read_each(person, sources), **{name: getattr(person, name) for name in PROFILE_FIELDS}
        )
    key = Policy.cached().lookup_key(type_key, value)
    if key is None:
        return None
    statement, params, widths = _profile_statement(sources)
    rows = select_prepared(statement, [*key, *params])
    if not rows:
        return None
    row = rows[0]
    start = len(PROFILE_FIELDS)
    columns = dict(zip(PROFILE_FIELDS, row[:start], strict=True))
    for name in ("custom", "attribute_meta"):
        columns[name] = Person._meta.get_field(name).from_db_value(columns[name], None, connection)
    profile = TraitsProfile({}, **columns)
    for source, width in zip(sources, widths, strict=True):
        found = source.rows.from_arrays(row[start : start + width])
        profile.registered[source.cls] = source.traits(found, profile)
        start += width
    return profile


def person_ids_by_identifier_value(term: str) -> list[int]:
    """Person ids holding an identifier equal to ``term`` (as typed, or normalised per type)."""
    term = term.strip()
    if not term:
        return []
    candidates = {term, term.lower()}
    policy = Policy.load()
    for type_policy in policy.by_key.values():
        try:
            candidates.add(type_policy.normalize(term))
        except InvalidIdentifier:
            continue
    return list(Identity.objects.filter(value__in=candidates).values_list("person_id", flat=True)[:50])


def person_identities(*, person: Person) -> QuerySet[Identity]:
    return (
        Identity.objects.filter(person=person)
        .select_related("type", "channel", "source")
        .order_by("type__priority", "value")
    )


def person_merges(*, person: Person) -> QuerySet[Merge]:
    return (
        Merge.objects.filter(Q(parent=person) | Q(child=person))
        .select_related("parent", "child", "created_by")
        .order_by("-created_at")
    )


# --- Profile API ------------------------------------------------------------------------------


def encode_cursor(*parts: Any) -> str:
    text = "|".join(str(p) for p in parts)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, count: int) -> list[str] | None:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if "\x00" in text:  # PostgreSQL text cannot hold NUL: such a cursor was never ours
        return None
    parts = text.split("|", count - 1)
    return parts if len(parts) == count else None


@dataclass
class Page:
    items: list
    has_more: bool
    next: str | None


def _source_keys(ids: set) -> dict[int, str]:
    ids = {i for i in ids if i is not None}
    return dict(Source.objects.filter(pk__in=ids).values_list("pk", "key")) if ids else {}


def profile_traits(
    *,
    person: TraitsProfile | Person,
    include: list[str] | None,
    limit: int,
    after: str | None,
    verbose: bool,
    classes: list[str] | None = None,
) -> Page:
    """Standard and custom attributes, then what higher apps register (computed traits, audiences),
    of a profile read by ``profile_for_traits`` with the same ``classes`` (or of a ``Person``: then
    each trait source reads it, a statement each).

    A registered trait never shadows a standard or custom attribute of the same key.
    """
    registered = getattr(person, "registered", None)
    if registered is None:
        registered = _read_each(person, _sources(classes))
    values: dict[str, Any] = {}
    extra_meta: dict[str, dict[str, Any]] = {}
    if not classes or TRAIT_CLASS in classes:
        for key in STANDARD_ATTRIBUTES:
            value = read_attribute(person, key)
            if value not in (None, ""):
                values[key] = value
        for key, value in person.custom.items():
            if value is not None:
                values[key] = value
    for cls, found in registered.items():
        for key, row in found.items():
            if key in values or row.get("value") is None:
                continue
            if include and key not in include:
                continue
            values[key] = row["value"]
            extra_meta[key] = {"source": cls, "at": row.get("updated_at")}
    keys = sorted(k for k in values if (not include or k in include) and (after is None or k > after))
    page, has_more = keys[:limit], len(keys) > limit
    if verbose:
        sources = _source_keys({(person.attribute_meta.get(k) or {}).get("source") for k in page})
        items = []
        for key in page:
            if key in extra_meta:
                at = extra_meta[key]["at"]
                items.append(
                    (
                        key,
                        {
                            "value": values[key],
                            "source": extra_meta[key]["source"],
                            "source_id": None,
                            "updated_at": at.isoformat() if hasattr(at, "isoformat") else at,
                        },
                    )
                )
                continue
            meta = person.attribute_meta.get(key) or {}
            source = sources.get(meta.get("source"))
            items.append(
                (
                    key,
                    {
                        "value": values[key],
                        "source": source,
                        "source_id": source,
                        "updated_at": meta.get("at"),
                    },
                )
            )
    else:
        items = [(key, values[key]) for key in page]
    return Page(items, has_more, page[-1] if has_more else None)


def profile_external_ids(*, person: Person, include: list[str] | None, limit: int, after: int | None) -> Page:
    qs = Identity.objects.filter(person=person).select_related("type", "source").order_by("pk")
    if include:
        qs = qs.filter(type__key__in=include)
    if after is not None:
        qs = qs.filter(pk__gt=after)
    rows = list(qs[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    items = [
        {
            "id": row.value,
            "type": row.type.key,
            "source_id": row.source.key if row.source else None,
            "collection": "users",
            "created_at": row.first_seen_at.isoformat(),
            "encoding": "none",
            "first_message_id": row.first_message_id or None,
        }
        for row in rows
    ]
    return Page(items, has_more, str(rows[-1].pk) if has_more and rows else None)


def profile_events(
    *,
    person: Person,
    start: datetime | None,
    end: datetime | None,
    include: list[str] | None,
    exclude: list[str] | None,
    limit: int,
    sort: str,
    cursor: tuple[datetime, int] | None,
) -> Page:
    qs = Event.objects.filter(person=person).select_related("source")
    if start:
        qs = qs.filter(timestamp__gte=start)
    if end:
        qs = qs.filter(timestamp__lt=end)
    if include:
        qs = qs.filter(name__in=include)
    if exclude:
        qs = qs.exclude(name__in=exclude)
    if sort == "asc":
        if cursor:
            qs = qs.filter(Q(timestamp__gt=cursor[0]) | Q(timestamp=cursor[0], pk__gt=cursor[1]))
        qs = qs.order_by("timestamp", "pk")
    else:
        if cursor:
            qs = qs.filter(Q(timestamp__lt=cursor[0]) | Q(timestamp=cursor[0], pk__lt=cursor[1]))
        qs = qs.order_by("-timestamp", "-pk")
    rows = list(qs[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    items = [
        {
            "type": row.type,
            "event": row.name,
            "properties": row.properties,
            "context": row.context,
            "timestamp": row.timestamp.isoformat(),
            "original_timestamp": row.original_timestamp.isoformat() if row.original_timestamp else None,
            "received_at": row.received_at.isoformat(),
            "message_id": row.message_id,
            "source_id": row.source.key if row.source else None,
        }
        for row in rows
    ]
    last = rows[-1] if rows else None
    return Page(
        items, has_more, encode_cursor(last.timestamp.isoformat(), last.pk) if has_more and last else None
    )


def parse_event_cursor(cursor: str) -> tuple[datetime, int] | None:
    parts = decode_cursor(cursor, 2)
    if not parts:
        return None
    try:
        at, pk = parse_datetime(parts[0]), int(parts[1])
        if at is None or at.tzinfo is None:
            return None
        at = at.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return (at, pk) if -(2**63) <= pk < 2**63 else None


def profile_metadata(*, person: Person) -> dict:
    first = Event.objects.filter(person=person).order_by("timestamp", "pk").select_related("source").first()
    last = Event.objects.filter(person=person).order_by("-timestamp", "-pk").select_related("source").first()
    merged = list(person.merged_children.values_list("uid", flat=True))
    return {
        "id": str(person.uid),
        "created_at": person.created_at.isoformat(),
        "updated_at": person.modified_at.isoformat(),
        "expires_at": None,
        "first_seen_at": person.first_seen_at.isoformat() if person.first_seen_at else None,
        "last_seen_at": person.last_activity_at.isoformat() if person.last_activity_at else None,
        "first_message_id": first.message_id if first else None,
        "first_source_id": first.source.key if first and first.source else None,
        "last_message_id": last.message_id if last else None,
        "last_source_id": last.source.key if last and last.source else None,
        "merged_ids": [str(uid) for uid in merged],
    }


# --- Admin ------------------------------------------------------------------------------------


def source_activity(*, day) -> list[dict]:
    """Per source: messages accepted, rejected, dropped, suppressed and duplicated on ``day``."""
    stats = {
        row["source_id"]: row
        for row in SourceDailyStat.objects.filter(day=day).values(
            "source_id", "accepted", "rejected", "dropped", "suppressed", "duplicates"
        )
    }
    rows = []
    for source in Source.objects.select_related("channel").order_by("name"):
        row = stats.get(source.pk, {})
        rows.append(
            {
                "source": source,
                **{k: row.get(k, 0) for k in ("accepted", "rejected", "dropped", "suppressed", "duplicates")},
            }
        )
    return rows


def source_totals(*, source: Source) -> dict:
    return SourceDailyStat.objects.filter(source=source).aggregate(
        accepted=Sum("accepted"), rejected=Sum("rejected"), dropped=Sum("dropped")
    )


def source_debugger(*, source: Source, limit: int = 50) -> dict:
    """The latest accepted and rejected messages of a source (the event debugger)."""
    accepted = list(Event.objects.filter(source=source).select_related("person").order_by("-pk")[:limit])
    rejected = list(RejectedMessage.objects.filter(source=source).order_by("-received_at")[:limit])
    return {"accepted": accepted, "rejected": rejected}
