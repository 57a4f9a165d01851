"""``python -m bench profile track|batch|identify|profile_api|actions|actions_again|act [-n N]``: the
hot path of one request kind, in-process (Django's WSGI handler, no gunicorn), under cProfile, with the
SQL it runs.

Prints the wall time per request, the queries per request, the slowest SQL statements and the top
functions by cumulative time. Used to write the "what limits it" notes of docs/performance.md.

The actions kinds and ``profile_api`` measure, before profiling, the CPU time and statements per
request without the profiler over half the requests (and, when PostgreSQL runs on this machine, the
CPU time of the connection's server process from ``/proc``). The actions kinds set up the actions
workload's 50 actions and 5 audiences first (as ``bench run --only actions`` does): ``actions`` asks
``POST /v1/actions`` for distinct known people (each seen for the first time, so the contact is
recorded), ``actions_again`` for people who asked within the minute, ``act`` records ``show``
reactions.
"""

from __future__ import annotations

import cProfile
import io
import json
import os
import pstats
import time
from collections import Counter

from bench import adapters, db, load, probes
from bench.http import basic_auth
from bench.workloads._common import streams

ACTION_KINDS = ("actions", "actions_again", "act")


def _requests(kind: str, ctx, n: int) -> list[tuple[str, str, bytes, dict]]:
    key = ctx.state["write_keys"]["web"]
    auth = {"HTTP_AUTHORIZATION": basic_auth(key)}
    if kind in ACTION_KINDS:
        return _action_requests(kind, ctx, n, auth)
    if kind == "profile_api":
        from bench.workloads.profile_api import _token, path

        token = _token()
        sample = probes.lookup_sample(ctx.spec.seed, ctx.state["persons"], n, salt="profile")
        return [
            ("GET", path(adapters.IDENTITY_TYPE_KEYS[t], v), b"", {"HTTP_AUTHORIZATION": f"Bearer {token}"})
            for t, v, _ in sample
        ]
    if kind == "identify":
        return [("POST", "/v1/identify", json.dumps(m).encode(), auth) for m in streams(ctx).merges(n)]
    messages, _ = streams(ctx).ingest(n * (100 if kind == "batch" else 1))
    if kind == "batch":
        return [
            ("POST", "/v1/batch", json.dumps({"batch": messages[k : k + 100]}).encode(), auth)
            for k in range(0, len(messages), 100)
        ]
    return [("POST", "/v1/track", json.dumps(m).encode(), auth) for m in messages if m["type"] == "track"][:n]


def main(kind: str, n: int, size: str) -> None:
    from datetime import date

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from bench.context import Context
    from bench.generate import Spec
    from bench.sizes import SIZES

    url = db.database_url()
    db.setup_django(url)
    conn = db.connect(url)
    state = load.get_state(conn, "dataset")
    if not state:
        raise SystemExit("bench: load a data set first (python -m bench load --size S)")
    size_name, rest = state["spec"].split("-s", 1)
    seed, anchor = rest.split("-", 1)
    spec = Spec(SIZES[size_name], int(seed), date.fromisoformat(anchor[:10]))
    ctx = Context(url, spec, spec.size, 1, False, conn, state)
    if kind == "computed":
        return _computed(ctx, n)
    reqs = _requests(kind, ctx, n)
    client = Client(SERVER_NAME="127.0.0.1")
    for method, path, body, headers in reqs[:3]:  # warm-up
        client.generic(method, path, body, content_type="application/json", **headers)
    reqs = reqs[3:]
    reqs = _measure(client, reqs, again=kind == "actions_again")
    prof = cProfile.Profile(time.process_time)  # CPU of this process: the same on a busy machine
    statuses: Counter = Counter()
    with CaptureQueriesContext(connection) as queries:
        t0 = time.perf_counter()
        prof.enable()
        for method, path, body, headers in reqs:
            statuses[
                client.generic(method, path, body, content_type="application/json", **headers).status_code
            ] += 1
        prof.disable()
        wall = time.perf_counter() - t0
    per = wall / max(1, len(reqs))
    print(f"{kind}: {len(reqs)} requests, {per * 1000:.2f} ms each under cProfile, statuses {dict(statuses)}")
    print(f"SQL: {len(queries.captured_queries) / max(1, len(reqs)):.1f} queries per request")
    by_sql: Counter = Counter()
    time_sql: Counter = Counter()
    for q in queries.captured_queries:
        shape = q["sql"][:160]
        by_sql[shape] += 1
        time_sql[shape] += float(q["time"])
    print("SQL by total time (count, seconds, statement start):")
    for shape, total in time_sql.most_common(12):
        print(f"  {by_sql[shape]:6d} {total:8.3f}  {shape}")
    if os.environ.get("BENCH_PROFILE_OUT"):  # for pstats / snakeviz
        prof.dump_stats(os.environ["BENCH_PROFILE_OUT"])
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(40)
    print(out.getvalue())
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(20)
    print(out.getvalue())


