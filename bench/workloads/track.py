"""Workload 2: single-message ``POST /v1/track`` requests, closed loop from several keep-alive clients."""

from __future__ import annotations

import os

from bench.http import CpuMeter, closed_loop
from bench.report import Row, median, not_available
from bench.workloads._common import counters, deal, delta, segment_post, server, streams, url_exists

MUTATES = True
CLIENTS = int(os.environ.get("BENCH_TRACK_CLIENTS", "8"))
T_RATE = "≥ 1,000 req/s (reference goal)"
T_P99 = "< 50 ms (reference goal)"


def unavailable(ctx) -> str | None:
    from bench import adapters

    if not adapters.identity_available():
        return "identity app (issue 3) not merged"
    if not url_exists("/v1/track"):
        return "POST /v1/track not routed yet (identity issue 3)"
    return None


def placeholder(reason: str) -> list[Row]:
    return [
        not_available("track /v1/track", "requests/s", "req/s", T_RATE, reason),
        not_available("track /v1/track", "request p99", "ms", T_P99, reason),
    ]


def run(ctx) -> list[Row]:
    write_key = ctx.state["write_keys"]["web"]
    seconds = ctx.scale.track_seconds
    rates, p50, p99 = [], [], []
    with server(ctx) as srv:
        for r in range(ctx.repeat):
            # Enough distinct messages that none repeats (a repeat would only hit the dedupe path).
            messages, _ = streams(ctx).ingest(int(seconds * 1500))
            messages = [m for m in messages if m["type"] == "track"]
            reqs = [(segment_post("/v1/track", m, write_key), 1) for m in messages]
            before = counters(ctx.conn)
            with CpuMeter(srv, ctx.conn) as cpu:
                res = closed_loop(srv.port, deal(reqs, CLIENTS), seconds=seconds)
            ctx.notes.setdefault("track", []).append(cpu.per_request_ms(res.sent))
            ctx.log(f"  cpu per request: {ctx.notes['track'][-1]}")
            written = delta(counters(ctx.conn), before)
            ok = res.statuses.get(200, 0)
            rates.append(ok / res.seconds)
            p50.append(res.p(50))
            p99.append(res.p(99))
            ctx.log(
                f"  run {r + 1}: {rates[-1]:,.0f} req/s, p50 {p50[-1]:.1f} ms, p99 {p99[-1]:.1f} ms, "
                f"{dict(res.statuses)}, written {written}"
            )
            if res.sent > len(reqs) // CLIENTS * CLIENTS:
                ctx.log("  note: clients wrapped around their messages (duplicates were sent)")
            if res.errors:
                ctx.log(f"  errors: {res.errors[:2]}")
    return [
        Row(
            "track /v1/track",
            f"requests/s, {CLIENTS} keep-alive clients",
            median(rates),
            "req/s",
            target=T_RATE,
            meets=median(rates) >= 1000,
        ),
        Row("track /v1/track", "request p50", median(p50), "ms"),
        Row("track /v1/track", "request p99", median(p99), "ms", target=T_P99, meets=median(p99) < 50),
    ]
