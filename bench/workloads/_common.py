"""Helpers shared by the workloads: requirements and placeholders, the message streams, batch requests,
database counters (the server processes and the load driver, ``served`` and ``drive``, are in
``bench.http``)."""

from __future__ import annotations

import importlib
import json
import os

from bench.http import THREADS, WORKERS, Server, basic_auth, build_request, drive, served  # noqa: F401
from bench.report import Row, not_available
from bench.stream import Streams

CLIENTS = int(os.environ.get("BENCH_CLIENTS", "4"))
BATCH = 100  # messages per /v1/batch request


def missing(
    *, identity: bool = False, imports: tuple[str, ...] = (), routes: tuple[str, ...] = ()
) -> str | None:
    """Why a workload cannot run, or None: the first unmet requirement among the identity app,
    ``imports`` (``"module"`` or ``"module:name"``) and ``routes`` (paths that must resolve)."""
    from bench import adapters

    if identity and not adapters.identity_available():
        return "identity app not merged"
    for target in imports:
        module, _, name = target.partition(":")
        try:
            found = importlib.import_module(module)
            if name:
                getattr(found, name)
        except (ImportError, AttributeError) as exc:
            return f"{target} not available ({exc})"
    for path in routes:
        if not url_exists(path):
            return f"{path} not routed"
    return None


def placeholders(workload: str, reason: str, *figures: tuple[str, str, str]) -> list[Row]:
    """The rows of a workload that cannot run: one per ``(metric, unit, target)``, each not available."""
    return [not_available(workload, metric, unit, target, reason) for metric, unit, target in figures]


def server(ctx) -> Server:
    return Server(ctx.url, workers=WORKERS, threads=THREADS)


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
