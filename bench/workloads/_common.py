"""Helpers shared by the workloads: requirements and placeholders, the message streams, batch requests,
database counters (the server processes and the load driver, ``served`` and ``drive``, are in
``bench.http``)."""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from bench.http import (  # noqa: F401
    THREADS,
    WORKERS,
    LoadResult,
    Server,
    basic_auth,
    build_request,
    drive,
    served,
)
from bench.report import Row, median, not_available
from bench.stream import Streams

CLIENTS = int(os.environ.get("BENCH_CLIENTS", "4"))
BATCH = 100  # messages per /v1/batch request
T_P99 = "< 50 ms (reference goal)"  # of a single-message request


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


def requires(
    *, identity: bool = False, imports: tuple[str, ...] = (), routes: tuple[str, ...] = ()
) -> Callable[[object], str | None]:
    """A workload's ``unavailable(ctx)`` for requirements known in advance (see ``missing``)."""
    return lambda ctx: missing(identity=identity, imports=imports, routes=routes)


def placeholder_rows(workload: str, *figures: tuple[str, str, str]) -> Callable[[str], list[Row]]:
    """A workload's ``placeholder(reason)``: ``placeholders`` of these figures."""
    return lambda reason: placeholders(workload, reason, *figures)


def server(ctx) -> Server:
    return Server(ctx.url, workers=WORKERS, threads=THREADS)


def post_runs(
    ctx, path: str, next_messages: Callable[[], list[dict]], **drive_args
) -> Iterator[tuple[int, int, LoadResult, dict]]:
    """``ctx.repeat`` runs of ``POST path``, one message a request from the web write key: each run's
    number, its request count, the load result and what it wrote (``counters`` before and after)."""
    write_key = ctx.state["write_keys"]["web"]
    with served(ctx) as srv:
        for run in range(ctx.repeat):
            reqs = [(segment_post(path, m, write_key), 1) for m in next_messages()]
            before = counters(ctx.conn)
            res = drive(ctx, srv, reqs, **drive_args)
            yield run, len(reqs), res, delta(counters(ctx.conn), before)


def rate_rows(
    workload: str,
    figure: str,
    unit: str,
    rates: list[float],
    p50: list[float],
    p99: list[float],
    *,
    target: str,
    goal: float,
) -> list[Row]:
    """The median rate (meets ``target`` at ``goal`` or more) and request p50 and p99 (< 50 ms)."""
    return [
        Row(workload, figure, median(rates), unit, target=target, meets=median(rates) >= goal),
        Row(workload, "request p50", median(p50), "ms"),
        Row(workload, "request p99", median(p99), "ms", target=T_P99, meets=median(p99) < 50),
    ]


@dataclass(frozen=True)
class Ladder:
    """One run's loads of the same requests: at a fixed rate (open loop), saturated (closed loop), then
    at half the saturated rate (open loop)."""

    fixed: LoadResult
    saturated: LoadResult
    half_rate: float
    half: LoadResult


def answered_rate(res: LoadResult) -> float:
    """Requests answered with 200, per second."""
    return res.statuses.get(200, 0) / res.seconds


def rate_ladder(
    ctx,
    srv: Server,
    reqs: list,
    *,
    label: str,
    clients: int,
    rate: float,
    seconds: float,
    min_half: float,
    cpu: str = "",
) -> Ladder:
    """``reqs`` from ``clients`` clients at ``rate``, then as fast as they go (the max rate, its CPU
    under ``cpu``), then at half the max rate (at least ``min_half``); each logged after ``label``."""
    fixed = drive(ctx, srv, reqs, clients=clients, rate=rate, seconds=seconds)
    ctx.log(
        f"  {label} at {rate}/s: p50 {fixed.p(50):.2f} ms, p99 {fixed.p(99):.2f} ms, {dict(fixed.statuses)}"
    )
    saturated = drive(ctx, srv, reqs, clients=clients, seconds=seconds, cpu=cpu)
    ctx.log(
        f"  {label} saturated ({clients} clients): {answered_rate(saturated):,.0f} req/s, "
        f"p99 {saturated.p(99):.1f} ms, {dict(saturated.statuses)}"
    )
    half_rate = max(min_half, round(answered_rate(saturated) / 2))
    half = drive(ctx, srv, reqs, clients=clients, rate=half_rate, seconds=seconds)
    ctx.log(
        f"  {label} at half the max rate ({half_rate:.0f}/s): p50 {half.p(50):.2f} ms, "
        f"p99 {half.p(99):.2f} ms, {dict(half.statuses)}"
    )
    return Ladder(fixed, saturated, half_rate, half)


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
