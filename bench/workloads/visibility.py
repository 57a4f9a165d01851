"""Workload 7: visibility lag. An event sent to ``POST /v1/track`` → what ``GET …/traits`` serves: the
computed attribute that counts it (the incremented count) and the membership trait of an audience it
makes the profile enter (``true``); the time from sending the event until the Profile API answers each,
sampled on ``PROBES`` profiles one after the other while ``/v1/batch`` is fed at
``BENCH_VISIBILITY_INGEST_RATE`` (default 1,000) events/s by a background thread with the ingest
workload's ``BENCH_CLIENTS`` (4) connections: two could not offer 1k events/s once a batch of 100
took over 200 ms. Inline ingestion, with the real-time refreshes (computed, then audiences) run by
2 django-q2 workers (``manage.py qcluster``) as in production.

The audience is created for each run (``bench_visibility_audience``: the probe event with this run's
``run`` property), so the probed profiles are never members before their probe."""

from __future__ import annotations

import json
import os
import threading
import time
from urllib.parse import quote

from bench import probes
from bench.http import Client, build_request, drive, served
from bench.report import Row
from bench.workloads._common import CLIENTS, batches, placeholders, requires, segment_post, streams

MUTATES = True
PROBES = int(os.environ.get("BENCH_VISIBILITY_PROBES", "20"))
INGEST_RATE = int(os.environ.get("BENCH_VISIBILITY_INGEST_RATE", "1000"))
TIMEOUT = 30.0
KEY = "bench_visibility_probes"
AUDIENCE = "bench_visibility_audience"
EVENT = "Bench Visibility Probe"
T_P95 = "p95 ≤ 5 s with 1k events/s ingested"
LABELS = {KEY: "visibility event → Profile API", AUDIENCE: "visibility event → audience trait"}


unavailable = requires(
    imports=("computed.services:activate_many",),
    routes=("/v1/spaces/bench/collections/users/profiles/user_id:x/traits",),
)


def placeholder(reason: str) -> list[Row]:
    return [
        row
        for label in LABELS.values()
        for row in placeholders(label, reason, ("p50", "s", ""), ("p95", "s", T_P95))
    ]


def _attribute() -> None:
    from computed.models import ComputedAttribute
    from computed.services import activate_many, computed_attribute_create

    attribute = ComputedAttribute.objects.filter(key=KEY).first()
    if attribute is not None and attribute.state == ComputedAttribute.State.ACTIVE:
        return
    if attribute is None:  # else a leftover the run switched off (runner.disable_leftovers)
        definition = {"function": "count", "event": EVENT, "period": {"type": "lifetime"}}
        attribute = computed_attribute_create(
            key=KEY, name="bench visibility", kind="aggregate", definition=definition
        )
    activate_many([attribute])


def _audience(run: str) -> bool:
    """A fresh active audience of the profiles that sent this run's probe event (none yet)."""
    try:
        from audiences.models import Audience, AudienceMembership, MembershipHistory, RetiredAudienceKey
        from audiences.services import activate, audience_create
    except ImportError:
        return False
    old = list(Audience.objects.filter(key=AUDIENCE).values_list("pk", flat=True))
    AudienceMembership.objects.filter(audience_id__in=old).delete()
    MembershipHistory.objects.filter(audience_id__in=old).delete()
    Audience.objects.filter(pk__in=old).delete()
    RetiredAudienceKey.objects.filter(key=AUDIENCE).delete()
    condition = {"event": EVENT, "filters": [{"property": "run", "op": "equals", "value": run}]}
    activate(audience_create(key=AUDIENCE, name="bench visibility", definition={"condition": condition}))
    return True


def _traits(client: Client, path: str, token: str) -> dict:
    status, body = client.request(build_request("GET", path, headers={"Authorization": f"Bearer {token}"}))
    return json.loads(body)["traits"] if status == 200 else {}


def _quantile(values: list[float], p: float) -> float | None:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else None


