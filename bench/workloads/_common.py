"""Helpers shared by the workloads: requirements and placeholders, the app's server processes, the load
driver, the message streams, database counters."""

from __future__ import annotations

import contextlib
import importlib
import json
import os
from collections.abc import Iterator

from bench.http import (
    CpuMeter,
    LoadResult,
    Server,
    Workers,
    basic_auth,
    build_request,
    closed_loop,
    open_loop,
)
from bench.report import Row, not_available
from bench.stream import Streams

# gunicorn layout on this 2-core machine: gthread workers; DB waits overlap with other requests.
WORKERS = int(os.environ.get("BENCH_GUNICORN_WORKERS", "4"))
THREADS = int(os.environ.get("BENCH_GUNICORN_THREADS", "2"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "4"))
BATCH = 100  # messages per /v1/batch request


def missing(
    *, identity: str = "", imports: dict[str, str] | None = None, routes: dict[str, str] | None = None
) -> str | None:
    """Why a workload cannot run, or None: the first unmet requirement's reason.

    ``identity``: the reason when the identity app is absent; ``imports``: ``{"module:name": reason}``
    (``name`` optional); ``routes``: ``{path: reason}`` for paths that must resolve."""
    from bench import adapters

    if identity and not adapters.identity_available():
        return identity
    for target, reason in (imports or {}).items():
        module, _, name = target.partition(":")
        try:
            found = importlib.import_module(module)
            if name:
                getattr(found, name)
        except (ImportError, AttributeError) as exc:
            return f"{reason} ({exc})"
    for path, reason in (routes or {}).items():
        if not url_exists(path):
            return reason
    return None


def placeholders(workload: str, reason: str, *figures: tuple[str, str, str]) -> list[Row]:
    """The rows of a workload that cannot run: one per ``(metric, unit, target)``, each not available."""
    return [not_available(workload, metric, unit, target, reason) for metric, unit, target in figures]


@contextlib.contextmanager
def served(ctx, *, mode: str = "", qcluster: int = 0) -> Iterator[Server]:
    """gunicorn serving the app on the bench database (and ``qcluster`` django-q2 workers when asked),
    in ingest ``mode`` when given; stopped on exit."""
    env = {"BENCH_INGEST_MODE": mode} if mode else {}
    with contextlib.ExitStack() as stack:
        srv = stack.enter_context(Server(ctx.url, workers=WORKERS, threads=THREADS, extra_env=env))
        if qcluster:
            stack.enter_context(Workers(ctx.url, workers=qcluster, extra_env=env))
        yield srv


def server(ctx) -> Server:
    return Server(ctx.url, workers=WORKERS, threads=THREADS)


def drive(
    ctx,
    srv: Server,
    reqs: list[tuple[bytes, int]],
    *,
    clients: int,
    rate: float | None = None,
    seconds: float | None = None,
    cpu: str = "",
) -> LoadResult:
    """``reqs`` dealt over ``clients`` processes: open loop at ``rate`` requests/s for ``seconds``, or
    closed loop (each list once, or looped for ``seconds``). With ``cpu``, the app's and the database's
    CPU per request go to ``ctx.notes[cpu]``. Errors are logged."""
    per_client = deal(reqs, clients)

    def go() -> LoadResult:
        if rate:
            return open_loop(srv.port, per_client, rate=rate, seconds=seconds)
        return closed_loop(srv.port, per_client, seconds=seconds)

    if cpu:
        with CpuMeter(srv, ctx.conn) as meter:
            res = go()
        ctx.notes.setdefault(cpu, []).append(meter.per_request_ms(res.sent))
        ctx.log(f"  cpu per request: {ctx.notes[cpu][-1]}")
    else:
        res = go()
    if res.errors:
        ctx.log(f"  errors: {res.errors[:2]}")
    return res


def streams(ctx) -> Streams:
    if "streams" not in ctx.objects:
        ctx.objects["streams"] = Streams(ctx.spec, ctx.state["persons"])
        ctx.objects["streams"].exclude_merged(ctx.conn)
    return ctx.objects["streams"]


def segment_post(path: str, body: dict, write_key: str) -> bytes:
    data = json.dumps(body, separators=(",", ":")).encode()
    return build_request(
        "POST",
        path,
        data,
        {"Authorization": basic_auth(write_key), "Content-Type": "application/json"},
    )


def batches(messages: list[dict], write_key: str, size: int = BATCH) -> list[tuple[bytes, int]]:
    """``POST /v1/batch`` requests of ``size`` messages each, with their message counts."""
    return [
        (segment_post("/v1/batch", {"batch": messages[k : k + size]}, write_key), len(messages[k : k + size]))
        for k in range(0, len(messages), size)
    ]


def deal(items: list, n: int) -> list[list]:
    """Round-robin ``items`` over ``n`` clients."""
    return [items[k::n] for k in range(n)]


def counters(conn) -> dict:
    row = conn.execute(
        "SELECT (SELECT count(*) FROM people_event), (SELECT count(*) FROM people_person), "
        "(SELECT count(*) FROM identity_identity), (SELECT count(*) FROM identity_merge), "
        "(SELECT count(*) FROM people_rejectedmessage)"
    ).fetchone()
    return dict(zip(("events", "persons", "identities", "merges", "rejected"), row, strict=True))


def delta(after: dict, before: dict) -> dict:
    return {k: after[k] - before[k] for k in after}


def url_exists(path: str) -> bool:
    from django.urls import Resolver404, resolve

    try:
        resolve(path)
        return True
    except Resolver404:
        return False
