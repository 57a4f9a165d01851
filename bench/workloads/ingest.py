"""Workload 1: batch ingest over HTTP (``POST /v1/batch``, 100 messages per request) through gunicorn,
from several client processes, with the identity mix of ``bench.stream``; plus the same batches
through the Python service (``identity.pipeline.ingest_batch``) in one process, without HTTP."""

from __future__ import annotations

import time

from bench.http import CpuMeter, closed_loop, served
from bench.report import Row, median, not_available
from bench.workloads._common import (
    CLIENTS,
    batches,
    counters,
    deal,
    delta,
    placeholder_rows,
    requires,
    streams,
)

MUTATES = True
BATCH = 100
T_ACCEPTED = "≥ 10,000 events/s"
T_PROCESSED = "≥ 5,000 events/s"


unavailable = requires(identity=True, routes=("/v1/batch",))
placeholder = placeholder_rows(
    "ingest /v1/batch",
    ("events/s accepted (HTTP 200)", "events/s", T_ACCEPTED),
    ("events/s fully processed", "events/s", T_PROCESSED),
    ("request p50", "ms", ""),
    ("request p99", "ms", ""),
)


def _wait_processed(
    ctx, before: dict, started: float, settle: float = 2.0, limit: float = 120.0, queued: bool = False
):
    """Poll until nothing is queued and the counts stop growing; (counts delta, seconds from start)."""
    last, last_change = None, time.time()
    deadline = time.time() + limit
    while time.time() < deadline:
        now = counters(ctx.conn)
        if now != last:
            last, last_change = now, time.time()
        elif time.time() - last_change >= settle and not (queued and _pending(ctx.conn)):
            break
        time.sleep(0.25)
    return delta(last, before), last_change - started


def _pending(conn) -> int:
    if not conn.execute("SELECT to_regclass('identity_inboundbatch') IS NOT NULL").fetchone()[0]:
        return 0
    return conn.execute("SELECT count(*) FROM identity_inboundbatch WHERE status = 'pending'").fetchone()[0]


def _http(ctx, mode: str) -> dict:
    """Send the stream through /v1/batch ``repeat`` times in one ingest mode; medians and details."""
    write_key = ctx.state["write_keys"]["web"]
    n = ctx.scale.ingest_messages
    accepted, processed, p50, p99, details = [], [], [], [], []
    with served(ctx, mode=mode, qcluster=2 if mode == "queued" else 0) as srv:
        for r in range(ctx.repeat):
            messages, mix = streams(ctx).ingest(n)
            requests = batches(messages, write_key, BATCH)
            if mode == "queued":
                # Tasks that earlier runs enqueued with no worker running (e.g. computed refreshes after
                # inline ingest) would sit in front of the drain task: start from an empty task queue.
                ctx.conn.execute("DELETE FROM django_q_ormq")
                # ... and from an empty inbox (an interrupted earlier run may have left batches behind).
                ctx.conn.execute("DELETE FROM identity_inboundbatch")
            before = counters(ctx.conn)
            with CpuMeter(srv, ctx.conn) as cpu:
                res = closed_loop(srv.port, deal(requests, CLIENTS))
                written, seconds = _wait_processed(
                    ctx,
                    before,
                    res.started,
                    limit=600 if mode == "queued" else 120,
                    queued=mode == "queued",
                )
            cpu_ms = cpu.per_request_ms(res.sent)
            seconds = max(seconds, res.seconds)
            accepted.append(res.units / res.seconds)
            processed.append(written["events"] / seconds)
            p50.append(res.p(50))
            p99.append(res.p(99))
            details.append(
                {
                    "cpu_per_request": cpu_ms,
                    "mix": mix,
                    "statuses": dict(res.statuses),
                    "written": written,
                    "errors": res.errors[:3],
                    "send_seconds": res.seconds,
                    "processed_seconds": seconds,
                }
            )
            ctx.log(
                f"  {mode} run {r + 1}: {accepted[-1]:,.0f} events/s accepted, "
                f"{processed[-1]:,.0f}/s processed, "
                f"p50 {p50[-1]:.1f} ms, p99 {p99[-1]:.1f} ms, {dict(res.statuses)}, written {written}"
            )
            ctx.log(f"  cpu per request of {BATCH} messages (web + db): {cpu_ms}")
            if res.errors:
                ctx.log(f"  errors: {res.errors[:2]}")
    return {
        "accepted": median(accepted),
        "processed": median(processed),
        "p50": median(p50),
        "p99": median(p99),
        "runs": details,
    }


def _rows(label: str, m: dict, copy) -> list[Row]:
    """The two rates (against raw COPY, with their targets), then the request p50 and p99."""
    rates = [
        (
            "accepted",
            f"events/s accepted (HTTP 200), {CLIENTS} clients × {BATCH}/request",
            T_ACCEPTED,
            10_000,
        ),
        ("processed", "events/s fully processed (events, profiles, identities written)", T_PROCESSED, 5_000),
    ]
    return [
        *(
            Row(
                label, figure, m[k], "events/s", copy, "R1 raw COPY rows/s", target=target, meets=m[k] >= goal
            )
            for k, figure, target, goal in rates
        ),
        Row(label, "request p50", m["p50"], "ms"),
        Row(label, "request p99", m["p99"], "ms"),
    ]


def run(ctx) -> list[Row]:
    copy = ctx.references.get("copy_rows_per_s")
    inline = _http(ctx, "inline")
    rows = _rows("ingest /v1/batch", inline, copy)
    queued = None
    try:
        import identity.queue  # noqa: F401

        queued = _http(ctx, "queued")
        rows += _rows("ingest /v1/batch, queued mode", queued, copy)
    except ImportError:
        rows += [
            not_available(
                "ingest /v1/batch, queued mode",
                "events/s accepted",
                "events/s",
                T_ACCEPTED,
                "identity has no queued mode",
            )
        ]
    service = _service(ctx)
    ctx.notes["ingest"] = {
        "inline": inline,
        "queued": queued,
        "service": service,
        "clients": CLIENTS,
        "batch": BATCH,
    }
    if service:
        rows.append(
            Row(
                "ingest service",
                f"ingest_batch() events/s, 1 process, no HTTP, {BATCH}/batch",
                service["events_per_s"],
                "events/s",
                copy,
                "R1 raw COPY rows/s",
            )
        )
    return rows


def _service(ctx) -> dict | None:
    """The pipeline alone: same mix, batches of 100, one process (this one)."""
    from django.db import close_old_connections

    from identity.pipeline import ingest_batch
    from people.models import Source

    source = Source.objects.get(pk=1)
    messages, _ = streams(ctx).ingest(max(2_000, ctx.scale.ingest_messages // 10))
    before = counters(ctx.conn)
    t0 = time.perf_counter()
    for k in range(0, len(messages), BATCH):
        ingest_batch(source=source, messages=messages[k : k + BATCH])
    seconds = time.perf_counter() - t0
    written = delta(counters(ctx.conn), before)
    close_old_connections()
    ctx.log(f"  service: {len(messages) / seconds:,.0f} messages/s in-process, written {written}")
    return {"events_per_s": len(messages) / seconds, "written": written, "messages": len(messages)}
