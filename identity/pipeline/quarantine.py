"""The quarantine step: rejected messages, each with its code and reason, as ``RejectedMessage`` rows.

Whatever a client sent can be stored here: text the database refuses and numbers JSON refuses are
replaced, deep parts cut and large payloads kept as a preview (``identity.limits.storable``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings

from identity.limits import clean_text, storable
from identity.normalize import Rejection
from identity.pipeline.state import IngestResult, Reject
from people.models import RejectedMessage, Source


def rejection_body(index: int, raw: Any, code: str, reason: str) -> dict:
    """One entry of a response's ``rejected`` list."""
    message_id = raw.get("messageId") if isinstance(raw, dict) else None
    return {
        "index": index,
        "messageId": clean_text(message_id, 128) if isinstance(message_id, str) else None,
        "code": code,
        "message": reason,
    }


def reject(
    result: IngestResult,
    rejects: list[Reject],
    index: int,
    raw: Any,
    rejection: Rejection,
    received_at: datetime,
) -> None:
    """Note a rejection in the result (response body) and for the quarantine."""
    result.rejected.append(rejection_body(index, raw, rejection.code, rejection.reason))
    rejects.append(Reject(index, raw, rejection.code, rejection.reason, received_at))


def quarantine_row(source: Source | None, item: Reject) -> RejectedMessage:
    raw = item.raw
    return RejectedMessage(
        source=source,
        received_at=item.received_at,
        reason_code=item.code[:64],
        reason=clean_text(item.reason, 10_000),
        message_id=clean_text(raw.get("messageId"), 128) if isinstance(raw, dict) else "",
        message_type=clean_text(raw.get("type"), 32) if isinstance(raw, dict) else "",
        payload=storable(raw, max_bytes=settings.INGEST_MAX_MESSAGE_BYTES),
    )


def store_rejects(source: Source | None, rejects: list[Reject]) -> None:
    """One INSERT for the batch's rejected messages."""
    if rejects:
        RejectedMessage.objects.bulk_create([quarantine_row(source, item) for item in rejects])
