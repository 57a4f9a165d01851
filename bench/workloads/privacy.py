"""Workload 6: erasure of a person with many events, and other people's ingestion meanwhile.

Per run: a victim profile with ``VICTIM_EVENTS`` events (100k at every size: the erasure's cost is the
person's rows; the table around it is the size's), then

1. baseline: a fresh slice of the ingest stream through ``POST /v1/batch`` (gunicorn, several client
   processes), events/s;
2. the same amount again while the victim is erased in this process (``privacy.services``: tombstones,
   the registry's batched deletes, receipt), events/s and the erasure's seconds.

Reported: erasure seconds (target ≤ 10 s on M) and ingestion during erasure as a share of the
baseline (target ≥ 80%).
"""

from __future__ import annotations

import os
import threading
import time

from bench.http import drive, served
from bench.report import Row, median
from bench.workloads._common import CLIENTS, batches, placeholder_rows, requires, streams

MUTATES = True
VICTIM_EVENTS = int(os.environ.get("BENCH_PRIVACY_VICTIM_EVENTS", "100000"))
T_ERASE = "≤ 10 s (100k events, size M)"
T_SHARE = "≥ 80% of baseline"


unavailable = requires(imports=("privacy.services:request_process",), routes=("/v1/batch",))
placeholder = placeholder_rows(
    "privacy erasure", ("100k-event person", "s", T_ERASE), ("ingestion meanwhile", "%", T_SHARE)
)


def _victim(ctx, run: int) -> tuple[str, int]:
    """A profile with a user id and ``VICTIM_EVENTS`` events (one INSERT … SELECT)."""
    from identity.models import IdentifierType, Identity
    from people.models import Person

    user_id = f"bench-erase-{os.getpid()}-{run}-{int(time.time())}"
    person = Person.objects.create(first_name="Bench", last_name="Victim", email=f"{user_id}@example.org")
    Identity.objects.create(type=IdentifierType.objects.get(key="user_id"), value=user_id, person=person)
    ctx.conn.execute(
        "INSERT INTO people_event (person_id, type, name, timestamp, received_at, properties, context, "
        "message_id) SELECT %s, 'track', 'Page Viewed', now() - (g || ' minutes')::interval, now(), "
        "jsonb_build_object('n', g), '{}'::jsonb, %s || '-' || g FROM generate_series(1, %s) g",
        [person.pk, user_id, VICTIM_EVENTS],
    )
    return user_id, person.pk


def _requests(ctx, n: int) -> list[tuple[bytes, int]]:
    return batches(streams(ctx).ingest(n)[0], ctx.state["write_keys"]["web"])


def run(ctx) -> list[Row]:
    from django.db import connection

    from privacy import services

    n = max(2_000, min(ctx.scale.ingest_messages, 20_000))
    erase_s, share, base_rates, during_rates, alone_s = [], [], [], [], []
    with served(ctx) as srv:
        for r in range(ctx.repeat):
            # Erasure alone (no load), for reference.
            user_id, _ = _victim(ctx, 2 * r)
            request = services.request_create(
                kind="erasure", identities=[{"type": "user_id", "value": user_id}]
            )
            t0 = time.perf_counter()
            services.request_process(request_id=request.pk)
            alone_s.append(time.perf_counter() - t0)

            base = drive(ctx, srv, _requests(ctx, n), clients=CLIENTS)
            base_rates.append(n / base.seconds)

            user_id, _ = _victim(ctx, 2 * r + 1)
            request = services.request_create(
                kind="erasure", identities=[{"type": "user_id", "value": user_id}]
            )
            took: dict = {}

            def erase(pk=request.pk, took=took):
                try:
                    started = time.perf_counter()
                    services.request_process(request_id=pk)
                    took["s"] = time.perf_counter() - started
                finally:
                    connection.close()

            reqs = _requests(ctx, n)
            eraser = threading.Thread(target=erase)
            eraser.start()
            during = drive(ctx, srv, reqs, clients=CLIENTS)
            eraser.join()
            during_rates.append(n / during.seconds)
            erase_s.append(took.get("s", float("nan")))
            share.append(100 * during_rates[-1] / base_rates[-1])
            request.refresh_from_db()
            erased = (request.receipt or {}).get("counts", {}).get("people.Event")
            ctx.log(
                f"  run {r + 1}: erase alone {alone_s[-1]:.2f} s, under load {erase_s[-1]:.2f} s "
                f"({request.status}, {erased} events); "
                f"ingest {base_rates[-1]:,.0f} → {during_rates[-1]:,.0f} events/s ({share[-1]:.0f}%), "
                f"{dict(during.statuses)}"
            )
    ctx.notes["privacy"] = {"victim_events": VICTIM_EVENTS, "ingest_messages_per_phase": n}
    return [
        Row(
            "privacy erasure",
            f"{VICTIM_EVENTS:,}-event person, no other load",
            median(alone_s),
            "s",
        ),
        Row(
            "privacy erasure",
            f"{VICTIM_EVENTS:,}-event person, during ingestion",
            median(erase_s),
            "s",
            target=T_ERASE,
            meets=median(erase_s) <= 10,
        ),
        Row("privacy erasure", "ingestion baseline", median(base_rates), "events/s"),
        Row("privacy erasure", "ingestion during erasure", median(during_rates), "events/s"),
        Row(
            "privacy erasure",
            "ingestion during erasure / baseline",
            median(share),
            "%",
            target=T_SHARE,
            meets=median(share) >= 80,
        ),
    ]
