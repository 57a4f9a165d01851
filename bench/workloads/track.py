"""Workload 2: single-message ``POST /v1/track`` requests, closed loop from several keep-alive clients."""

from __future__ import annotations

import os

from bench.report import Row
from bench.workloads._common import (
    T_P99,
    answered_rate,
    placeholder_rows,
    post_runs,
    rate_rows,
    requires,
    streams,
)

MUTATES = True
CLIENTS = int(os.environ.get("BENCH_TRACK_CLIENTS", "8"))
T_RATE = "≥ 1,000 req/s (reference goal)"

unavailable = requires(identity=True, routes=("/v1/track",))
placeholder = placeholder_rows(
    "track /v1/track", ("requests/s", "req/s", T_RATE), ("request p99", "ms", T_P99)
)


def run(ctx) -> list[Row]:
    seconds = ctx.scale.track_seconds

    def messages() -> list[dict]:
        # Enough distinct messages that none repeats (a repeat would only hit the dedupe path).
        messages, _ = streams(ctx).ingest(int(seconds * 1500))
        return [m for m in messages if m["type"] == "track"]

    rates, p50, p99 = [], [], []
    runs = post_runs(ctx, "/v1/track", messages, clients=CLIENTS, seconds=seconds, cpu="track")
    for r, requests, res, written in runs:
        rates.append(answered_rate(res))
        p50.append(res.p(50))
        p99.append(res.p(99))
        ctx.log(
            f"  run {r + 1}: {rates[-1]:,.0f} req/s, p50 {p50[-1]:.1f} ms, p99 {p99[-1]:.1f} ms, "
            f"{dict(res.statuses)}, written {written}"
        )
        if res.sent > requests // CLIENTS * CLIENTS:
            ctx.log("  note: clients wrapped around their messages (duplicates were sent)")
    figure = f"requests/s, {CLIENTS} keep-alive clients"
    return rate_rows("track /v1/track", figure, "req/s", rates, p50, p99, target=T_RATE, goal=1000)