def _computed(ctx, n: int) -> None:
    """Activation and refresh_person of the computed workload's definitions: SQL with EXPLAIN ANALYZE."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from bench.workloads import computed as w
    from computed.services import activate_many, refresh_person

    w._reset(ctx)
    attrs = w._create(ctx)
    with CaptureQueriesContext(connection) as queries:
        t0 = time.perf_counter()
        activate_many(attrs)
        print(f"activation: {time.perf_counter() - t0:.2f} s, {len(queries.captured_queries)} queries")
    slow = sorted(queries.captured_queries, key=lambda q: -float(q["time"]))[:3]
    for q in slow:
        print(f"--- {float(q['time']):.2f} s\n{q['sql'][:3000]}\n")
    with CaptureQueriesContext(connection) as queries:
        t0 = time.perf_counter()
        for pid in range(1, n + 1):
            refresh_person(pid)
        per = (time.perf_counter() - t0) / n * 1000
    print(f"refresh_person: {per:.1f} ms each, {len(queries.captured_queries) / n:.1f} queries each")
    by: Counter = Counter()
    for q in queries.captured_queries:
        by[q["sql"][:120]] += float(q["time"])
    for shape, total in by.most_common(8):
        print(f"  {total:8.3f}s  {shape}")
    if slow:
        with connection.cursor() as cur:
            cur.execute("BEGIN")
            cur.execute("SET LOCAL work_mem = '256MB'")
            cur.execute(
                "EXPLAIN (ANALYZE, BUFFERS) " + slow[0]["sql"].replace("INSERT INTO", "INSERT INTO", 1)
            )
            print("\n".join(r[0] for r in cur.fetchall()))
            cur.execute("ROLLBACK")


def _action_requests(kind: str, ctx, n: int, auth: dict) -> list[tuple[str, str, bytes, dict]]:
    """The actions workload's requests: twice ``n`` distinct people (one half measured, the other
    profiled); ``actions_again`` asks for the same people twice in a row, ``act`` shows actions."""
    from bench.workloads import actions as w

    action_ids = w._setup(ctx)
    _, users, _ = w._bodies(ctx, 2 * n + 3)
    if kind == "act":
        return [
            (
                "POST",
                "/v1/actions/act",
                json.dumps(
                    {"actionId": action_ids[k % len(action_ids)], "userId": u, "event": "show"}
                ).encode(),
                auth,
            )
            for k, u in enumerate(users)
        ]
    asks = [
        (
            "POST",
            "/v1/actions",
            json.dumps({"userId": u, "type": "banner", "context": {"page": {"path": "/home"}}}).encode(),
            auth,
        )
        for u in users
    ]
    if kind == "actions_again":  # each person asks twice in a row: only the second ask is counted
        return asks[:3] + [req for ask in asks[3:] for req in (ask, ask)]
    return asks


def _measure(client, reqs: list, *, again: bool) -> list:
    """CPU milliseconds and statements per request over the first half of ``reqs`` without the
    profiler (``again``: only the repeats, every second request, are counted); returns the other half
    to profile."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    middle = len(reqs) // 4 * 2
    half, rest = reqs[:middle], reqs[middle:]
    pid = _backend_pid()
    cpu = statements = counted = db_cpu = 0.0
    db_seen = pid is not None
    walls: list[float] = []
    statuses: Counter = Counter()
    for k, (method, path, body, headers) in enumerate(half):
        counted_now = not again or k % 2 == 1
        db0 = _backend_cpu(pid) if counted_now and db_seen else None
        with CaptureQueriesContext(connection) as queries:
            t0, w0 = time.process_time(), time.perf_counter()
            response = client.generic(method, path, body, content_type="application/json", **headers)
            spent, wall = time.process_time() - t0, time.perf_counter() - w0
        statuses[response.status_code] += 1
        if counted_now:
            cpu += spent
            walls.append(wall)
            statements += len(queries.captured_queries)
            counted += 1
            db1 = _backend_cpu(pid) if db_seen else None
            if db0 is None or db1 is None:
                db_seen = False
            else:
                db_cpu += db1 - db0
    db_seen = db_seen and _backend_pid() == pid  # the same connection throughout
    db = f", its PostgreSQL backend {db_cpu / max(1.0, counted) * 1000:.1f} ms CPU" if db_seen else ""
    counted = max(1.0, counted)
    walls.sort()
    p50, p99 = (walls[int(len(walls) * q)] * 1000 if walls else 0.0 for q in (0.5, 0.99))
    print(
        f"measured without the profiler: {int(counted)} requests, {cpu / counted * 1000:.1f} ms CPU and "
        f"{statements / counted:.1f} statements each, wall p50 {p50:.1f} ms, p99 {p99:.1f} ms "
        f"(one client, statuses {dict(statuses)}){db}"
    )
    return rest


def _backend_pid() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _backend_cpu(pid: int) -> float | None:
    """CPU seconds of the PostgreSQL backend ``pid`` when the server runs on this machine (``/proc``,
    in clock ticks: summed over many requests); None otherwise."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
