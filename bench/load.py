"""COPY loader: truncate, drop secondary indexes, COPY the generated files, rebuild, analyze.

Bulk-load practice: plain (non-constraint) indexes are dropped and rebuilt once after the COPY (their
definitions are kept in ``bench_index_backup`` first, so an interrupted load is repaired by the next
one); foreign-key triggers are skipped with ``session_replication_role = replica`` because the
generator's ids are consistent by construction.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import psycopg

from bench import adapters
from bench.generate import CUSTOM_ATTRIBUTES, EVENT_COLUMNS, PERSON_COLUMNS, Spec

STATE_DDL = """
CREATE TABLE IF NOT EXISTS bench_state (key text PRIMARY KEY, value jsonb NOT NULL);
CREATE TABLE IF NOT EXISTS bench_index_backup (
    name text PRIMARY KEY, tablename text NOT NULL, ddl text NOT NULL
);
"""
BLOCK = 1 << 20


def get_state(conn: psycopg.Connection, key: str) -> dict | None:
    conn.execute(STATE_DDL)
    row = conn.execute("SELECT value FROM bench_state WHERE key = %s", (key,)).fetchone()
    return row[0] if row else None


def set_state(conn: psycopg.Connection, key: str, value: dict) -> None:
    conn.execute(STATE_DDL)
    conn.execute(
        "INSERT INTO bench_state VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        (key, json.dumps(value)),
    )


def mark_dirty(conn: psycopg.Connection) -> None:
    state = get_state(conn, "dataset")
    if state and not state.get("dirty"):
        state["dirty"] = True
        set_state(conn, "dataset", state)


def restore_indexes(conn: psycopg.Connection, log=print) -> None:
    conn.execute(STATE_DDL)
    rows = conn.execute("SELECT name, ddl FROM bench_index_backup ORDER BY tablename, name").fetchall()
    for name, ddl in rows:
        t0 = time.perf_counter()
        conn.execute(ddl.replace(" INDEX ", " INDEX IF NOT EXISTS ", 1))
        conn.execute("DELETE FROM bench_index_backup WHERE name = %s", (name,))
        log(f"  index {name}: {time.perf_counter() - t0:.1f} s")


def drop_indexes(conn: psycopg.Connection, tables: list[str]) -> None:
    rows = conn.execute(
        """
        SELECT i.relname, t.relname, pg_get_indexdef(x.indexrelid)
        FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
        WHERE t.relname = ANY(%s)
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
        """,
        (tables,),
    ).fetchall()
    for name, table, ddl in rows:
        conn.execute(
            "INSERT INTO bench_index_backup VALUES (%s, %s, %s) ON CONFLICT DO NOTHING", (name, table, ddl)
        )
        conn.execute(f'DROP INDEX IF EXISTS "{name}"')


def copy_file(conn: psycopg.Connection, sql: str, paths: list[Path]) -> int:
    n = 0
    with conn.cursor() as cur, cur.copy(sql) as copy:
        for path in paths:
            with open(path, "rb") as f:
                while data := f.read(BLOCK):
                    copy.write(data)
                    n += data.count(b"\n")
    return n


def copy_events(conn: psycopg.Connection, spec: Spec) -> int:
    """COPY every chunk's events day by day: the table ends up in time order, as production appends it."""
    d = spec.directory
    chunks = []
    for c in range(spec.chunks):
        offsets = [int(x) for x in (d / f"events-{c:03d}.idx").read_text().split()]
        chunks.append((open(d / f"events-{c:03d}.tsv", "rb"), offsets))  # noqa: SIM115
    n = 0
    sql = f"COPY people_event ({', '.join(EVENT_COLUMNS)}) FROM STDIN"
    try:
        with conn.cursor() as cur, cur.copy(sql) as copy:
            for day in range(len(chunks[0][1]) - 1):
                for f, offsets in chunks:
                    f.seek(offsets[day])
                    left = offsets[day + 1] - offsets[day]
                    while left > 0:
                        data = f.read(min(BLOCK, left))
                        left -= len(data)
                        copy.write(data)
                        n += data.count(b"\n")
    finally:
        for f, _ in chunks:
            f.close()
    return n


