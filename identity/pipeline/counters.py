"""The counters step: system attributes of the touched profiles, and contacts.

Per batch, one statement updates every touched profile: ``event_count``, ``session_count`` (a new
session starts after 30 minutes without activity), ``first_seen_at`` and ``last_activity_at``.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from identity.pipeline import sql
from identity.pipeline.state import EventRow
from people.models import Channel, EventDefinition, Person
from people.services import contact_record

SESSION_GAP = timedelta(minutes=30)


def update_counters(
    events: list[EventRow],
    known: dict[int, tuple] | None = None,
    last_seen: tuple[datetime, list[int]] | None = None,
) -> set[int]:
    """Count the batch's events into their people; returns the touched person ids.

    ``known``: ``pk → (first_seen_at, last_activity_at, event_count, session_count)`` of locked
    rows whose values this transaction already holds (no SELECT for them).
    ``last_seen``: ``(at, identity pks)`` to stamp in the same statement (PostgreSQL).
    """
    times: dict[int, list[datetime]] = defaultdict(list)
    for event in events:
        times[event.person_id].append(event.timestamp)
    if not times:
        if last_seen and last_seen[1]:
            sql.write_counters([], last_seen)
        return set()
    known = known or {}
    if sql.postgres():
        missing = sorted(pk for pk in times if pk not in known)
        rows = [(pk, *known[pk]) for pk in times if pk in known]
        if missing:
            rows += sql.person_counters(missing)
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
    sql.write_counters(updated, last_seen)
    return set(times)


def record_contacts(events: list[EventRow], contact_names: set[str] | None = None) -> None:
    """Contacts for events whose definition *is contact* (``contact_names``: as the schema checker
    loaded them; read here when not given)."""
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
    latest: dict[tuple[int, int], tuple[datetime, EventRow]] = {}
    for event in events:
        if event.name in contact_names:
            key = (event.person_id, event.channel_id)
            if key not in latest or latest[key][0] < event.timestamp:
                latest[key] = (event.timestamp, event)
    for (person_id, _), (at, event) in sorted(latest.items()):
        channel = Channel(pk=event.channel_id) if event.channel_id else None
        contact_record(person=Person(pk=person_id), channel=channel, at=at)
