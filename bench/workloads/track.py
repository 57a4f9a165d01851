"""Workload 2: single-message ``POST /v1/track`` requests, closed loop from several keep-alive clients."""

from __future__ import annotations

import os

from bench.http import drive, served
from bench.report import Row, median
from bench.workloads._common import counters, delta, missing, placeholders, segment_post, streams

MUTATES = True
CLIENTS = int(os.environ.get("BENCH_TRACK_CLIENTS", "8"))
T_RATE = "≥ 1,000 req/s (reference goal)"
T_P99 = "< 50 ms (reference goal)"


def unavailable(ctx) -> str | None:
    return missing(identity=True, routes=("/v1/track",))


def placeholder(reason: str) -> list[Row]:
    return placeholders(
        "track /v1/track", reason, ("requests/s", "req/s", T_RATE), ("request p99", "ms", T_P99)
    )


def run(ctx) -> list[Row]:
    write_key = ctx.state["write_keys"]["web"]
    seconds = ctx.scale.track_seconds
    rates, p50, p99 = [], [], []
    with served(ctx) as srv:
        for r in range(ctx.repeat):
            # Enough distinct messages that none repeats (a repeat would only hit the dedupe path).
            messages, _ = streams(ctx).ingest(int(seconds * 1500))
            messages = [m for m in messages if m["type"] == "track"]
            reqs = [(segment_post("/v1/track", m, write_key), 1) for m in messages]
            before = counters(ctx.conn)
            res = drive(ctx, srv, reqs, clients=CLIENTS, seconds=seconds, cpu="track")
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
