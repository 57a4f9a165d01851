"""The ingestion pipeline: a batch of tracking messages in, profiles, identities and events out.

``ingest_batch`` is the one entry point (the HTTP endpoints, the mParticle adapter and ``bench/``
call it); ``ingest_parts`` takes several requests of one source at once (the queued worker). Per
batch, whatever its size, a constant number of statements, in named steps:

1. ``prepare``: limits, shape and times without the database (``precheck``), then schema checks,
   attribute writes and identifiers; suppressed or filtered identifiers drop their messages;
2. ``resolve`` (in the transaction): dedupe, look up and lock, plan every message in memory;
3. ``write``: merges, new profiles and identities, events, traits, then ``counters`` and contacts;
4. ``quarantine``: rejected messages with their code and reason, in the same transaction;
5. ``stats`` (after the commit): the source's daily counters and the seen-but-undefined list.

Raw SQL lives in ``identity.pipeline.sql``. A bad message never fails its batch: it is rejected
alone (``identity.limits`` says what PostgreSQL and Python can hold).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

from django.db import IntegrityError, OperationalError, transaction
from django.utils import timezone

from identity.normalize import Message
from identity.pipeline.prepare import drop_filtered, precheck, prepare_messages
from identity.pipeline.quarantine import reject, rejection_body, store_rejects
from identity.pipeline.state import IngestResult, Part, Reject, Retry
from identity.pipeline.stats import record_stats
from identity.pipeline.write import write_batch
from identity.policy import Policy
from identity.schemas import SchemaChecker
from people.models import Source

__all__ = [
    "IngestResult",
    "Part",
    "Reject",
    "ingest_batch",
    "ingest_parts",
    "precheck",
    "record_stats",
    "rejection_body",
    "store_rejects",
]

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 6


def ingest_batch(
    *,
    source: Source,
    messages: list[Any],
    received_at: datetime | None = None,
    sent_at: datetime | None = None,
    context: dict | None = None,
    integrations: dict | None = None,
    path_type: str | None = None,
    body_bytes: int | None = None,
    require_user_or_anonymous_id: bool = True,
    dedupe_keys: list[str] = (),
) -> IngestResult:
    """Accept a batch of Segment-spec messages from ``source``.

    Bad messages are quarantined (``RejectedMessage``) and listed in the result; they never fail
    the batch. Duplicate messageIds are ignored; when one of ``dedupe_keys`` (e.g. mParticle's
    source_request_id) was seen before, the whole batch is a duplicate. Messages for unknown people
    from Update Only / Read Only sources are dropped and counted; messages carrying a suppressed or
    filtered identifier are dropped and counted.
    """
    part = Part(
        messages=messages,
        received_at=received_at or timezone.now(),
        sent_at=sent_at,
        context=context,
        integrations=integrations,
        path_type=path_type,
        body_bytes=body_bytes,
    )
    return ingest_parts(
        source=source,
        parts=[part],
        require_user_or_anonymous_id=require_user_or_anonymous_id,
        dedupe_keys=dedupe_keys,
    )


def ingest_parts(
    *,
    source: Source,
    parts: list[Part],
    require_user_or_anonymous_id: bool = True,
    dedupe_keys: list[str] = (),
) -> IngestResult:
    """``ingest_batch`` for several requests of one source at once (the queued worker's path).

    Message indexes run across the parts (part 2 starts after part 1's last index).
    """
    result = IngestResult()
    rejects: list[Reject] = []
    received_at = max(part.received_at for part in parts)

    parsed: list[Message] = []
    seen_ids: set[str] = set()
    offset = 0
    for part in parts:
        messages, rejected = precheck(
            part, require_user_or_anonymous_id=require_user_or_anonymous_id, offset=offset
        )
        offset += len(part.messages)
        for index, raw, rejection in rejected:
            reject(result, rejects, index, raw, rejection, part.received_at)
        for message in messages:
            if message.message_id in seen_ids:
                result.duplicates += 1
                continue
            seen_ids.add(message.message_id)
            parsed.append(message)
    parsed.sort(key=lambda m: m.index)

    checker = SchemaChecker.load(channel=source.channel)
    policy = Policy.for_batch()
    candidates = prepare_messages(parsed, checker, policy, result, rejects)
    in_batch_duplicates = result.duplicates
    if rejects and not candidates and not dedupe_keys:
        store_rejects(source, rejects)  # nothing to resolve: only quarantine
    elif candidates or rejects:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                with transaction.atomic():
                    # Suppressions and privacy tombstones are read inside the write transaction, on
                    # every attempt: an erasure that committed its tombstones before this point is
                    # never undone by a batch that was already on its way.
                    prepared = drop_filtered(candidates, policy, result)
                    write_batch(
                        source=source,
                        prepared=prepared,
                        rejects=rejects,
                        received_at=received_at,
                        policy=policy,
                        result=result,
                        dedupe_keys=dedupe_keys,
                        checker=checker,
                    )
                break
            except (Retry, IntegrityError, OperationalError) as exc:
                # A unique race (two batches creating the same person) or a changed identity:
                # everything rolled back; resolve again against what the other batch committed.
                if attempt == MAX_ATTEMPTS:
                    raise
                logger.info("ingest batch retry %s after %s", attempt, exc.__class__.__name__)
                result.accepted = result.dropped = result.suppressed = 0
                result.blocked.clear()
                result.duplicates = in_batch_duplicates
                result.person_ids.clear()
                result.outcomes.clear()
                time.sleep(0.01 * attempt)
    result.rejected.sort(key=lambda r: r["index"])
    record_stats(source=source, counts=result.counts(), received_at=received_at, undefined=checker.undefined)
    return result
