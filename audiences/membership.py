"""Materialized membership: full refreshes (versioned, set-based) and real-time refreshes of a few people.

Full refresh of one audience (``refresh``), in one transaction holding the audience row:

1. ``INSERT INTO membership SELECT audience, N+1, person, COALESCE(old.entered_at, now) FROM (<members>)``
   — the compiled definition's one SELECT over everyone, never a Python loop;
2. two ``INSERT … SELECT`` into the history: who is in N+1 and not in N (entered), and the reverse
   (exited);
3. ``UPDATE audience SET version = N+1, member_count, last refresh …`` (the atomic switch), then the
   rows of version N are deleted.

A failure rolls all of it back (the previous membership stays) and is counted on the audience row.
A refresh claims the audience with ``refresh_started_at``; a claim older than ``REFRESH_TIMEOUT`` (a
dead worker) is taken over by the next refresh.

Real time (``refresh_people``): the same compiled SELECT restricted to the changed people, per level
of audiences (an audience after those it names), diffed against their current rows. Its text is the
same for every call with as many people, so it runs as a prepared statement (planning a union of
twenty audiences costs more than running it). A first pass reads only; the pass that locks and writes
runs only when a membership moves.

Entries and exits are announced after commit to ``settings.ATTUNE_MEMBERSHIP_CHANGED_TASKS`` as
``async_task(path, audience_id=…, first_history_id=…, last_history_id=…)``.
"""

from __future__ import annotations

import json
import logging
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Max, Min, Q
from django.utils import timezone

from audiences import definition as definitions
from audiences.models import Audience, AudienceMembership, AudienceRefresh, MembershipHistory
from people import conditions, schema
from people.attributes import EVENT_MOVED_ATTRIBUTES, STANDARD_ATTRIBUTES, SYSTEM_ATTRIBUTES
from people.rawsql import select_prepared, select_rows
from people.selectors import organization_tz
from people.services import CONTACT_REASON, grouped_by_what_events_move

log = logging.getLogger(__name__)
REFRESH_TIMEOUT = timedelta(minutes=30)
M = AudienceMembership._meta.db_table
H = MembershipHistory._meta.db_table
A = Audience._meta.db_table


def announce(audience_id: int, first_id: int | None, last_id: int | None) -> None:
    """After commit: tell the subscribed apps (actions' webhooks) which history rows are new."""
    if first_id is None:
        return
    paths = getattr(settings, "ATTUNE_MEMBERSHIP_CHANGED_TASKS", [])
    if not paths:
        return
    from django_q.tasks import async_task

    def enqueue() -> None:
        for path in paths:
            async_task(path, audience_id=audience_id, first_history_id=first_id, last_history_id=last_id)

    transaction.on_commit(enqueue)


# ---------------------------------------------------------------- full refresh


@dataclass
class RefreshResult:
    audience_id: int
    ran: bool
    version: int = 0
    member_count: int = 0
    entered: int = 0
    exited: int = 0
    seconds: float = 0.0
    error: str = ""


def claim(audience_id: int, now: datetime) -> bool:
    """Mark the audience as refreshing unless another live refresh holds it."""
    return bool(
        Audience.objects.filter(pk=audience_id)
        .filter(Q(refresh_started_at__isnull=True) | Q(refresh_started_at__lt=now - REFRESH_TIMEOUT))
        .update(refresh_started_at=now)
    )


def refresh(audience_id: int, *, now: datetime | None = None, progress=None) -> RefreshResult:
    """Recompute the whole membership of one audience (see the module docstring)."""
    now = now or timezone.now()
    if not claim(audience_id, now):
        return RefreshResult(audience_id, ran=False, error="another refresh is running")
    started = time.monotonic()
    try:
        with transaction.atomic():
            result = _refresh_locked(audience_id, now=now, started=started, progress=progress)
    except Exception as exc:  # noqa: BLE001 - the audience row records any failure for the marketer
        log.exception("refresh of audience %s failed", audience_id)
        message = f"{type(exc).__name__}: {exc}"[:4000]
        seconds = time.monotonic() - started
        failed = {"error_count": F("error_count") + 1, "last_error": message, "last_error_at": timezone.now()}
        with transaction.atomic():
            _finish(audience_id, now=now, seconds=seconds, audience=failed, logged={"error": message})
        return RefreshResult(audience_id, ran=True, seconds=seconds, error=message)
    _analyze_after(result)
    return result


