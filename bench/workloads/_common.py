"""Helpers shared by the workloads: the HTTP server, the message streams, database counters."""

from __future__ import annotations

import json
import os

from bench.http import Server, basic_auth, build_request
from bench.stream import Streams

# gunicorn layout on this 2-core machine: gthread workers; DB waits overlap with other requests.
WORKERS = int(os.environ.get("BENCH_GUNICORN_WORKERS", "4"))
THREADS = int(os.environ.get("BENCH_GUNICORN_THREADS", "2"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "4"))


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