def load(url: str, spec: Spec, log=print) -> dict:
    """Replace the bench database's people data with the generated data set. Returns load timings."""
    from people.models import Channel
    from people.services import attribute_definition_create, source_create

    timings: dict[str, float] = {}
    conn = psycopg.connect(url, autocommit=True)
    conn.execute(STATE_DDL)
    conn.execute("SET maintenance_work_mem = '1GB'")
    conn.execute("SET max_parallel_maintenance_workers = 2")
    conn.execute("SET synchronous_commit = off")
    restore_indexes(conn, log)  # a previous interrupted load
    t0 = time.perf_counter()
    conn.execute("DELETE FROM bench_state WHERE key = 'dataset'")
    conn.execute(
        "TRUNCATE people_person, people_event, people_channel, people_source, people_attributedefinition, "
        "people_rejectedmessage, people_job RESTART IDENTITY CASCADE"
    )
    adapters.before_load(conn)
    # Channels and sources through the people services (ids 1, 2, 3 as the generator assumes).
    keys = {}
    for n, (key, name) in enumerate((("web", "Web"), ("email", "Email"), ("app", "Mobile app")), start=1):
        channel = Channel.objects.create(key=key, name=name)
        creds = source_create(name=f"Bench {name}", channel=channel)
        if channel.pk != n or creds.source.pk != n:
            raise RuntimeError("bench: channels/sources did not get ids 1..3 after TRUNCATE RESTART IDENTITY")
        keys[key] = creds.write_key
    for key, label, type_ in CUSTOM_ATTRIBUTES:
        attribute_definition_create(key=key, label=label, type=type_)
    tables = ["people_person", "people_event", *adapters.identity_tables()]
    drop_indexes(conn, tables)
    conn.execute("SET session_replication_role = replica")
    timings["truncate_s"] = time.perf_counter() - t0

    d = spec.directory
    t0 = time.perf_counter()
    persons = copy_file(
        conn,
        f"COPY people_person ({', '.join(PERSON_COLUMNS)}) FROM STDIN",
        [d / f"persons-{c:03d}.tsv" for c in range(spec.chunks)],
    )
    timings["copy_persons_s"] = time.perf_counter() - t0
    log(f"  COPY {persons:,} persons: {timings['copy_persons_s']:.1f} s")
    t0 = time.perf_counter()
    events = copy_events(conn, spec)
    timings["copy_events_s"] = time.perf_counter() - t0
    log(
        f"  COPY {events:,} events: {timings['copy_events_s']:.1f} s "
        f"({events / timings['copy_events_s']:,.0f}/s)"
    )
    t0 = time.perf_counter()
    identities = adapters.copy_identities(conn, [d / f"identities-{c:03d}.tsv" for c in range(spec.chunks)])
    timings["copy_identities_s"] = time.perf_counter() - t0
    if identities is None:
        log("  identities: identity app not available, not loaded")
    else:
        log(f"  COPY {identities:,} identities: {timings['copy_identities_s']:.1f} s")
    conn.execute("SET session_replication_role = origin")

    t0 = time.perf_counter()
    restore_indexes(conn, log)
    timings["indexes_s"] = time.perf_counter() - t0
    for table in ("people_person", "people_event"):
        conn.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"(SELECT coalesce(max(id), 1) FROM {table}))"
        )
    adapters.after_load(conn)
    t0 = time.perf_counter()
    conn.execute("VACUUM ANALYZE")
    timings["vacuum_analyze_s"] = time.perf_counter() - t0
    log(f"  indexes {timings['indexes_s']:.1f} s, vacuum analyze {timings['vacuum_analyze_s']:.1f} s")
    max_event = conn.execute("SELECT coalesce(max(id), 0) FROM people_event").fetchone()[0]
    state = {
        "spec": spec.key,
        "persons": persons,
        "events": events,
        "identities": identities,
        "max_person_id": persons,
        "max_event_id": max_event,
        "write_keys": keys,
        "identity_loaded": identities is not None,
        "dirty": False,
        "timings": timings,
        "loaded_at": time.time(),
    }
    set_state(conn, "dataset", state)
    conn.close()
    return state
