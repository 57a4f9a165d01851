"""Workload 7: visibility lag. An event sent to ``POST /v1/track`` → the computed attribute that counts
it, as ``GET …/traits`` serves it: the time from sending the event until the Profile API answers the
incremented count, sampled on ``PROBES`` profiles one after the other while ``/v1/batch`` is fed at
``BENCH_VISIBILITY_INGEST_RATE`` (default 1,000) events/s. Inline ingestion, with the computed refresh
run by 2 django-q2 workers (``manage.py qcluster``) as in production."""

from __future__ import annotations

import json
import os
import threading
import time
from urllib.parse import quote

from bench import probes
from bench.http import Client, build_request, drive, served
from bench.report import Row
from bench.workloads._common import batches, counters, delta, missing, placeholders, segment_post, streams

MUTATES = True
PROBES = int(os.environ.get("BENCH_VISIBILITY_PROBES", "20"))
INGEST_RATE = int(os.environ.get("BENCH_VISIBILITY_INGEST_RATE", "1000"))
TIMEOUT = 30.0
KEY = "bench_visibility_probes"
EVENT = "Bench Visibility Probe"
T_P95 = "p95 ≤ 5 s with 1k events/s ingested"


def unavailable(ctx) -> str | None:
    traits = "/v1/spaces/bench/collections/users/profiles/user_id:x/traits"
    return missing(imports=("computed.services:activate_many",), routes=(traits,))


def placeholder(reason: str) -> list[Row]:
    return placeholders("visibility event → Profile API", reason, ("p50", "s", ""), ("p95", "s", T_P95))


def _attribute() -> None:
    from computed.models import ComputedAttribute
    from computed.services import activate_many, computed_attribute_create

    if ComputedAttribute.objects.filter(key=KEY).exists():
        return
    definition = {"function": "count", "event": EVENT, "period": {"type": "lifetime"}}
    attribute = computed_attribute_create(
        key=KEY, name="bench visibility", kind="aggregate", definition=definition
    )
    activate_many([attribute])


def _count(client: Client, path: str, token: str) -> int | None:
    status, body = client.request(build_request("GET", path, headers={"Authorization": f"Bearer {token}"}))
    if status != 200:
        return None
    return json.loads(body)["traits"].get(KEY)


def run(ctx) -> list[Row]:
    from bench import adapters
    from identity.services import access_token_create

    _attribute()
    token = access_token_create(name="bench visibility").raw
    write_key = ctx.state["write_keys"]["web"]
    sample = [
        (t, v)
        for t, v, _ in probes.lookup_sample(ctx.spec.seed, ctx.state["persons"], 200, salt="visibility")
        if adapters.IDENTITY_TYPE_KEYS[t] == "user_id"
    ][:PROBES]
    seconds = PROBES * 2.0 + 10
    messages, _ = streams(ctx).ingest(int(seconds * INGEST_RATE))
    requests = batches(messages, write_key)
    lags: list[float] = []
    timeouts = 0
    with served(ctx, qcluster=2) as srv:
        load: dict = {}
        thread = threading.Thread(
            target=lambda: load.update(
                res=drive(ctx, srv, requests, clients=2, rate=INGEST_RATE / 100, seconds=seconds)
            )
        )
        before, started = counters(ctx.conn), time.perf_counter()
        thread.start()
        time.sleep(3.0)  # ingestion under way
        client = Client(srv.port)
        for n, (_, user_id) in enumerate(sample):
            path = f"/v1/spaces/bench/collections/users/profiles/user_id:{quote(user_id, safe='@.')}/traits"
            path += f"?class=computed_trait&include={KEY}"
            seen = _count(client, path, token) or 0
            event = {
                "type": "track",
                "userId": user_id,
                "event": EVENT,
                "messageId": f"vis-{time.time()}-{n}",
            }
            sent = time.perf_counter()
            status, _ = client.request(segment_post("/v1/track", event, write_key))
            while status == 200 and time.perf_counter() - sent < TIMEOUT:
                if (_count(client, path, token) or 0) > seen:
                    lags.append(time.perf_counter() - sent)
                    break
                time.sleep(0.05)
            else:
                timeouts += 1
        client.close()
        thread.join()
        ingested = delta(counters(ctx.conn), before)["events"] / (time.perf_counter() - started)
    ingest = load.get("res")
    ctx.log(
        f"  {len(lags)} probes seen, {timeouts} not within {TIMEOUT:.0f} s; lags "
        f"{', '.join(f'{x:.2f}' for x in sorted(lags))} s; "
        f"ingestion {dict(ingest.statuses) if ingest else '?'}, {ingested:,.0f} events/s written"
    )
    lags.sort()

    def q(p: float) -> float | None:
        return lags[min(len(lags) - 1, int(round(p / 100 * (len(lags) - 1))))] if lags else None

    p95 = q(95) if not timeouts else None
    return [
        Row(
            "visibility event → Profile API",
            f"p50 over {PROBES} probes, {INGEST_RATE} events/s offered",
            q(50),
            "s",
        ),
        Row(
            "visibility event → Profile API",
            f"p95 ({timeouts} probes not visible within {TIMEOUT:.0f} s)",
            p95 if p95 is not None else TIMEOUT,
            "s",
            target=T_P95,
            meets=p95 is not None and p95 <= 5 and ingested >= 0.9 * INGEST_RATE,
        ),
        Row("visibility event → Profile API", "events/s ingested meanwhile (inline)", ingested, "events/s"),
    ]