# A refresh that moved this many people has changed the membership tables enough that the planner's
# statistics (autovacuum's ANALYZE comes later) would mislead the next statements over them.
ANALYZE_AFTER_MOVES = 10_000


def _analyze_after(result: RefreshResult) -> None:
    if connection.vendor != "postgresql" or result.entered + result.exited < ANALYZE_AFTER_MOVES:
        return
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {M}, {H}")
    except DatabaseError:  # the refresh itself has committed; fresher statistics are a bonus
        log.warning("ANALYZE after the refresh of audience %s failed", result.audience_id, exc_info=True)


def _finish(audience_id: int, *, now: datetime, seconds: float, audience: dict, logged: dict) -> None:
    """End a refresh: release the claim, update the audience row and log the refresh."""
    Audience.objects.filter(pk=audience_id).update(refresh_started_at=None, **audience)
    AudienceRefresh.objects.create(
        audience_id=audience_id, started_at=now, finished_at=timezone.now(), seconds=seconds, **logged
    )


def _refresh_locked(audience_id: int, *, now: datetime, started: float, progress) -> RefreshResult:
    audience = Audience.objects.select_for_update().get(pk=audience_id)
    compiled = definitions.compile_audience(audience)
    old, new = audience.version, audience.version + 1
    members_sql, params = definitions.members_sql(compiled, now=now, tz=organization_tz())
    at = connection.ops.adapt_datetimefield_value(now)  # as the ORM stores it (SQLite: text)
    with connection.cursor() as cursor:
        # (No rows of version N+1 can exist: a refresh that died rolled its transaction back.)
        # A member's entry time is looked up by the primary key, one probe per member. A join here let
        # the planner, misled by statistics taken while the table was empty, scan the membership table
        # once per member, rows this very statement inserts included: minutes for 400k members. The
        # probe itself can be planned as such a scan when the table is empty on disk (an activation on
        # a freshly loaded database: 10+ minutes for 560k members at size M), so an audience with no
        # rows of version N (an activation) inserts without it: every member enters now.
        cursor.execute(
            f"SELECT EXISTS(SELECT 1 FROM {M} WHERE audience_id = %s AND version = %s)", [audience_id, old]
        )
        if cursor.fetchone()[0]:
            entered_at = (
                f"COALESCE((SELECT o.entered_at FROM {M} o WHERE o.audience_id = %s "
                "AND o.version = %s AND o.person_id = m.id), %s)"
            )
            lookup = [audience_id, old, at]
        else:
            entered_at, lookup = "%s", [at]
        cursor.execute(
            f"INSERT INTO {M} (audience_id, version, person_id, entered_at) "
            f"SELECT %s, %s, m.id, {entered_at} FROM ({members_sql}) m",
            [audience_id, new, *lookup, *params],
        )
        member_count = cursor.rowcount
        if progress is not None:
            progress.advance(80)
        # A set difference (hashed, linear in both versions), not NOT EXISTS: with row estimates of 1
        # the planner made that an anti join probing the whole other version once per member.
        diff = (
            f"INSERT INTO {H} (audience_id, person_id, kind, at, version) "
            f"SELECT %s, d.person_id, %s, %s, %s FROM ("
            f"SELECT person_id FROM {M} WHERE audience_id = %s AND version = %s "
            f"EXCEPT SELECT person_id FROM {M} WHERE audience_id = %s AND version = %s) d"
        )
        cursor.execute(diff, [audience_id, "entered", at, new, audience_id, new, audience_id, old])
        entered = cursor.rowcount
        cursor.execute(diff, [audience_id, "exited", at, new, audience_id, old, audience_id, new])
        exited = cursor.rowcount
        cursor.execute(f"DELETE FROM {M} WHERE audience_id = %s AND version <= %s", [audience_id, old])
    seconds = time.monotonic() - started
    counts = {"version": new, "member_count": member_count}
    switched = {
        "last_refreshed_at": now,
        "last_refresh_seconds": seconds,
        "sliding": compiled.has_sliding_window(),
    }
    logged = {"entered": entered, "exited": exited}
    _finish(audience_id, now=now, seconds=seconds, audience=counts | switched, logged=counts | logged)
    if entered or exited:
        span = MembershipHistory.objects.filter(audience_id=audience_id, version=new).aggregate(
            first=Min("id"), last=Max("id")
        )
        announce(audience_id, span["first"], span["last"])
    if progress is not None:
        progress.advance(20)
    return RefreshResult(audience_id, True, new, member_count, entered, exited, seconds)