def run(ctx) -> list[Row]:
    from bench import adapters
    from identity.services import access_token_create

    _attribute()
    run_id = f"{time.time():.0f}"
    keys = [KEY, AUDIENCE] if _audience(run_id) else [KEY]
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
    lags: dict[str, list[float]] = {k: [] for k in keys}
    timeouts = dict.fromkeys(keys, 0)
    sends: dict[int, int] = {}  # the probes' /v1/track statuses
    sent_at: list[float] = []  # when each probe was sent, on the load's clock (time.time)
    with served(ctx, qcluster=2) as srv:
        load: dict = {}
        thread = threading.Thread(
            target=lambda: load.update(
                res=drive(ctx, srv, requests, clients=CLIENTS, rate=INGEST_RATE / 100, seconds=seconds)
            )
        )
        # Events written meanwhile: rows past today's last id (an index range; counting all events
        # took seconds at M, and was timed with the load), over the load's own duration.
        last_id = ctx.conn.execute("SELECT coalesce(max(id), 0) FROM people_event").fetchone()[0]
        thread.start()
        time.sleep(3.0)  # ingestion under way
        client = Client(srv.port)
        for n, (_, user_id) in enumerate(sample):
            path = f"/v1/spaces/bench/collections/users/profiles/user_id:{quote(user_id, safe='@.')}/traits"
            path += f"?include={','.join(keys)}"
            seen = _traits(client, path, token).get(KEY) or 0
            event = {
                "type": "track",
                "userId": user_id,
                "event": EVENT,
                "properties": {"run": run_id},
                "messageId": f"vis-{time.time()}-{n}",
            }
            sent = time.perf_counter()
            sent_at.append(time.time())  # the load's clock
            status, _ = client.request(segment_post("/v1/track", event, write_key))
            sends[status] = sends.get(status, 0) + 1
            waiting = set(keys) if status == 200 else set()
            while waiting and time.perf_counter() - sent < TIMEOUT:
                traits = _traits(client, path, token)
                for key in list(waiting):
                    if (key == KEY and (traits.get(KEY) or 0) > seen) or (
                        key == AUDIENCE and traits.get(key) is True
                    ):
                        lags[key].append(time.perf_counter() - sent)
                        waiting.discard(key)
                if waiting:
                    time.sleep(0.05)
            for key in waiting if status == 200 else keys:
                timeouts[key] += 1
        client.close()
        thread.join()
    ingest = load.get("res")
    written = ctx.conn.execute("SELECT count(*) FROM people_event WHERE id > %s", [last_id]).fetchone()[0]
    ingested = written / ingest.seconds if ingest else 0.0
    # A probe sent after the load stopped would be measured on an idle server.
    unloaded = sum(1 for t in sent_at if not ingest or t > ingest.finished)
    for key in keys:
        ctx.log(
            f"  {key}: {len(lags[key])} probes seen, {timeouts[key]} not within {TIMEOUT:.0f} s; lags "
            f"{', '.join(f'{x:.2f}' for x in sorted(lags[key]))} s"
        )
    ctx.log(
        f"  probes' /v1/track statuses {sends}; ingestion {dict(ingest.statuses) if ingest else '?'}, "
        f"{ingested:,.0f} events/s written over the load's {ingest.seconds if ingest else 0:.1f} s; "
        f"{unloaded} probe(s) sent after the load ended"
    )
    rows = []
    for key in keys:
        p95 = _quantile(lags[key], 95) if not timeouts[key] else None
        rows += [
            Row(
                LABELS[key],
                f"p50 over {PROBES} probes, {INGEST_RATE} events/s offered",
                _quantile(lags[key], 50),
                "s",
            ),
            Row(
                LABELS[key],
                f"p95 ({timeouts[key]} probes not visible within {TIMEOUT:.0f} s)",
                p95 if p95 is not None else TIMEOUT,
                "s",
                target=T_P95,
                meets=p95 is not None and p95 <= 5 and ingested >= 0.9 * INGEST_RATE and not unloaded,
            ),
        ]
    rows.append(Row(LABELS[KEY], "events/s ingested meanwhile (inline)", ingested, "events/s"))
    return rows
