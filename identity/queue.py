"""The durable fast accept path (``INGEST_MODE = "queued"``) and the worker that drains it.

Accept (in the request): the checks that need no database (``pipeline.precheck``: limits, size,
shape, types, times, userId/anonymousId), then one transaction: the raw valid messages as one
``InboundBatch`` row and the request's rejections in the quarantine; after its commit, a django-q2
task. The client gets ``200 {"success": true}`` once that commit is durable.

Drain (``identity.tasks.process_inbound``): claim pending rows (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so several workers share the queue), group them by source, run ``ingest_parts`` on up to
``INGEST_QUEUE_BATCH_MESSAGES`` messages at once and delete the rows in the same transaction.
An acknowledged valid message is never lost: a failing group is retried row by row, and a row that
still fails message by message, each in its own savepoint. A message that fails alone (a poison
message) goes to the quarantine with code ``processing_failed`` and its error; its neighbours are
stored. Only a database that cannot be reached (``OperationalError``/``InterfaceError``: nothing is
wrong with the data) leaves the row *failed* with its error, visible in the admin (action *Retry*).
A replay is harmless: messageIds are deduplicated.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from identity.limits import check_value
from identity.models import InboundBatch
from identity.pipeline import (
    Part,
    Reject,
    ingest_parts,
    precheck,
    record_stats,
    rejection_body,
    store_rejects,
)
from people.models import Source

logger = logging.getLogger(__name__)

TASK = "identity.tasks.process_inbound"
# One enqueued drain task per web process at most this often: a running drain keeps draining until
# the queue stays empty for LINGER seconds (> THROTTLE), so a throttled request is always picked up;
# the minute schedule "identity: process inbound batches" is the safety net.
THROTTLE = 0.5
LINGER = 1.0
_last_enqueue = 0.0
_lock = threading.Lock()


def ingest_mode() -> str:
    return getattr(settings, "INGEST_MODE", "inline")


def _sync() -> bool:
    from django_q.conf import Conf

    return bool(Conf.SYNC)


def accept(
    *,
    source: Source,
    messages: list[Any],
    received_at: datetime,
    sent_at: datetime | None = None,
    context: dict | None = None,
    integrations: dict | None = None,
    path_type: str | None = None,
    body_bytes: int | None = None,
) -> list[dict]:
    """Store a request's messages for processing; returns the rejections found without a database.

    Raises ``Rejection`` when a batch-level field (context, integrations) is out of limits: the
    body is unusable as a whole and nothing is stored.
    """
    if context:
        check_value(context, "The batch context")
    if integrations:
        check_value(integrations, "The batch integrations")
    part = Part(messages, received_at, sent_at, context, integrations, path_type, body_bytes)
    valid, rejected = precheck(part)
    valid_at = {message.index for message in valid}
    keep = [raw for index, raw in enumerate(messages) if index in valid_at]
    with transaction.atomic():
        store_rejects(
            source,
            [
                Reject(index, raw, rejection.code, rejection.reason, received_at)
                for index, raw, rejection in rejected
            ],
        )
        if keep:
            InboundBatch.objects.create(
                source=source,
                received_at=received_at,
                sent_at=sent_at,
                context=context,
                integrations=integrations,
                path_type=path_type or "",
                body_bytes=body_bytes or 0,
                messages=keep,
                count=len(keep),
            )
            transaction.on_commit(_kick)
    if rejected:
        record_stats(source=source, counts={"rejected": len(rejected)}, received_at=received_at)
    return [
        rejection_body(index, raw, rejection.code, rejection.reason) for index, raw, rejection in rejected
    ]


def _kick() -> None:
    """Enqueue a drain task (throttled per process; always in sync mode, where it runs inline)."""
    global _last_enqueue
    from django_q.tasks import async_task

    if not _sync():
        with _lock:
            now = time.monotonic()
            if now - _last_enqueue < THROTTLE:
                return
            _last_enqueue = now
    # INGEST_DRAIN_CLUSTER: the drain's own django-q2 queue, so computed refreshes and jobs on the
    # default cluster never delay it (docs/ingestion.md, "A queue of its own for the drain").
    drain_cluster = getattr(settings, "INGEST_DRAIN_CLUSTER", "") or None
    async_task(TASK, task_name="identity: process inbound batches", save=False, cluster=drain_cluster)


# --- the worker ---------------------------------------------------------------------------------


def process_inbound(*, max_seconds: float = 30.0, linger: float | None = None) -> int:
    """Drain pending batches until the queue stays empty for ``linger`` seconds (or time is up).

    Returns the number of messages processed. Safe to run in several workers at once.
    """
    linger = (0.0 if _sync() else LINGER) if linger is None else linger
    budget = int(getattr(settings, "INGEST_QUEUE_BATCH_MESSAGES", 1000))
    deadline = time.monotonic() + max_seconds
    done = 0
    idle_since = None
    while time.monotonic() < deadline:
        n = drain_once(max_messages=budget)
        done += n
        if n:
            idle_since = None
            continue
        if idle_since is None:
            idle_since = time.monotonic()
        if time.monotonic() - idle_since >= linger:
            break
        time.sleep(0.05)
    return done


def drain_once(*, max_messages: int = 1000, ids: list[int] | None = None) -> int:
    """Claim pending rows (oldest first, up to ``max_messages`` messages), process and delete them."""
    with transaction.atomic():
        pending = InboundBatch.objects.filter(status=InboundBatch.Status.PENDING)
        if ids is not None:
            pending = pending.filter(pk__in=ids)
        heads = list(pending.order_by("pk").values_list("pk", "count")[:200])
        chosen, total = [], 0
        for pk, count in heads:
            if chosen and total + count > max_messages:
                break
            chosen.append(pk)
            total += count
        if not chosen:
            return 0
        # Lock what we chose; rows another worker holds are skipped (it is processing them).
        claim = pending.filter(pk__in=chosen).order_by("pk")
        if connection.features.has_select_for_update_skip_locked:
            claim = claim.select_for_update(skip_locked=True)
        rows = list(claim)
        if not rows:
            return 0
        total = sum(row.count for row in rows)
        sources = Source.objects.select_related("channel").in_bulk({row.source_id for row in rows})
        for row in rows:
            row.source = sources[row.source_id]
        by_source: dict[int, list[InboundBatch]] = {}
        for row in rows:
            by_source.setdefault(row.source_id, []).append(row)
        succeeded: list[int] = []
        failed: dict[int, str] = {}
        for group in by_source.values():
            try:
                _process(group)
                succeeded += [row.pk for row in group]
                continue
            except Exception:
                logger.warning("inbound batches %s failed together; isolating", [row.pk for row in group])
            for row in group:  # isolate the failing request, then the failing message
                try:
                    if len(group) == 1 or not _succeeds(row):
                        _process_one_by_one(row)
                    succeeded.append(row.pk)
                except _UNREACHABLE:
                    failed[row.pk] = traceback.format_exc()[-4000:]
        if succeeded:
            InboundBatch.objects.filter(pk__in=succeeded).delete()
        now = timezone.now()
        for pk, error in failed.items():
            logger.error("inbound batch %s failed: %s", pk, error.strip().splitlines()[-1])
            InboundBatch.objects.filter(pk=pk).update(
                status=InboundBatch.Status.FAILED, error=error, failed_at=now, attempts=_attempts(rows, pk)
            )
    return total


def _attempts(rows: list[InboundBatch], pk: int) -> int:
    return next(row.attempts for row in rows if row.pk == pk) + 1


def _part(row: InboundBatch, messages: list) -> Part:
    """``messages`` of the stored batch ``row``, with the request details they arrived with."""
    return Part(
        messages=messages,
        received_at=row.received_at,
        sent_at=row.sent_at,
        context=row.context,
        integrations=row.integrations,
        path_type=row.path_type or None,
        body_bytes=row.body_bytes or None,
    )


def _process(group: list[InboundBatch]) -> None:
    parts = [_part(row, row.messages) for row in group]
    with transaction.atomic():
        ingest_parts(source=group[0].source, parts=parts)


# Errors that say nothing about the data: the row waits for a retry instead of its messages being quarantined.
_UNREACHABLE = (OperationalError, InterfaceError)


def _succeeds(row: InboundBatch) -> bool:
    try:
        _process([row])
    except _UNREACHABLE:
        raise
    except Exception:
        logger.warning("inbound batch %s failed alone; processing its messages one by one", row.pk)
        return False
    return True


def _process_one_by_one(row: InboundBatch) -> None:
    """Each message of ``row`` alone, in its own savepoint; one that fails is quarantined with its error."""
    poison: list[Reject] = []
    for index, raw in enumerate(row.messages):
        part = _part(row, [raw])
        try:
            with transaction.atomic():
                ingest_parts(source=row.source, parts=[part])
        except _UNREACHABLE:
            raise
        except Exception as exc:
            logger.exception("inbound batch %s: message %s failed alone; quarantined", row.pk, index)
            reason = f"The message could not be processed: {exc.__class__.__name__}: {exc}"[:2000]
            poison.append(Reject(index, raw, "processing_failed", reason, row.received_at))
    if poison:
        store_rejects(row.source, poison)
        record_stats(source=row.source, counts={"rejected": len(poison)}, received_at=row.received_at)


def retry(batches) -> int:
    """Put failed batches back in the queue (admin action) and kick a drain task."""
    n = InboundBatch.objects.filter(pk__in=[b.pk for b in batches]).update(
        status=InboundBatch.Status.PENDING, failed_at=None
    )
    if n:
        transaction.on_commit(_kick)
    return n
