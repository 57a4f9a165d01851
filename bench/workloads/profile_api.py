"""Workload 4: Profile API ``GET /v1/spaces/{space}/collections/users/profiles/{type}:{value}/traits``
by random identifiers (user_id, email, anonymous_id): latency at a fixed 500 requests/s (open loop,
measured from each request's scheduled time), then the maximum sustained rate (closed loop)."""

from __future__ import annotations

import os
from urllib.parse import quote

from bench import probes
from bench.http import build_request, drive, served
from bench.report import Row, median
from bench.workloads._common import (
    answered_rate,
    batches,
    counters,
    delta,
    placeholder_rows,
    rate_ladder,
    requires,
    streams,
)

MUTATES = True  # the "with ingestion" runs write events
RATE = 500
# The "with ingestion" row: /v1/batch requests of INGEST_BATCH messages at INGEST_RATE events/s, open loop,
# while the Profile API is read at half its measured maximum rate.
INGEST_RATE = int(os.environ.get("BENCH_PROFILE_INGEST_RATE", "1000"))
INGEST_BATCH = 100
CLIENTS = int(os.environ.get("BENCH_PROFILE_CLIENTS", "8"))
T_P99 = "p99 ≤ 10 ms at 500 req/s"
T_MAX = "≥ 500 req/s (stretch 1,000)"
SPACE = "bench"


def path(id_type: str, value: str) -> str:
    return f"/v1/spaces/{SPACE}/collections/users/profiles/{id_type}:{quote(value, safe='@.')}/traits"


unavailable = requires(identity=True, routes=(path("user_id", "u00000001"),))
placeholder = placeholder_rows(
    "Profile API traits",
    ("p50 at 500 req/s", "ms", "p50 ≤ 2 ms"),
    ("p99 at 500 req/s", "ms", T_P99),
    ("max sustained rate", "req/s", T_MAX),
)


def _token() -> str:
    from identity.services import access_token_create

    return access_token_create(name="bench").raw


def run(ctx) -> list[Row]:
    from bench import adapters

    token = _token()
    sample = probes.lookup_sample(ctx.spec.seed, ctx.state["persons"], 20_000, salt="api")
    reqs = [
        (
            build_request(
                "GET", path(adapters.IDENTITY_TYPE_KEYS[t], v), headers={"Authorization": f"Bearer {token}"}
            ),
            1,
        )
        for t, v, _ in sample
    ]
    seconds = ctx.scale.profile_seconds
    fixed_p50, fixed_p99, achieved, max_rate, max_p99 = [], [], [], [], []
    half_p50, half_p99, half_rate = [], [], []
    busy_p50, busy_p99, busy_events = [], [], []
    with served(ctx) as srv:
        drive(ctx, srv, reqs[:400], clients=4)  # warm caches and connections
        for r in range(ctx.repeat):
            run = rate_ladder(
                ctx,
                srv,
                reqs,
                label=f"run {r + 1}",
                clients=CLIENTS,
                rate=RATE,
                seconds=seconds,
                min_half=10.0,
                cpu="profile_api",
            )
            fixed_p50.append(run.fixed.p(50))
            fixed_p99.append(run.fixed.p(99))
            achieved.append(answered_rate(run.fixed))
            max_rate.append(answered_rate(run.saturated))
            max_p99.append(run.saturated.p(99))
            half = run.half_rate
            half_rate.append(half)
            half_p50.append(run.half.p(50))
            half_p99.append(run.half.p(99))
            busy = _with_ingestion(ctx, srv, reqs, half, seconds)
            busy_p50.append(busy["p50"])
            busy_p99.append(busy["p99"])
            busy_events.append(busy["events_per_s"])
            ctx.log(
                f"  run {r + 1} at {half:.0f}/s with ingestion at {INGEST_RATE}/s offered: "
                f"p50 {busy['p50']:.2f} ms, p99 {busy['p99']:.2f} ms, {busy['statuses']}, "
                f"ingested {busy['events_per_s']:,.0f} events/s {busy['ingest_statuses']}"
            )
    lookup = ctx.references.get("lookup", {})
    ok = run.saturated.statuses.get(200, 0) > 0
    return [
        Row(
            "Profile API traits",
            f"p50 at {RATE} req/s (open loop, {CLIENTS} clients)",
            median(fixed_p50),
            "ms",
            lookup.get("p50_ms"),
            "R5 raw lookup p50 ms",
            target="p50 ≤ 2 ms",
            meets=ok and median(fixed_p50) <= 2,
        ),
        Row(
            "Profile API traits",
            f"p99 at {RATE} req/s",
            median(fixed_p99),
            "ms",
            lookup.get("p99_ms"),
            "R5 raw lookup p99 ms",
            target=T_P99,
            meets=ok and median(fixed_p99) <= 10,
        ),
        Row(
            "Profile API traits",
            f"max sustained rate ({CLIENTS} clients, closed loop)",
            median(max_rate),
            "req/s",
            lookup.get("qps"),
            "R5 raw lookups/s, 1 connection",
            target=T_MAX,
            meets=median(max_rate) >= 500,
        ),
        Row("Profile API traits", "p99 at max rate", median(max_p99), "ms"),
        Row(
            "Profile API traits",
            f"p50 at half the max rate ({median(half_rate):.0f} req/s)",
            median(half_p50),
            "ms",
        ),
        Row(
            "Profile API traits",
            f"p99 at half the max rate ({median(half_rate):.0f} req/s)",
            median(half_p99),
            "ms",
        ),
        Row(
            "Profile API traits",
            f"p50 at half the max rate, with /v1/batch ingestion offered at {INGEST_RATE} events/s",
            median(busy_p50),
            "ms",
        ),
        Row(
            "Profile API traits",
            f"p99 at half the max rate, with /v1/batch ingestion offered at {INGEST_RATE} events/s",
            median(busy_p99),
            "ms",
            target="p99 ≤ 10 ms (at 500 req/s with 1k events/s)",
            meets=False if not busy_p99 else median(busy_p99) <= 10 and median(half_rate) >= RATE,
        ),
        Row(
            "Profile API traits",
            "events/s ingested meanwhile (processed inline)",
            median(busy_events),
            "events/s",
        ),
    ]


def _with_ingestion(ctx, srv, reqs, rate: float, seconds: float) -> dict:
    """The Profile API at ``rate`` while /v1/batch is fed at ``INGEST_RATE`` events/s (open loop, in a
    thread started first; ``open_loop`` forks its clients at once, so the two loads don't mix)."""
    import threading
    import time

    write_key = ctx.state["write_keys"]["web"]
    messages, _ = streams(ctx).ingest(int((seconds + 2) * INGEST_RATE))
    requests = batches(messages, write_key, INGEST_BATCH)
    ingest: dict = {}
    before = counters(ctx.conn)
    started = time.time()
    thread = threading.Thread(
        target=lambda: ingest.update(
            res=drive(ctx, srv, requests, clients=2, rate=INGEST_RATE / INGEST_BATCH, seconds=seconds + 2)
        )
    )
    thread.start()
    time.sleep(1.0)  # the ingest clients are forked and sending
    res = drive(ctx, srv, reqs, clients=CLIENTS, rate=rate, seconds=seconds)
    thread.join()
    written = delta(counters(ctx.conn), before)
    return {
        "p50": res.p(50),
        "p99": res.p(99),
        "statuses": dict(res.statuses),
        "ingest_statuses": dict(ingest["res"].statuses),
        "events_per_s": written.get("events", 0) / max(time.time() - started, 0.001),
    }
