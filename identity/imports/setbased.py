"""The set-based import path (PostgreSQL): rows checked in Python while they stream into a staging
table by ``COPY``, then resolved and written in a constant number of statements per chunk.

Per chunk of ``CHUNK_ROWS`` rows, in one transaction (see docs/import-export.md, "Speed"):

1. Python, per row: the cells read, the match key normalized and checked against blocked values
   (``identity.policy``, as tracking does), every attribute cell cast (``people.attributes``; one cache
   per column, so repeated values are cast once), the row's time; a bad row is rejected alone with the
   same reason as the pipeline path. A row with another identifier besides the match key could merge
   profiles or reach an identifier limit: it goes to the pipeline (``ingest_batch``) after the chunk.
2. ``COPY`` of the checked rows into a temporary table.
3. SQL, per match key first (``imp_keys``: the key's person found by one join with the identities):
   the people are locked (primary-key order); keys naming a merged, company or deleted profile go to
   the pipeline; the write mode; suppressed identifiers and registered message filters drop their
   rows; message ids are deduped per row (``csv-<upload>-<job>-<row>``, as the pipeline path, so a
   retried job takes no row twice); new profiles get ids from the sequence, and every row its person
   in one ``CREATE TABLE AS`` (``imp_rows``). Then one identify event per row; per person its counters
   (one sort); the attribute decisions of ``people.services`` (source priority, then event time: never
   overwrite a newer value; rows of one person applied in file order): for a person of one row in the
   chunk (most of a file) each column is decided on its row (``imp_one``, no unpivot, no window), for
   a person of several rows on the unpivoted (row, key) pairs with window functions over one sort
   (``imp_steps``); the audit rows from both; one ``INSERT`` of the new people and one ``UPDATE`` of
   the known ones (values, ``attribute_meta``, counters); the new identities and the known ones' last
   seen.
4. After the commit: the source's daily counters; ``notify_people_changed`` (registered in the chunk's
   transaction) refreshes computed attributes and audiences.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone

from identity.extensions import blocked_identifiers
from identity.imports.mapping import TRAIT_IDENTIFIERS, UID, Mapping
from identity.imports.reader import row_problem
from identity.imports.rows import MAX_INTEGER, RowError, parse_row_time, time_text
from identity.models import Identity
from identity.pipeline import record_stats
from identity.policy import InvalidIdentifier, Policy
from people.attributes import STANDARD_ATTRIBUTES, AttributeSpec, attribute_spec, cast_attribute
from people.models import AttributeDefinition, AttributeType, Person, Source
from people.services import MANUAL_RANK, notify_people_changed

CHUNK_ROWS = 25_000
WIDE_MAX_COLUMNS = 250  # attribute columns the per-row path takes (more: the windowed path)
CACHE_LIMIT = 50_000  # cast values remembered per column
MAX_ATTEMPTS = 5
WORK_MEM = "256MB"
REMAINDER = object()
TEMP_TABLES = (
    "imp_in",
    "imp_keys",
    "imp_rows",
    "imp_new",
    "imp_steps",
    "imp_final",
    "imp_people",
    "imp_one",
    "imp_attrs",
)  # a row for the pipeline path


@dataclass
class Column:
    key: str  # attribute key
    header: str
    index: int
    spec: AttributeSpec
    max_length: int | None


def eligible(mapping: Mapping, source: Source, policy: Policy, definitions: dict) -> bool:
    """Whether the set-based path can run this mapping (otherwise every row takes the pipeline)."""
    if connection.vendor != "postgresql" or mapping.kind != "people" or mapping.match_key == UID:
        return False
    if source.protection != Source.Protection.CREATE_UPDATE or policy.get(mapping.match_key) is None:
        return False
    for key in mapping.attribute_columns().values():
        if key not in STANDARD_ATTRIBUTES and key not in definitions:
            return False
        if key not in STANDARD_ATTRIBUTES and definitions[key].type == AttributeType.LIST:
            return False
    return True


class SetBasedImport:
    """One import run on the set-based path. ``reject(number, row, reason)`` writes a rejected row;
    ``pipeline(batch)`` runs ``(number, row)`` pairs through the pipeline path (and counts them)."""

    def __init__(
        self,
        *,
        mapping: Mapping,
        headers: list[str],
        run_id: str,
        now: str,
        source: Source,
        policy: Policy,
        definitions: dict[str, AttributeDefinition],
        reject: Callable[[int, list[str], str], None],
        pipeline: Callable[[list[tuple[int, list[str]]]], None],
        drop_reason: str,
    ):
        self.mapping = mapping
        self.width = len(headers)
        self.prefix = f"csv-{run_id}-"
        self.now = now
        self.source = source
        self.type_policy = policy.get(mapping.match_key)
        self.reject = reject
        self.pipeline = pipeline
        self.drop_reason = drop_reason
        self.key_column = mapping.match_column()
        self.key_index = headers.index(self.key_column)
        self.label = mapping.match_key
        self.other_ids = [headers.index(c) for c in mapping.identifier_columns() if c != self.key_column]
        columns: dict[str, Column] = {}
        for header, key in mapping.attribute_columns().items():
            columns[key] = self._column(key, header, headers.index(header), definitions)
        if mapping.match_key in TRAIT_IDENTIFIERS:  # the identifier also writes its attribute
            columns[mapping.match_key] = self._column(
                mapping.match_key, self.key_column, self.key_index, definitions
            )
        self.columns = list(columns.values())
        self.caches: list[dict[str, Any]] = [{} for _ in self.columns]
        self.times: dict[str, Any] = {}
        self.time_index = headers.index(mapping.time_column) if mapping.time_mode == "column" else -1

    @staticmethod
    def _column(key: str, header: str, index: int, definitions: dict) -> Column:
        length = None
        if key in STANDARD_ATTRIBUTES:
            length = getattr(Person._meta.get_field(key), "max_length", None)
        return Column(key, header, index, attribute_spec(key, definitions), length)

    # --- Python, per row ---------------------------------------------------------------------

    def _time(self, row: list[str]) -> str:
        if self.mapping.time_mode == "column":
            raw = row[self.time_index]
        elif self.mapping.time_mode == "fixed":
            raw = self.mapping.fixed_time
        else:
            raw = None
        at = self.times.get(raw)
        if at is None:
            try:
                text = (
                    self.now if raw is None else time_text(raw, self.mapping.time_column or "historical date")
                )
                at = parse_row_time(text).isoformat()
            except RowError as exc:
                at = exc
            if len(self.times) < CACHE_LIMIT:
                self.times[raw] = at
        if isinstance(at, RowError):
            raise at
        return at

    def _cell(self, position: int, raw: str) -> str | None:
        column = self.columns[position]
        cache = self.caches[position]
        found = cache.get(raw)
        if found is None:
            found = self._cast(column, raw)
            if len(cache) < CACHE_LIMIT:
                cache[raw] = found
        if isinstance(found, RowError):
            raise found
        return found

    @staticmethod
    def _cast(column: Column, raw: str) -> Any:
        text = raw.strip()
        try:
            value = cast_attribute(column.spec, text)
        except ValidationError as exc:
            return RowError(f"Column '{column.header}': {' '.join(exc.messages)}")
        except (OverflowError, ValueError, ArithmeticError) as exc:
            return RowError(f"Column '{column.header}': '{text[:60]}' cannot be stored ({exc}).")
        if value is None:
            return RowError(f"Column '{column.header}': '{text[:60]}' cannot be stored.")
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int):
            if abs(value) > MAX_INTEGER:
                return RowError(f"Column '{column.header}': {text[:60]} is too large for a whole number.")
            return str(value)
        if isinstance(value, float):
            return repr(value)
        if column.max_length is not None and len(value) > column.max_length:
            return REMAINDER  # longer than the column holds: the pipeline path decides
        return value

    def check(self, row: list[str]) -> tuple | str | object:
        """The staged tuple of a row, the reason it is rejected, or ``REMAINDER``."""
        problem = row_problem(row, self.width)
        if problem:
            return problem
        if any(row[i].strip() for i in self.other_ids):
            return REMAINDER
        raw = row[self.key_index].strip()
        if not raw:
            return f"The match key column '{self.key_column}' is empty."
        try:
            ident = self.type_policy.normalize(raw)
        except InvalidIdentifier as exc:
            return f"Column '{self.key_column}': {exc}"
        if self.type_policy.is_blocked(ident):
            return f"Column '{self.key_column}': '{raw}' is a blocked {self.mapping.match_key} value."
        if len(ident) > Identity._meta.get_field("value").max_length:
            return REMAINDER
        try:
            at = self._time(row)
            values = []
            for position, column in enumerate(self.columns):
                cell = row[column.index]
                value = self._cell(position, cell) if cell.strip() else None
                if value is REMAINDER:
                    return REMAINDER
                values.append(value)
        except RowError as exc:
            return str(exc)
        return (at, ident, *values)

    # --- the run -----------------------------------------------------------------------------

    def run(self, rows: Iterable[tuple[int, list[str]]], counts, progress) -> None:
        staged: list[tuple] = []
        kept: dict[int, list[str]] = {}
        remainder: list[tuple[int, list[str]]] = []
        read = 0
        for number, row in rows:
            read += 1
            checked = self.check(row)
            if checked is REMAINDER:
                remainder.append((number, row))
            elif isinstance(checked, str):
                counts["rows"] += 1
                counts["rejected"] += 1
                self.reject(number, row, checked)
            else:
                counts["rows"] += 1
                staged.append((number, *checked))
                kept[number] = row
            if read >= CHUNK_ROWS:
                self._flush(staged, kept, remainder, counts)
                progress.advance(read)
                staged, kept, remainder, read = [], {}, [], 0
        self._flush(staged, kept, remainder, counts)
        progress.advance(read)

    def _flush(self, staged, kept, remainder, counts) -> None:
        if staged:
            for attempt in range(1, MAX_ATTEMPTS + 1):
                try:
                    with transaction.atomic():
                        outcome = self._write(staged)
                    break
                except (IntegrityError, OperationalError):
                    # A unique race with tracking (the same new identifier): resolve again.
                    if attempt == MAX_ATTEMPTS:
                        raise
                    time.sleep(0.05 * attempt)
            received_at, created, updated, duplicates, dropped, suppressed, refused, more = outcome
            counts["create"] += created
            counts["match"] += updated
            counts["accepted"] += created + updated
            counts["duplicates"] += len(duplicates)
            counts["dropped"] += len(dropped) + len(duplicates)
            counts["rejected"] += len(refused)
            for number in sorted(dropped + duplicates):
                self.reject(number, kept[number], self.drop_reason)
            for number, reason in refused:
                self.reject(number, kept[number], reason)
            for number in more:
                counts["rows"] -= 1  # counted again by the pipeline path
                remainder.append((number, kept[number]))
            record_stats(
                source=self.source,
                counts={
                    "accepted": created + updated,
                    "duplicates": len(duplicates),
                    "suppressed": suppressed,
                },
                received_at=received_at,
            )
        remainder.sort(key=lambda item: item[0])
        for start in range(0, len(remainder), 1000):
            self.pipeline(remainder[start : start + 1000])

    def _write(self, staged: list[tuple]) -> tuple:
        received_at = timezone.now()
        statements = Statements(self, received_at)
        with connection.cursor() as cursor:
            # The chunk's sorts and aggregates carry each person's JSON: keep them in memory.
            cursor.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
            statements.stage(cursor, staged)
            locked = statements.lock_and_find(cursor)
            more = statements.moved(cursor, locked)
            refused = statements.write_mode(cursor)
            dropped, suppressed = statements.filtered(cursor)
            duplicates = statements.dedupe(cursor)
            created, updated = statements.create(cursor)
            touched = statements.write(cursor)
        notify_people_changed(touched, reason="ingest")
        return received_at, created, updated, duplicates, dropped, suppressed, refused, more


class Statements:
    """The SQL of one chunk (temporary tables dropped at commit; values always bound)."""

    def __init__(self, run: SetBasedImport, received_at: datetime):
        self.run = run
        self.at = received_at
        self.type_id = run.type_policy.id
        self.params = {
            "type": self.type_id,
            "now": received_at,
            "prefix": run.prefix,
            "source": run.source.pk,
            "channel": run.source.channel_id,
            "rank": int(run.source.priority),
            "manual": int(MANUAL_RANK),
            "anonymous": run.type_policy.anonymous,
            # The per-row path keeps five columns per attribute in one table (at most 1,600 columns).
            "wide": len(run.columns) <= WIDE_MAX_COLUMNS,
        }

    def stage(self, cursor, staged: list[tuple]) -> None:
        """The checked rows into ``imp_in`` by ``COPY``; their match keys, with the person each names
        now, into ``imp_keys`` (one row per key: the checks below work per key, not per row)."""
        names = ", ".join(f"a{i} text" for i in range(len(self.run.columns)))
        # Dropped at commit; also here, for a chunk written inside an outer transaction (tests).
        cursor.execute(f"DROP TABLE IF EXISTS {', '.join(TEMP_TABLES)}")
        cursor.execute(
            "CREATE TEMP TABLE imp_in (num integer, at_text text, at timestamptz, ident text"
            + (f", {names}" if names else "")
            + ") ON COMMIT DROP"
        )
        columns = ", ".join(
            ["num", "at_text", "at", "ident", *(f"a{i}" for i in range(len(self.run.columns)))]
        )
        with cursor.copy(f"COPY imp_in ({columns}) FROM STDIN") as copy:
            for number, at, *rest in staged:
                copy.write_row((number, at, at, *rest))
        cursor.execute(
            "CREATE TEMP TABLE imp_keys ON COMMIT DROP AS SELECT k.ident, i.person_id AS pid"
            " FROM (SELECT DISTINCT ident FROM imp_in) k LEFT JOIN identity_identity i"
            " ON i.type_id = %(type)s AND i.value = k.ident",
            self.params,
        )

    def lock_and_find(self, cursor) -> list[int]:
        cursor.execute(
            "SELECT p.id FROM people_person p WHERE p.id IN (SELECT pid FROM imp_keys)"
            " ORDER BY p.id FOR UPDATE",
            self.params,
        )
        return [row[0] for row in cursor.fetchall()]

    def _drop_keys(self, cursor, where: str, params: dict | None = None) -> list[tuple[int, str]]:
        """Remove the keys ``where`` selects (on ``imp_keys k``) and their rows; their (row, key)."""
        cursor.execute(
            f"WITH k AS (DELETE FROM imp_keys k WHERE {where} RETURNING k.ident)"
            " DELETE FROM imp_in r USING k WHERE r.ident = k.ident RETURNING r.num, r.ident",
            params or self.params,
        )
        return cursor.fetchall()

    def moved(self, cursor, locked: list[int]) -> list[int]:
        """Rows whose identifier names, now that the people are locked, another profile than it did
        (a merge or its undo committed meanwhile), a profile not locked (deleted meanwhile), a merged
        or a company profile: they take the pipeline path."""
        cursor.execute(
            "SELECT k.ident, k.pid, (i.person_id IS DISTINCT FROM k.pid OR (k.pid IS NOT NULL AND"
            " (p.id IS NULL OR p.merged_into_id IS NOT NULL OR p.kind <> 'person')))"
            " FROM imp_keys k LEFT JOIN identity_identity i ON i.type_id = %(type)s AND i.value = k.ident"
            " LEFT JOIN people_person p ON p.id = k.pid",
            self.params,
        )
        kept = set(locked)
        moved = sorted(
            ident for ident, pid, gone in cursor.fetchall() if gone or (pid is not None and pid not in kept)
        )
        if not moved:
            return []
        return [n for n, _ in self._drop_keys(cursor, "k.ident = ANY(%(moved)s)", {"moved": moved})]

    def write_mode(self, cursor) -> list[tuple[int, str]]:
        mode, label = self.run.mapping.write_mode, self.run.label
        if mode == "update_only":
            rows = self._drop_keys(cursor, "k.pid IS NULL")
            return [(n, f"No profile has {label} {v} (update only).") for n, v in rows]
        if mode == "create_only":
            rows = self._drop_keys(cursor, "k.pid IS NOT NULL")
            return [(n, f"A profile with {label} {v} exists (create only).") for n, v in rows]
        return []

    def filtered(self, cursor) -> tuple[list[int], int]:
        """Rows with a suppressed identifier, or one a registered message filter blocks."""
        dropped = [
            n
            for n, _ in self._drop_keys(
                cursor,
                "EXISTS (SELECT 1 FROM identity_suppressedidentifier s"
                " WHERE s.type_id = %(type)s AND s.value = k.ident)",
            )
        ]
        cursor.execute("SELECT ident FROM imp_keys")
        key = self.run.mapping.match_key
        blocked = blocked_identifiers({(key, row[0]) for row in cursor.fetchall()})
        if blocked:
            values = sorted(value for _, value in blocked)
            dropped += [
                n for n, _ in self._drop_keys(cursor, "k.ident = ANY(%(values)s)", {"values": values})
            ]
        return dropped, len(dropped)

    def dedupe(self, cursor) -> list[int]:
        cursor.execute(
            "WITH fresh AS (INSERT INTO identity_seenmessage (message_id, received_at)"
            " SELECT %(prefix)s || num, %(now)s FROM imp_in ORDER BY num"
            " ON CONFLICT (message_id) DO NOTHING RETURNING message_id)"
            " DELETE FROM imp_in r WHERE NOT EXISTS"
            " (SELECT 1 FROM fresh f WHERE f.message_id = %(prefix)s || r.num) RETURNING r.num",
            self.params,
        )
        return [row[0] for row in cursor.fetchall()]

    def create(self, cursor) -> tuple[int, int]:
        """Ids for the match keys nobody has (their profiles are inserted with their values by
        ``write``); ``imp_rows``: each remaining row with its person; returns the (created, updated)
        rows."""
        cursor.execute(
            "CREATE TEMP TABLE imp_new ON COMMIT DROP AS SELECT r.ident, min(r.num) AS first_num,"
            " nextval(pg_get_serial_sequence('people_person', 'id')) AS pid"
            " FROM imp_in r JOIN imp_keys k ON k.ident = r.ident WHERE k.pid IS NULL GROUP BY r.ident"
        )
        cursor.execute(
            "CREATE TEMP TABLE imp_rows ON COMMIT DROP AS SELECT r.*, coalesce(k.pid, n.pid) AS pid,"
            " (k.pid IS NOT NULL) AS known, coalesce(r.num = n.first_num, false) AS created"
            " FROM imp_in r JOIN imp_keys k ON k.ident = r.ident LEFT JOIN imp_new n ON n.ident = r.ident"
        )
        cursor.execute("ANALYZE imp_rows (num, pid)")
        cursor.execute(
            "SELECT count(*) FILTER (WHERE created), count(*) FILTER (WHERE NOT created) FROM imp_rows"
        )
        created, updated = cursor.fetchone()
        return created, updated

    def write(self, cursor) -> list[int]:
        """Events, attribute decisions and audit rows; new profiles inserted with their values and
        counters, known ones updated (one statement each); new identities, known ones' last seen."""
        p = self.params
        cursor.execute(
            "INSERT INTO people_event (person_id, type, name, channel_id, source_id, timestamp,"
            " original_timestamp, sent_at, received_at, properties, context, message_id)"
            " SELECT pid, 'identify', 'Identify', %(channel)s, %(source)s, at, at, NULL, %(now)s,"
            " '{}'::jsonb, '{}'::jsonb, %(prefix)s || num FROM imp_rows ORDER BY pid, num",
            p,
        )
        columns = self.run.columns
        standard = [c for c in columns if c.spec.standard]
        custom = [c for c in columns if not c.spec.standard]
        # Per person of the chunk: its counters (one sort of the rows), how many rows it has, and
        # (for a person of one row) that row's number.
        cursor.execute(
            "CREATE TEMP TABLE imp_people ON COMMIT DROP AS SELECT c.*, (n.pid IS NOT NULL) AS new"
            " FROM (SELECT s.pid, min(s.at) AS first_at, max(s.at) AS last_at, count(*) AS n,"
            " min(s.num) AS num,"
            " count(*) FILTER (WHERE s.prev IS NULL OR s.at - s.prev > interval '30 minutes') AS sessions"
            " FROM (SELECT r.pid, r.num, r.at, greatest(q.last_activity_at,"
            " lag(r.at) OVER (PARTITION BY r.pid ORDER BY r.at)) AS prev FROM imp_rows r"
            " LEFT JOIN people_person q ON q.id = r.pid) s GROUP BY s.pid) c"
            " LEFT JOIN imp_new n ON n.pid = c.pid",
            p,
        )
        if columns:
            self._single_rows(cursor, standard, custom)
            self._repeated_rows(cursor, standard, custom)
        self._insert_people(cursor, standard, custom)
        self._update_people(cursor, standard, custom)
        cursor.execute(
            "INSERT INTO identity_identity (type_id, value, person_id, channel_id, source_id, anonymous,"
            " first_seen_at, last_seen_at, first_message_id) SELECT %(type)s, ident, pid, %(channel)s,"
            " %(source)s, %(anonymous)s, %(now)s, %(now)s, %(prefix)s || first_num"
            " FROM imp_new ORDER BY ident",
            p,
        )
        cursor.execute(
            "UPDATE identity_identity i SET last_seen_at = %(now)s WHERE i.type_id = %(type)s"
            " AND i.value IN (SELECT DISTINCT ident FROM imp_rows WHERE known)",
            p,
        )
        cursor.execute("SELECT pid FROM imp_people")
        return [row[0] for row in cursor.fetchall()]

    def _attrs_columns(self, standard: list[Column]) -> list[str]:
        """The columns of ``imp_attrs`` (one row per person whose values or times change)."""
        names = ["pid", "custom", "meta", "changed"]
        for c in standard:
            names += [f"v_{c.key}", f"h_{c.key}"]
        return names

    def _single_rows(self, cursor, standard: list[Column], custom: list[Column]) -> None:
        """The attribute rules for the people with one row in the chunk (most of a file): each
        column decided on its row, no unpivot and no window. ``imp_attrs`` gets their values,
        attribute times and sources; the audit rows are written from the same table."""
        columns = self.run.columns
        inner = ["r.pid", "r.at", "r.at_text"]
        for i, c in enumerate(columns):
            inner += [
                f"r.a{i}",
                f"p.attribute_meta -> '{c.key}' AS m{i}",
                f"coalesce((p.attribute_meta -> '{c.key}' ->> 'rank')::int, %(manual)s) AS r{i}",
                f"(p.attribute_meta -> '{c.key}' ->> 'at')::timestamptz AS t{i}",
                f"{_stored_json(c)} AS s{i}",
                f"{_new_json(c, f'r.a{i}')} AS j{i}",
            ]
        # The stored times (``m``) only decide: the table keeps the values and the decisions.
        decided = ["d.pid", "d.at", "d.at_text"]
        for i, _ in enumerate(columns):
            decided += [f"d.a{i}", f"d.s{i}", f"d.j{i}"]
            allowed = (
                f"(d.a{i} IS NOT NULL AND (d.m{i} IS NULL OR CASE WHEN d.r{i} > %(rank)s THEN true"
                f" WHEN d.r{i} < %(rank)s THEN false ELSE (d.t{i} IS NULL OR d.at >= d.t{i}) END))"
            )
            decided += [
                f"({allowed} AND d.j{i} IS DISTINCT FROM d.s{i}) AS c{i}",
                f"coalesce({allowed} AND (d.j{i} IS DISTINCT FROM d.s{i} OR d.t{i} < d.at), false) AS u{i}",
            ]
        cursor.execute(
            "CREATE TEMP TABLE imp_one ON COMMIT DROP AS SELECT "
            + ", ".join(decided)
            + f" FROM (SELECT {', '.join(inner)} FROM imp_people o JOIN imp_rows r ON r.num = o.num"
            # OFFSET 0: the subquery is computed once per row, not inlined into every use.
            " LEFT JOIN people_person p ON p.id = r.pid WHERE o.n = 1 AND %(wide)s OFFSET 0) d",
            self.params,
        )
        changes = ", ".join(f"('{c.key}', o.s{i}, o.j{i}, o.c{i})" for i, c in enumerate(columns))
        cursor.execute(
            "INSERT INTO people_attributechange (person_id, key, old_value, new_value, operation, source_id,"
            " actor_id, effective_at, recorded_at)"
            " SELECT o.pid, x.k, x.old, x.new, 'set', %(source)s, NULL, o.at, %(now)s"
            f" FROM imp_one o CROSS JOIN LATERAL (VALUES {changes}) AS x(k, old, new, changed)"
            " WHERE x.changed ORDER BY o.pid, x.k",
            self.params,
        )
        # The attribute times: one object per distinct (time, keys set) of the chunk, not one per
        # row (with the row time "now" or a fixed date, a chunk has a handful), nulls stripped.
        meta = "jsonb_build_object('at', d.at_text, 'source', %(source)s, 'rank', %(rank)s, 'op', 'set')"
        flags = [f"u{i}" for i in range(len(columns))]
        meta_json = _json_object([(c.key, f"CASE WHEN t.u{i} THEN t.m END") for i, c in enumerate(columns)])
        index = {c.key: i for i, c in enumerate(columns)}
        custom_json = _json_object(
            [(c.key, f"CASE WHEN o.c{index[c.key]} THEN o.j{index[c.key]} END") for c in custom]
        )
        values = [
            "o.pid",
            f"jsonb_strip_nulls({custom_json})" if custom else "'{}'::jsonb",
            "t.meta",
            " OR ".join(f"o.c{i}" for i in range(len(columns))),
        ]
        for c in standard:
            values += [f"o.a{index[c.key]}", f"o.c{index[c.key]}"]
        same = " AND ".join(f"t.{f} = o.{f}" for f in ["at_text", *flags])
        cursor.execute(
            f"CREATE TEMP TABLE imp_attrs ON COMMIT DROP AS WITH t AS MATERIALIZED (SELECT t.*,"
            f" jsonb_strip_nulls({meta_json}) AS meta FROM (SELECT d.*, {meta} AS m FROM"
            f" (SELECT DISTINCT at_text, {', '.join(flags)} FROM imp_one) d OFFSET 0) t) SELECT "
            + ", ".join(f"{v} AS {n}" for v, n in zip(values, self._attrs_columns(standard), strict=True))
            + f" FROM imp_one o JOIN t ON {same}",
            self.params,
        )

    def _repeated_rows(self, cursor, standard: list[Column], custom: list[Column]) -> None:
        """The people with several rows in the chunk: their rows unpivoted and ordered by windows
        (``_attributes``), aggregated into ``imp_attrs`` rows."""
        cursor.execute("SELECT EXISTS (SELECT 1 FROM imp_people WHERE n > 1 OR NOT %(wide)s)", self.params)
        if not cursor.fetchone()[0]:
            return
        self._attributes(cursor)
        aggregates = [
            "f.pid",
            "jsonb_object_agg(f.k, f.j) FILTER (WHERE f.changed AND f.k = ANY(%(custom)s))",
            "jsonb_object_agg(f.k, jsonb_build_object('at', f.at_text, 'source', %(source)s,"
            " 'rank', %(rank)s, 'op', 'set')) FILTER (WHERE f.meta_update)",
            "coalesce(bool_or(f.changed), false)",
        ]
        for c in standard:
            aggregates += [
                f"max(f.v) FILTER (WHERE f.changed AND f.k = '{c.key}')",
                f"coalesce(bool_or(f.changed) FILTER (WHERE f.k = '{c.key}'), false)",
            ]
        cursor.execute(
            f"INSERT INTO imp_attrs ({', '.join(self._attrs_columns(standard))})"
            f" SELECT {', '.join(aggregates)} FROM imp_final f GROUP BY f.pid",
            {**self.params, "custom": [c.key for c in custom]},
        )

    def _insert_people(self, cursor, standard: list[Column], custom: list[Column]) -> None:
        """New profiles, each with its values, attribute times and counters, in one INSERT."""
        overrides = {
            "first_seen_at": "u.first_at",
            "last_activity_at": "u.last_at",
            "event_count": "u.n",
            "session_count": "u.sessions",
        }
        if standard or custom:
            overrides["attribute_meta"] = "coalesce(a.meta, '{}'::jsonb)"
        if custom:
            overrides["custom"] = "coalesce(a.custom, '{}'::jsonb)"
        keys = {c.key: c for c in standard}
        names, values, params = [], [], []
        for name, value, param in _person_defaults():
            names.append(connection.ops.quote_name(name))
            if name in overrides:
                values.append(overrides[name])
                continue
            if name in keys:
                cast = "::date" if keys[name].spec.type == AttributeType.DATE else ""
                value = f"CASE WHEN a.h_{name} THEN a.v_{name}{cast} ELSE {value} END"
            values.append(value)
            params.append(param)
        attrs = " LEFT JOIN imp_attrs a ON a.pid = u.pid" if standard or custom else ""
        cursor.execute(
            f"INSERT INTO people_person (id, uid, created_at, modified_at, {', '.join(names)})"
            f" SELECT u.pid, gen_random_uuid(), %s, %s, {', '.join(values)} FROM imp_people u{attrs}"
            " WHERE u.new ORDER BY u.pid",
            [self.at, self.at, *params],
        )

    def _update_people(self, cursor, standard: list[Column], custom: list[Column]) -> None:
        sets = []
        for c in standard:
            column = connection.ops.quote_name(c.key)
            value = "a.v_" + c.key + ("::date" if c.spec.type == AttributeType.DATE else "")
            sets.append(f"{column} = CASE WHEN a.h_{c.key} THEN {value} ELSE p.{column} END")
        if custom:
            sets.append("custom = p.custom || coalesce(a.custom, '{}'::jsonb)")
        if standard or custom:
            sets.append("attribute_meta = p.attribute_meta || coalesce(a.meta, '{}'::jsonb)")
            sets.append("modified_at = CASE WHEN a.changed THEN %(now)s ELSE p.modified_at END")
        sets += [
            "first_seen_at = least(p.first_seen_at, u.first_at)",
            "last_activity_at = greatest(p.last_activity_at, u.last_at)",
            "event_count = p.event_count + u.n",
            "session_count = p.session_count + u.sessions",
        ]
        attrs = " LEFT JOIN imp_attrs a ON a.pid = u.pid" if standard or custom else ""
        cursor.execute(
            f"UPDATE people_person p SET {', '.join(sets)} FROM imp_people u{attrs}"
            " WHERE p.id = u.pid AND NOT u.new",
            self.params,
        )

    def _attributes(self, cursor) -> None:
        """``imp_final``: per person and key, the applied rows' outcome; the audit rows."""
        columns = self.run.columns
        unpivot = ", ".join(f"('{c.key}', r.a{i})" for i, c in enumerate(columns))
        stored = " ".join(f"WHEN '{c.key}' THEN {_stored_json(c)}" for c in columns)
        new = " ".join(f"WHEN '{c.key}' THEN {_new_json(c, 'v.v')}" for c in columns)
        # The rows each attribute rule lets through (``ap``), then per person and key, in the same
        # sort: each applied row's old value and whether it changes something, then over the whole
        # key whether any row changed, its latest time and the stored value's time (what
        # ``imp_final`` keeps of the key's last row). One statement, one table.
        cursor.execute(
            "CREATE TEMP TABLE imp_steps ON COMMIT DROP AS"
            " WITH s AS ("
            " SELECT r.pid, r.num, r.at, r.at_text, x.k, x.v FROM imp_rows r"
            " JOIN imp_people o ON o.pid = r.pid AND (o.n > 1 OR NOT %(wide)s)"
            f" CROSS JOIN LATERAL (VALUES {unpivot})"
            " AS x(k, v) WHERE x.v IS NOT NULL"
            # Materialized: the window's sort then carries each row's own key, not the profile's
            # whole JSON (it spilled to disk when inlined).
            "), m AS MATERIALIZED ("
            " SELECT s.*, p.attribute_meta -> s.k AS meta,"
            f" CASE s.k {stored} END AS stored FROM s LEFT JOIN people_person p ON p.id = s.pid"
            "), a AS ("
            " SELECT m.*, (m.meta IS NULL OR CASE"
            " WHEN coalesce((m.meta ->> 'rank')::int, %(manual)s) > %(rank)s THEN true"
            " WHEN coalesce((m.meta ->> 'rank')::int, %(manual)s) < %(rank)s THEN false"
            " ELSE (m.meta ->> 'at' IS NULL OR m.at >= (m.meta ->> 'at')::timestamptz) END) AS allowed FROM m"
            "), b AS ("
            " SELECT a.*, max(CASE WHEN a.allowed THEN a.at END) OVER (PARTITION BY a.pid, a.k ORDER BY a.num"
            " ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before FROM a"
            "), v AS ("
            " SELECT b.* FROM b WHERE b.allowed AND (b.before IS NULL OR b.at >= b.before)"
            "), ap AS ("
            f" SELECT v.pid, v.num, v.at, v.at_text, v.k, v.v, v.stored, v.meta, CASE v.k {new} END AS j"
            " FROM v"
            ") SELECT c.*,"
            " bool_or(c.changed) OVER k AS any_changed, max(c.at) OVER k AS max_at,"
            " min((c.meta ->> 'at')::timestamptz) OVER k AS stored_at FROM (SELECT t.*,"
            " t.j IS DISTINCT FROM t.old AS changed FROM (SELECT a.*, CASE WHEN row_number() OVER w = 1"
            " THEN a.stored ELSE lag(a.j) OVER w END AS old,"
            " row_number() OVER w = count(*) OVER (PARTITION BY a.pid, a.k) AS last"
            " FROM ap a WINDOW w AS (PARTITION BY a.pid, a.k ORDER BY a.num)) t) c"
            " WINDOW k AS (PARTITION BY c.pid, c.k)",
            self.params,
        )
        cursor.execute(
            "INSERT INTO people_attributechange (person_id, key, old_value, new_value, operation, source_id,"
            " actor_id, effective_at, recorded_at)"
            " SELECT pid, k, old, j, 'set', %(source)s, NULL, at, %(now)s"
            " FROM imp_steps WHERE changed ORDER BY pid, k, num",
            self.params,
        )
        cursor.execute(
            "CREATE TEMP TABLE imp_final ON COMMIT DROP AS SELECT pid, k, v, j, at_text,"
            " any_changed AS changed,"
            " (any_changed OR (stored_at IS NOT NULL AND stored_at < max_at)) AS meta_update"
            " FROM imp_steps WHERE last"
        )