# ---------------------------------------------------------------- real time


_compiled_cache: dict[tuple, definitions.Compiled] = {}


def _compiled(audience: Audience) -> definitions.Compiled:
    """Active definitions never change in place: compile each once per process."""
    key = (
        audience.pk,
        audience.type,
        audience.include_anonymous,
        json.dumps(audience.definition, sort_keys=True),
    )
    if key not in _compiled_cache:
        if len(_compiled_cache) > 1000:
            _compiled_cache.clear()
        _compiled_cache[key] = definitions.compile_audience(audience)
    return _compiled_cache[key]


def levels(audiences: Sequence[Audience]) -> list[list[Audience]]:
    """Audiences in dependency order: each level only names audiences of earlier levels."""
    by_key = {a.key: a for a in audiences}
    level: dict[str, int] = {}

    def depth(a: Audience, seen: frozenset = frozenset()) -> int:
        if a.key in level:
            return level[a.key]
        names = [k for k in _compiled(a).audience_keys() if k in by_key and k not in seen]
        level[a.key] = 1 + max((depth(by_key[k], seen | {a.key}) for k in names), default=-1)
        return level[a.key]

    for a in audiences:
        depth(a)
    out: list[list[Audience]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
    for a in audiences:
        out[level[a.key]].append(a)
    return out


ATTRIBUTE_REASONS = {"attributes", "bulk update"}


def moved_by_events(audiences: list[Audience], names: Iterable[str]) -> list[Audience]:
    """Of ``audiences``, those whose membership new events named ``names`` can move: a condition or
    funnel step on one of the events, a condition on the counters events move or on a computed
    attribute (refreshed just before, by the same events), or membership of such an audience."""
    names = set(names)
    return _with_members_of(
        audiences,
        lambda compiled: bool(
            compiled.event_names() & names
            or compiled.attribute_keys() & EVENT_MOVED_ATTRIBUTES
            or any(_is_computed(k) for k in compiled.attribute_keys())
        ),
    )


def moved_by_contact(audiences: list[Audience]) -> list[Audience]:
    """Of ``audiences``, those whose membership recording a contact can move: a condition on last
    contacted (overall, on a channel, or the ``last_contacted_at`` attribute), on a computed attribute
    (refreshed just before, by the same contact), or membership of such an audience. Funnels and
    conditions on events or other attributes cannot move."""
    return _with_members_of(
        audiences,
        lambda compiled: (
            compiled.condition is not None
            and (
                conditions.reads_last_contacted(compiled.condition)
                or any(_is_computed(k) for k in compiled.attribute_keys())
            )
        ),
    )


def _with_members_of(audiences: list[Audience], moves) -> list[Audience]:
    """Of ``audiences``, those whose compiled definition ``moves`` says yes to, with the audiences
    naming them at any depth."""
    by_key = {a.key: a for a in audiences}
    moved = {a.key for a in audiences if moves(_compiled(a))}
    while True:
        more = {k for k, a in by_key.items() if k not in moved and _compiled(a).audience_keys() & moved}
        if not more:
            break
        moved |= more
    return [a for a in audiences if a.key in moved]


def _is_computed(key: str) -> bool:
    """Whether a condition's attribute may be a computed one (standard and custom ones are not)."""
    if key.startswith(definitions.AUDIENCE_PREFIX) or key in STANDARD_ATTRIBUTES or key in SYSTEM_ATTRIBUTES:
        return False
    if key.split(".", 1)[0] in schema.definitions().attributes:  # custom (no query while cached)
        return False
    ref = conditions.resolve(key)
    return ref is None or ref.kind == "computed"  # unknown: assume it may have moved


def _checks(audience: Audience) -> bool:
    """Whether the stored definition still checks (an attribute it names may have been deleted);
    one that does not is left out of real time and shows why on its page."""
    try:
        _compiled(audience)
    except (definitions.DefinitionError, LookupError) as exc:
        message = f"Real-time refresh skipped: the definition no longer checks: {exc}"[:4000]
        if audience.last_error != message:
            Audience.objects.filter(pk=audience.pk).update(
                error_count=F("error_count") + 1, last_error=message, last_error_at=timezone.now()
            )
        log.warning("audience %s: %s", audience.key, message)
        return False
    return True


def refresh_people(
    person_ids: Iterable[int],
    *,
    reason: str = "",
    now: datetime | None = None,
    events: Mapping[int, Iterable[str]] | None = None,
) -> int:
    """Re-evaluate the active audiences for a few people; returns the number of entries and exits.

    ``events``: all that changed about these people is new events, named per person; each is
    evaluated only against the audiences those events can move (``moved_by_events``), people with
    the same such audiences together, none at all for events no audience reads."""
    ids = sorted(set(person_ids))
    if not ids:
        return 0
    now = now or timezone.now()
    tz = organization_tz()
    audiences = [a for a in Audience.objects.filter(state=Audience.State.ACTIVE).order_by("pk") if _checks(a)]
    if reason in ATTRIBUTE_REASONS:
        # Only attributes changed: funnels and pure event conditions cannot move.
        audiences = [a for a in audiences if _compiled(a).attribute_keys()]
    elif reason == CONTACT_REASON and events is None:
        audiences = moved_by_contact(audiences)
    if events is None:
        return _refresh_people(audiences, ids, now=now, tz=tz)
    groups = grouped_by_what_events_move(ids, events, lambda names: moved_by_events(audiences, names))
    return sum(
        _refresh_people([a for a in audiences if a.pk in audience_ids], people, now=now, tz=tz)
        for audience_ids, people in groups.items()
    )


def _refresh_people(audiences: list[Audience], ids: list[int], *, now: datetime, tz) -> int:
    if not audiences or not _moves(audiences, ids, now=now, tz=tz):
        return 0
    changes = 0
    with transaction.atomic():
        ids_sql = [a.pk for a in audiences]
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                # Waits for a full refresh's switch (FOR UPDATE). KEY SHARE, not SHARE: two real-time
                # refreshes that both hold the lock may each update member_count (NO KEY UPDATE),
                # which SHARE would turn into a deadlock.
                table = Audience._meta.db_table
                cursor.execute(
                    f"SELECT id, version FROM {table} WHERE id = ANY(%s) ORDER BY id FOR KEY SHARE", [ids_sql]
                )
                versions = dict(cursor.fetchall())
        else:
            versions = dict(Audience.objects.filter(pk__in=ids_sql).values_list("pk", "version"))
        for level in levels(audiences):
            new, current = _level_sets(level, ids, now=now, tz=tz)
            changes += _write_level(new, current, versions, now=now)
    return changes


def _moves(audiences: list[Audience], ids: list[int], *, now, tz) -> bool:
    """Whether a membership of these people may move: a first pass without locks or writes.

    Most changes to a person move no membership. Then nothing is locked or written: the row locks
    of the pass that writes (``FOR KEY SHARE``) are themselves writes, whose commit waits for a WAL
    flush. While a full refresh of one of the audiences is running, the answer is yes: only the
    locked pass waits for its switch. A full refresh that starts after this read sees these people's
    changes, which were committed before it (the real-time refresh runs after commit).
    """
    if any(a.refresh_started_at is not None for a in audiences):
        return True
    for level in levels(audiences):
        new, current = _level_sets(level, ids, now=now, tz=tz)
        if new != current:
            return True
    return False


# The statement of a level depends on the people (their ids) and on ``now`` (window bounds) only; its
# text is the same for every call with as many people. It is learned once per level, batch size and
# day (date operands are fixed within a day) by compiling it twice, with sentinel ids and ``now``
# shifted within the day, and classifying each parameter: constant, person id, or now + offset.
SENTINEL_A, SENTINEL_B = 9_000_000_000_000, 9_100_000_000_000
SHIFT = timedelta(minutes=7)
CACHE_SIZE = 256
MAX_LEARNED_BATCH = 64
_programs: OrderedDict[tuple, tuple[str, list] | None] = OrderedDict()


def _level_statement(level: list[Audience], ids: list[int], *, now, tz) -> tuple[str, list]:
    parts, params = [], []
    for audience in level:
        sql, p = definitions.members_sql(_compiled(audience), now=now, tz=tz, person_ids=ids)
        parts.append(f"SELECT %s AS audience_id, m.id AS person_id FROM ({sql}) m")
        params += [audience.pk, *p]
    return " UNION ALL ".join(parts), params


def _learn(level: list[Audience], n: int, *, now, tz) -> tuple[str, list] | None:
    day = now.astimezone(tz).date()
    shift = SHIFT if (now + SHIFT).astimezone(tz).date() == day else -SHIFT
    sql_a, params_a = _level_statement(level, [SENTINEL_A + i for i in range(n)], now=now, tz=tz)
    sql_b, params_b = _level_statement(level, [SENTINEL_B + i for i in range(n)], now=now + shift, tz=tz)
    if sql_a != sql_b or len(params_a) != len(params_b):
        return None
    slots: list = []
    for a, b in zip(params_a, params_b, strict=True):
        if type(a) is int and SENTINEL_A <= a < SENTINEL_A + n and b == a - SENTINEL_A + SENTINEL_B:
            slots.append(("p", a - SENTINEL_A))
        elif type(a) is type(b) and a == b:
            slots.append(("c", a))
        elif isinstance(a, datetime) and isinstance(b, datetime) and b - a == shift:
            slots.append(("t", a - now))
        else:
            return None
    return sql_a, slots


def _statement(level: list[Audience], ids: list[int], *, now, tz) -> tuple[str, list]:
    n = len(ids)
    if n > MAX_LEARNED_BATCH:
        return _level_statement(level, ids, now=now, tz=tz)
    key = (
        connection.vendor,
        connection.alias,
        tuple((a.pk, json.dumps(a.definition, sort_keys=True)) for a in level),
        n,
        now.astimezone(tz).date(),
        tz.key,
    )
    if key not in _programs:
        _programs[key] = _learn(level, n, now=now, tz=tz)
        while len(_programs) > CACHE_SIZE:
            _programs.popitem(last=False)
    program = _programs[key]
    if program is None:
        return _level_statement(level, ids, now=now, tz=tz)
    sql, slots = program
    params = [ids[v] if k == "p" else now + v if k == "t" else v for k, v in slots]
    return sql, params


def clear_cache() -> None:
    _compiled_cache.clear()
    _programs.clear()


def _level_sets(level: list[Audience], ids: list[int], *, now, tz) -> tuple[set, set]:
    """The (audience, person) pairs of a level's audiences among ``ids``: by the definitions, and
    as the current versions hold them."""
    sql, params = _statement(level, ids, now=now, tz=tz)
    rows = select_prepared(sql, params) if len(ids) <= MAX_LEARNED_BATCH else select_rows(sql, params)
    new = {(a, p) for a, p in rows}
    audience_ids = [a.pk for a in level]
    if connection.vendor == "postgresql":
        current = set(
            select_prepared(
                f"SELECT m.audience_id, m.person_id FROM {M} m JOIN {A} a ON a.id = m.audience_id "
                "AND a.version = m.version WHERE m.audience_id = ANY(%s) AND m.person_id = ANY(%s)",
                [audience_ids, ids],
            )
        )
    else:
        current = set(
            AudienceMembership.objects.filter(
                audience_id__in=audience_ids, person_id__in=ids, version=F("audience__version")
            ).values_list("audience_id", "person_id")
        )
    return new, current


def _write_level(new: set, current: set, versions: dict[int, int], *, now) -> int:
    entered, exited = new - current, current - new
    if not entered and not exited:
        return 0
    AudienceMembership.objects.bulk_create(
        [
            AudienceMembership(audience_id=a, version=versions[a], person_id=p, entered_at=now)
            for a, p in entered
        ]
    )
    for audience_id in {a for a, _ in exited}:
        AudienceMembership.objects.filter(
            audience_id=audience_id,
            version=versions[audience_id],
            person_id__in=[p for a, p in exited if a == audience_id],
        ).delete()
    rows = MembershipHistory.objects.bulk_create(
        [
            MembershipHistory(audience_id=a, person_id=p, kind=kind, at=now, version=versions[a])
            for kind, pairs in (("entered", entered), ("exited", exited))
            for a, p in sorted(pairs)
        ]
    )
    by_audience: dict[int, list[int]] = {}
    for row in rows:
        by_audience.setdefault(row.audience_id, []).append(row.pk)
    for audience_id, history_ids in sorted(by_audience.items()):  # row locks in id order
        delta = sum(1 for a, _ in entered if a == audience_id) - sum(1 for a, _ in exited if a == audience_id)
        Audience.objects.filter(pk=audience_id).update(member_count=F("member_count") + delta)
        if all(h is not None for h in history_ids):
            announce(audience_id, min(history_ids), max(history_ids))
        else:  # a backend that does not return ids from bulk inserts
            span = MembershipHistory.objects.filter(audience_id=audience_id, at=now).values_list(
                "id", flat=True
            )
            announce(audience_id, min(span), max(span))
    return len(entered) + len(exited)
