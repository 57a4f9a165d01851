"""``python -m bench profile track|batch|identify|profile_api [-n N]``: the hot path of one request
kind, in-process (Django's WSGI handler, no gunicorn), under cProfile, with the SQL it runs.

Prints the wall time per request, the queries per request, the slowest SQL statements and the top
functions by cumulative time. Used to write the "what limits it" notes of docs/performance.md.
"""

from __future__ import annotations

import cProfile
import io
import json
import pstats
import time
from collections import Counter

from bench import adapters, db, load, probes
from bench.http import basic_auth
from bench.workloads._common import streams


def _requests(kind: str, ctx, n: int) -> list[tuple[str, str, bytes, dict]]:
    key = ctx.state["write_keys"]["web"]
    auth = {"HTTP_AUTHORIZATION": basic_auth(key)}
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
    prof = cProfile.Profile()
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