def _json_object(pairs: list[tuple[str, str]]) -> str:
    """``jsonb_build_object`` of (key, SQL expression) pairs, in calls of at most 40 pairs (a function
    takes at most 100 arguments) joined by ``||``."""
    calls = []
    for start in range(0, len(pairs), 40):
        arguments = ", ".join(f"'{key}', {value}" for key, value in pairs[start : start + 40])
        calls.append(f"jsonb_build_object({arguments})")
    return " || ".join(calls)


def _stored_json(column: Column) -> str:
    """The person's current value of a key in its JSON form (``people.attributes.read_attribute``)."""
    if not column.spec.standard:
        return f"p.custom -> '{column.key}'"
    name = connection.ops.quote_name(column.key)
    if column.spec.type == AttributeType.DATE:
        return f"to_jsonb(p.{name}::text)"
    return f"to_jsonb(nullif(p.{name}, ''))"


def _new_json(column: Column, value: str) -> str:
    """A staged text value in its JSON form (as ``people.attributes.cast_value`` returns it)."""
    if column.spec.type == AttributeType.INTEGER:
        return f"to_jsonb({value}::bigint)"
    if column.spec.type == AttributeType.DECIMAL:
        return f"to_jsonb({value}::numeric)"  # Python's repr: 2.0 stays 2.0
    if column.spec.type == AttributeType.BOOLEAN:
        return f"to_jsonb({value}::boolean)"
    return f"to_jsonb({value})"


def _person_defaults() -> list[tuple[str, str, Any]]:
    """The columns of a new profile other than id, uid and the times: (column, placeholder, default)."""
    skip = {"id", "uid", "created_at", "modified_at"}
    template = Person()
    return [
        (
            field.column,
            f"%s::{field.db_type(connection)}",
            field.get_db_prep_save(getattr(template, field.attname), connection),
        )
        for field in Person._meta.concrete_fields
        if field.attname not in skip
    ]
