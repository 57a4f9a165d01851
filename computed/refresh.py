"""The incremental refresh fast path: a cached, pipelined program of statements per definition set.

``refresh_person`` runs often (after every change to a person), so its cost is what matters, and
most of it used to be Python: compiling each definition's SQL through the ORM and one round trip per
statement. Here:

- one query reads the active definitions (``definition`` as text) and the organization's timezone;
- the statements for ``n`` people are compiled once per (definitions, ``n``, organization day,
  timezone) and cached for ``CACHE_SECONDS`` (the same staleness as ``plans.plan_of``), with their
  parameters as a template: constants, the people, and instants that move with ``now``;
- on PostgreSQL the statements run pipelined in one transaction (one round trip, then COMMIT).

The template is learned, not hand-written: the program is compiled twice, with two sets of sentinel
person ids and at two instants ``delta`` apart on the same organization day. A parameter equal in
both is a constant for that day (bounds of full days and months, ``today()``, literals); one that
moved by exactly ``delta`` is ``now`` plus a fixed offset (``now()``, last N hours, event windows,
"within the last N days" of date-times); the sentinels are the people. Anything else (different
SQL text, a parameter that moved otherwise, e.g. SQLite's date-time strings) leaves the program
uncached: it is compiled for each call, exactly as before. Every time-dependent value the compilers
produce is either ``now ± constant`` or a function of the organization's date, which is part of
the cache key, so a cached program gives the same statements as a fresh compile.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import connection, transaction

from computed import engine, sql
from computed.models import ComputedAttribute
from people.models import OrganizationSettings
from people.rawsql import select_rows

PROGRAM_PEOPLE = 32  # up to this many people per call go through a cached program
CACHE_SECONDS = 30.0
CACHE_SIZE = 64
DELTA = timedelta(seconds=1, microseconds=250_000)
SENTINEL_A = 8_000_000_000_000_000_000
SENTINEL_B = 8_100_000_000_000_000_000


@dataclass
class Snapshot:
    """The active definitions, as read by one query."""

    key: tuple
    attributes: list[ComputedAttribute]
    tz: ZoneInfo


def active_snapshot() -> Snapshot:
    table = ComputedAttribute._meta.db_table
    org = OrganizationSettings._meta.db_table
    rows = select_rows(
        f"SELECT a.id, a.key, a.kind, a.output_type, a.definition, "
        f"(SELECT o.timezone FROM {org} o WHERE o.id = 1) "
        f"FROM {table} a WHERE a.state = %s ORDER BY a.id",
        [ComputedAttribute.State.ACTIVE],
    )
    if not rows:
        return Snapshot((), [], ZoneInfo("UTC"))
    tz_name = rows[0][5]
    if tz_name is None:
        from people.selectors import organization_tz

        tz_name = organization_tz().key
    key = tuple(
        (pk, k, kind, output_type, d if isinstance(d, str) else json.dumps(d, sort_keys=True))
        for pk, k, kind, output_type, d, _ in rows
    )
    attributes = [
        ComputedAttribute(
            pk=pk,
            key=k,
            kind=kind,
            output_type=output_type,
            definition=json.loads(d) if isinstance(d, str) else d,
            state=ComputedAttribute.State.ACTIVE,
        )
        for pk, k, kind, output_type, d, _ in rows
    ]
    return Snapshot(key, attributes, ZoneInfo(tz_name))


def narrowed(snapshot: Snapshot, attributes: list[ComputedAttribute]) -> Snapshot:
    """The snapshot of some of its attributes (its own program cache entry)."""
    keep = {a.pk for a in attributes}
    key = tuple(entry for entry in snapshot.key if entry[0] in keep)
    return Snapshot(key, [a for a in snapshot.attributes if a.pk in keep], snapshot.tz)


# One parameter of a cached statement: ("c", value) | ("p", index of the person) | ("t", offset from now)
Slot = tuple[str, object]


@dataclass
class Program:
    statements: list[tuple[str, list[Slot]]] | None
    built: float

    def bind(self, person_ids, now: datetime) -> list[tuple[str, list]]:
        out = []
        for text, slots in self.statements:
            params = []
            for kind, value in slots:
                if kind == "c":
                    params.append(value)
                elif kind == "p":
                    params.append(person_ids[value])
                else:
                    params.append(now + value)
            out.append((text, params))
        return out


_programs: OrderedDict[tuple, Program] = OrderedDict()
_lock = threading.Lock()


def clear_cache() -> None:
    _programs.clear()


def statements(attributes, person_ids, *, now: datetime, tz: ZoneInfo) -> list[tuple[str, list]]:
    """Every statement recomputing ``attributes`` for ``person_ids``, in dependency order."""
    out: list[tuple[str, list]] = []
    for step in engine.steps(attributes, one_pass=True):
        after: list[tuple[str, list]] = []
        rows = engine.rows_for(step, person_ids=person_ids, now=now, tz=tz, after=after)
        out += sql.write_statements(
            rows,
            attribute_ids=[a.pk for a in step],
            person_ids=person_ids,
            computed_at=now,
        )
        out += after
    return out


def _same(a, b) -> bool:
    return type(a) is type(b) and a == b


def _learn(attributes, n: int, *, now: datetime, tz: ZoneInfo) -> Program | None:
    """Compile twice and derive the parameter template; None when it cannot be derived."""
    today = now.astimezone(tz).date()
    delta = DELTA if (now + DELTA).astimezone(tz).date() == today else -DELTA
    ids_a = [SENTINEL_A + i for i in range(n)]
    ids_b = [SENTINEL_B + i for i in range(n)]
    first = statements(attributes, ids_a, now=now, tz=tz)
    second = statements(attributes, ids_b, now=now + delta, tz=tz)
    if len(first) != len(second):
        return None
    program = []
    for (text_a, params_a), (text_b, params_b) in zip(first, second, strict=True):
        if text_a != text_b or len(params_a) != len(params_b):
            return None
        slots: list[Slot] = []
        for a, b in zip(params_a, params_b, strict=True):
            if type(a) is int and SENTINEL_A <= a < SENTINEL_A + n and b == a - SENTINEL_A + SENTINEL_B:
                slots.append(("p", a - SENTINEL_A))
            elif _same(a, b):
                slots.append(("c", a))
            elif isinstance(a, datetime) and isinstance(b, datetime) and b - a == delta:
                slots.append(("t", a - now))
            else:
                return None
        program.append((text_a, slots))
    return Program(program, time.monotonic())


def program_for(snapshot: Snapshot, n: int, now: datetime) -> Program | None:
    key = (
        connection.vendor,
        connection.alias,
        snapshot.key,
        n,
        now.astimezone(snapshot.tz).date(),
        snapshot.tz.key,
    )
    with _lock:
        hit = _programs.get(key)
        if hit is not None and time.monotonic() - hit.built < CACHE_SECONDS:
            _programs.move_to_end(key)
            return hit if hit.statements is not None else None
    program = _learn(snapshot.attributes, n, now=now, tz=snapshot.tz)
    with _lock:
        # An uncacheable program is remembered as such, so it is not learned again on every call.
        _programs[key] = program or Program(None, time.monotonic())
        while len(_programs) > CACHE_SIZE:
            _programs.popitem(last=False)
    return program


def run(snapshot: Snapshot, person_ids: list[int], *, now: datetime) -> int:
    """Recompute every active attribute for a few people in one transaction; returns rows upserted."""
    program = program_for(snapshot, len(person_ids), now)
    return execute(
        program.bind(person_ids, now)
        if program is not None
        else statements(snapshot.attributes, person_ids, now=now, tz=snapshot.tz)
    )


def execute(bound: list[tuple[str, list]]) -> int:
    written = 0
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # Pipelined: every statement is sent before any result is read (one round trip).
            connection.ensure_connection()
            raw = connection.connection
            cursors = []
            with raw.pipeline():
                for text, params in bound:
                    cursor = raw.cursor()
                    cursor.execute(text, params)
                    cursors.append(cursor)
            for cursor in cursors:
                row = cursor.fetchone() if cursor.description else None
                written += row[0] if row else 0
                cursor.close()
        else:
            with connection.cursor() as cursor:
                for text, params in bound:
                    cursor.execute(text, params)
                    if " ON CONFLICT " in text:
                        written += max(cursor.rowcount, 0)
    return written
