"""Workload 3: merge storm. ``POST /v1/identify`` calls that each merge two profiles (80% an anonymous
profile into a known user, 20% two established profiles with their own events and identifiers)."""

from __future__ import annotations

from bench.report import Row
from bench.workloads._common import CLIENTS, T_P99, placeholder_rows, post_runs, rate_rows, requires, streams

MUTATES = True
T_RATE = "≥ 200 merges/s (reference goal)"

unavailable = requires(identity=True, routes=("/v1/identify",))
placeholder = placeholder_rows(
    "merge storm /v1/identify", ("merges/s", "merges/s", T_RATE), ("request p99", "ms", T_P99)
)


def run(ctx) -> list[Row]:
    def messages() -> list[dict]:
        return streams(ctx).merges(ctx.scale.merge_messages)

    rates, p50, p99 = [], [], []
    for r, calls, res, written in post_runs(ctx, "/v1/identify", messages, clients=CLIENTS, cpu="merge"):
        rates.append(written["merges"] / res.seconds)
        p50.append(res.p(50))
        p99.append(res.p(99))
        ctx.log(
            f"  run {r + 1}: {written['merges']} merges of {calls} calls, "
            f"{rates[-1]:,.0f} merges/s, "
            f"p50 {p50[-1]:.1f} ms, p99 {p99[-1]:.1f} ms, {dict(res.statuses)}"
        )
    figure = f"merges/s, {CLIENTS} clients"
    return rate_rows("merge storm /v1/identify", figure, "merges/s", rates, p50, p99, target=T_RATE, goal=200)
