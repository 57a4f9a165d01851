"""Workload 3: merge storm. ``POST /v1/identify`` calls that each merge two profiles (80% an anonymous
profile into a known user, 20% two established profiles with their own events and identifiers)."""

from __future__ import annotations

from bench.http import CpuMeter, closed_loop
from bench.report import Row, median, not_available
from bench.workloads._common import CLIENTS, counters, deal, delta, segment_post, server, streams, url_exists

MUTATES = True
T_RATE = "≥ 200 merges/s (reference goal)"
T_P99 = "< 50 ms (reference goal)"


def unavailable(ctx) -> str | None:
    from bench import adapters

    if not adapters.identity_available():
        return "identity app (issue 3) not merged"
    if not url_exists("/v1/identify"):
        return "POST /v1/identify not routed yet (identity issue 3)"
    return None


def placeholder(reason: str) -> list[Row]:
    return [
        not_available("merge storm /v1/identify", "merges/s", "merges/s", T_RATE, reason),
        not_available("merge storm /v1/identify", "request p99", "ms", T_P99, reason),
    ]


def run(ctx) -> list[Row]:
    write_key = ctx.state["write_keys"]["web"]
    rates, p50, p99 = [], [], []
    with server(ctx) as srv:
        for r in range(ctx.repeat):
            messages = streams(ctx).merges(ctx.scale.merge_messages)
            reqs = [(segment_post("/v1/identify", m, write_key), 1) for m in messages]
            before = counters(ctx.conn)
            with CpuMeter(srv, ctx.conn) as cpu:
                res = closed_loop(srv.port, deal(reqs, CLIENTS))
            ctx.notes.setdefault("merge", []).append(cpu.per_request_ms(res.sent))
            ctx.log(f"  cpu per request: {ctx.notes['merge'][-1]}")
            written = delta(counters(ctx.conn), before)
            rates.append(written["merges"] / res.seconds)
            p50.append(res.p(50))
            p99.append(res.p(99))
            ctx.log(
                f"  run {r + 1}: {written['merges']} merges of {len(messages)} calls, "
                f"{rates[-1]:,.0f} merges/s, "
                f"p50 {p50[-1]:.1f} ms, p99 {p99[-1]:.1f} ms, {dict(res.statuses)}"
            )
            if res.errors:
                ctx.log(f"  errors: {res.errors[:2]}")
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
