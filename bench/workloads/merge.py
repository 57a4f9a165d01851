"""Workload 3: merge storm. ``POST /v1/identify`` calls that each merge two profiles (80% an anonymous
profile into a known user, 20% two established profiles with their own events and identifiers)."""

from __future__ import annotations

from bench.http import drive, served
from bench.report import Row, median
from bench.workloads._common import CLIENTS, counters, delta, missing, placeholders, segment_post, streams

MUTATES = True
T_RATE = "≥ 200 merges/s (reference goal)"
T_P99 = "< 50 ms (reference goal)"


def unavailable(ctx) -> str | None:
    return missing(identity=True, routes=("/v1/identify",))


def placeholder(reason: str) -> list[Row]:
    return placeholders(
        "merge storm /v1/identify", reason, ("merges/s", "merges/s", T_RATE), ("request p99", "ms", T_P99)
    )


def run(ctx) -> list[Row]:
    write_key = ctx.state["write_keys"]["web"]
    rates, p50, p99 = [], [], []
    with served(ctx) as srv:
        for r in range(ctx.repeat):
            messages = streams(ctx).merges(ctx.scale.merge_messages)
            reqs = [(segment_post("/v1/identify", m, write_key), 1) for m in messages]
            before = counters(ctx.conn)
            res = drive(ctx, srv, reqs, clients=CLIENTS, cpu="merge")
            written = delta(counters(ctx.conn), before)
            rates.append(written["merges"] / res.seconds)
            p50.append(res.p(50))
            p99.append(res.p(99))
            ctx.log(
                f"  run {r + 1}: {written['merges']} merges of {len(messages)} calls, "
                f"{rates[-1]:,.0f} merges/s, "
                f"p50 {p50[-1]:.1f} ms, p99 {p99[-1]:.1f} ms, {dict(res.statuses)}"
            )
    return [
        Row(
            "merge storm /v1/identify",
            f"merges/s, {CLIENTS} clients",
            median(rates),
            "merges/s",
            target=T_RATE,
            meets=median(rates) >= 200,
        ),
        Row("merge storm /v1/identify", "request p50", median(p50), "ms"),
        Row(
            "merge storm /v1/identify", "request p99", median(p99), "ms", target=T_P99, meets=median(p99) < 50
        ),
    ]
